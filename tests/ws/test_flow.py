"""Flow control and timing: slow readers, floods, receive timeouts, one reader at a time."""

from __future__ import annotations

import asyncio
import os
import time
import tracemalloc
from typing import Any

import pytest
from websockets.asyncio.client import connect

from tidewire import web

from .rawclient import BINARY, TEXT, RawWS, frame
from .util import Probe, scripted_handler

MESSAGE = 64 * 1024
COUNT = 200  # 12.5 MiB in all: far more than the kernel buffers hold


async def wait_until_stalled(progress: Any, *, quiet: float = 0.3, limit: float = 10.0) -> int:
    """Wait until ``progress()`` stops changing for ``quiet`` seconds; return its value."""
    deadline = time.monotonic() + limit
    last = progress()
    last_change = time.monotonic()
    while time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        now = progress()
        if now != last:
            last, last_change = now, time.monotonic()
        elif time.monotonic() - last_change >= quiet:
            return int(now)
    raise AssertionError(f"never stalled (progress {last})")


async def test_slow_reader_blocks_the_sender_and_bounds_the_buffer(serve) -> None:
    state: dict[str, Any] = {"sent": 0, "max_buffer": 0, "paused_seen": False}
    payload = os.urandom(MESSAGE)

    async def script(ws: web.WebSocketResponse) -> None:
        for i in range(COUNT):
            await ws.send_bytes(i.to_bytes(4, "big") + payload[4:])
            state["sent"] = i + 1
            state["max_buffer"] = max(state["max_buffer"], ws.write_buffer_size)
            state["paused_seen"] = state["paused_seen"] or ws.writing_paused
        await ws.receive(timeout=10)

    probe = Probe()
    srv = await serve(scripted_handler(probe, script))
    client = await RawWS.connect(srv.host, srv.port, rcvbuf=64 * 1024)
    # The client reads nothing for now.
    stalled_at = await wait_until_stalled(lambda: state["sent"])
    assert stalled_at < COUNT, "every send completed although nobody read"
    assert state["max_buffer"] < 384 * 1024, f"write buffer grew to {state['max_buffer']}"
    assert probe.error is None
    # Now read everything, in order and intact.
    for i in range(COUNT):
        received = await client.recv(timeout=10)
        assert received is not None
        assert received.opcode == BINARY
        assert received.payload[:4] == i.to_bytes(4, "big")
        assert received.payload[4:] == payload[4:]
    assert state["sent"] == COUNT
    assert state["max_buffer"] < 384 * 1024, f"write buffer grew to {state['max_buffer']}"
    await client.aclose()


async def test_flooding_client_is_throttled_when_the_handler_does_not_read(serve) -> None:
    max_queue = 256 * 1024
    go = asyncio.Event()
    counted: dict[str, int] = {"received": 0}

    async def script(ws: web.WebSocketResponse) -> None:
        await go.wait()
        while True:
            message = await ws.receive(timeout=10)
            if message.type is not web.WSMsgType.BINARY:
                break
            counted["received"] += 1

    probe = Probe()
    srv = await serve(scripted_handler(probe, script, max_queue=max_queue))
    client = await RawWS.connect(srv.host, srv.port)
    await probe.prepared.wait()
    assert probe.request is not None
    server_transport = probe.request.transport
    assert server_transport is not None

    # 64 frames of 1 KiB per write; at most 32 MiB in all.
    chunk = b"".join(frame(BINARY, os.urandom(1024)) for _ in range(64))
    written = 0
    for _ in range(512):
        client.writer.write(chunk)
        written += 64  # even if drain stalls, these frames will be delivered later
        try:
            await asyncio.wait_for(client.writer.drain(), 0.3)
        except asyncio.TimeoutError:
            break
    else:
        raise AssertionError("the server read 32 MiB that its handler never asked for")
    # The server stopped reading from the socket (the server runs in this process).
    assert not server_transport.is_reading()
    assert probe.request.transport is server_transport
    # Let the handler read: every frame arrives, none is lost.
    go.set()
    deadline = time.monotonic() + 10
    while counted["received"] < written and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert counted["received"] == written
    client.send(frame(TEXT, b"end"))
    await probe.finished(timeout=5)
    await client.aclose()


async def test_flood_memory_is_bounded(serve) -> None:

    max_queue = 256 * 1024
    go = asyncio.Event()

    async def script(ws: web.WebSocketResponse) -> None:
        await go.wait()

    probe = Probe()
    srv = await serve(scripted_handler(probe, script, max_queue=max_queue))
    client = await RawWS.connect(srv.host, srv.port)
    await probe.prepared.wait()
    chunk = b"".join(frame(BINARY, os.urandom(1024)) for _ in range(64))
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        for _ in range(512):  # at most 32 MiB
            client.writer.write(chunk)
            try:
                await asyncio.wait_for(client.writer.drain(), 0.3)
            except asyncio.TimeoutError:
                break
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    go.set()
    # The client's own write buffer is traced as well: it holds at most one chunk past
    # its high-water mark. The server must hold about max_queue plus one read.
    assert peak < 4 * 1024 * 1024, f"peak {peak} bytes while the handler did not read"
    await client.aclose()


async def test_receive_timeout_option_raises_timeout_error(serve) -> None:
    outcome: list[Any] = []

    async def script(ws: web.WebSocketResponse) -> None:
        started = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):
            await ws.receive()
        outcome.append(time.monotonic() - started)
        # The connection is still usable afterwards.
        outcome.append(await ws.receive_str(timeout=3))

    probe = Probe()
    srv = await serve(scripted_handler(probe, script, receive_timeout=0.2))
    async with connect(srv.ws_url(), proxy=None) as ws:
        await asyncio.sleep(0.4)
        await ws.send("later")
    await probe.finished()
    assert probe.error is None
    assert 0.15 <= outcome[0] < 1.0
    assert outcome[1] == "later"


async def test_receive_timeout_argument(serve) -> None:
    outcome: list[Any] = []

    async def script(ws: web.WebSocketResponse) -> None:
        for call in (
            lambda: ws.receive(timeout=0.1),
            lambda: ws.receive_str(timeout=0.1),
            lambda: ws.receive_bytes(timeout=0.1),
            lambda: ws.receive_json(timeout=0.1),
        ):
            try:
                await call()
            except asyncio.TimeoutError:
                outcome.append("timeout")
        outcome.append(await ws.receive_json(timeout=3))

    probe = Probe()
    srv = await serve(scripted_handler(probe, script))
    async with connect(srv.ws_url(), proxy=None) as ws:
        await asyncio.sleep(0.6)
        await ws.send('{"ok": true}')
        await asyncio.wait_for(probe.done.wait(), 3)
    assert outcome == ["timeout"] * 4 + [{"ok": True}]


async def test_concurrent_receive_raises_runtime_error(serve) -> None:
    outcome: list[Any] = []

    async def script(ws: web.WebSocketResponse) -> None:
        first = asyncio.create_task(ws.receive(timeout=3))
        await asyncio.sleep(0.05)
        with pytest.raises(RuntimeError):
            await ws.receive(timeout=3)
        outcome.append("second refused")
        message = await first
        outcome.append(message.data)

    probe = Probe()
    srv = await serve(scripted_handler(probe, script))
    async with connect(srv.ws_url(), proxy=None) as ws:
        await asyncio.sleep(0.2)
        await ws.send("for the first reader")
        await asyncio.wait_for(probe.done.wait(), 3)
    assert probe.error is None
    assert outcome == ["second refused", "for the first reader"]


async def test_close_from_another_task_wakes_the_reader(serve) -> None:
    outcome: list[Any] = []

    async def script(ws: web.WebSocketResponse) -> None:
        async def closer() -> None:
            await asyncio.sleep(0.1)
            outcome.append(await ws.close(code=4002))

        task = asyncio.create_task(closer())
        message = await ws.receive(timeout=3)
        outcome.append(message.type)
        await task

    probe = Probe()
    srv = await serve(scripted_handler(probe, script))
    async with connect(srv.ws_url(), proxy=None) as ws:
        await asyncio.wait_for(probe.done.wait(), 3)
        assert ws.close_code == 4002
    assert outcome[0] in (web.WSMsgType.CLOSING, web.WSMsgType.CLOSED)
    assert outcome[1] is True
