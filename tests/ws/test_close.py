"""Every way a WebSocket ends: by the client, by the handler, by the server, by silence."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from typing import Any

import aiohttp
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tidewire import web

from .rawclient import CLOSE, PING, TEXT, RawWS, close_payload, frame
from .util import Probe, echo_handler, scripted_handler


async def test_client_close_ends_the_handler_loop_with_its_code(serve) -> None:
    probe = Probe()
    srv = await serve(echo_handler(probe))
    async with connect(srv.ws_url(), proxy=None) as ws:
        await ws.send("hi")
        assert await ws.recv() == "hi"
        await ws.close(code=4001, reason="done")
        assert ws.close_code == 4001  # the server echoed our code
    await probe.finished()
    assert probe.close_code == 4001
    assert probe.exception is None
    assert probe.error is None
    assert [m.data for m in probe.messages] == ["hi"]
    assert probe.ws is not None
    assert probe.ws.closed


async def test_handler_receives_the_close_message(serve) -> None:
    seen: list[web.WSMessage] = []

    async def script(ws: web.WebSocketResponse) -> None:
        seen.append(await ws.receive(timeout=3))
        seen.append(await ws.receive(timeout=3))

    probe = Probe()
    srv = await serve(scripted_handler(probe, script))
    async with aiohttp.ClientSession() as session, session.ws_connect(srv.ws_url()) as ws:
        await ws.close(code=1000, message=b"see you")
        assert ws.close_code == 1000
    await probe.finished()
    assert seen[0].type is web.WSMsgType.CLOSE
    assert seen[0].data == 1000
    assert seen[0].extra == "see you"
    assert seen[1].type is web.WSMsgType.CLOSED


async def test_server_close_reaches_websockets_client(serve) -> None:
    results: list[Any] = []

    async def script(ws: web.WebSocketResponse) -> None:
        await ws.receive(timeout=3)  # "go"
        results.append(await ws.close(code=4000, message=b"bye"))
        results.append(ws.close_code)
        results.append(ws.closed)
        results.append(await ws.close())  # already closed

    probe = Probe()
    srv = await serve(scripted_handler(probe, script))
    async with connect(srv.ws_url(), proxy=None) as ws:
        await ws.send("go")
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 3)
        assert ws.close_code == 4000
        assert ws.close_reason == "bye"
    await probe.finished()
    assert results == [True, 4000, True, False]


async def test_server_close_reaches_aiohttp_client(serve) -> None:
    async def script(ws: web.WebSocketResponse) -> None:
        await ws.close(code=4000, message="bye")

    probe = Probe()
    srv = await serve(scripted_handler(probe, script))
    async with aiohttp.ClientSession() as session, session.ws_connect(srv.ws_url()) as ws:
        message = await ws.receive(timeout=3)
        assert message.type is aiohttp.WSMsgType.CLOSE
        assert message.data == 4000
        assert message.extra == "bye"
    await probe.finished()
    # aiohttp answers any Close with 1000, and the close code is the one in the first
    # Close received (RFC 6455 section 7.1.5): here the client's answer.
    assert probe.close_code == 1000


async def test_server_close_on_the_wire(serve) -> None:
    async def script(ws: web.WebSocketResponse) -> None:
        await ws.close(code=4000, message=b"bye")

    probe = Probe()
    srv = await serve(scripted_handler(probe, script))
    client = await RawWS.connect(srv.host, srv.port)
    frames, closing = await client.recv_until_close()
    assert frames == []
    assert closing is not None
    assert (closing.close_code, closing.close_reason) == (4000, b"bye")
    assert not closing.masked
    client.send(frame(CLOSE, close_payload(4000)))
    assert await client.at_eof()
    await probe.finished()
    assert probe.close_code == 4000
    await client.aclose()


async def test_server_close_times_out_when_the_client_never_answers(serve) -> None:
    timing: list[float] = []

    async def script(ws: web.WebSocketResponse) -> None:
        started = time.monotonic()
        await ws.close(code=1000)
        timing.append(time.monotonic() - started)

    probe = Probe()
    srv = await serve(scripted_handler(probe, script, close_timeout=0.3))
    client = await RawWS.connect(srv.host, srv.port)
    _frames, closing = await client.recv_until_close()
    assert closing is not None
    assert closing.close_code == 1000
    assert await client.at_eof(timeout=2)  # dropped after close_timeout
    await probe.finished()
    assert 0.25 <= timing[0] < 2
    assert probe.close_code == 1006
    await client.aclose()


async def test_messages_after_our_close_are_dropped(serve) -> None:
    seen: list[web.WSMessage] = []

    async def script(ws: web.WebSocketResponse) -> None:
        await ws.receive(timeout=3)
        await ws.close(code=1000)
        seen.append(await ws.receive(timeout=3))

    probe = Probe()
    srv = await serve(scripted_handler(probe, script))
    client = await RawWS.connect(srv.host, srv.port)
    client.send(frame(TEXT, b"go"))
    _frames, closing = await client.recv_until_close()
    assert closing is not None
    # Data the client sent before it saw our Close, then its answer.
    client.send(frame(TEXT, b"late") + frame(CLOSE, close_payload(1000)))
    assert await client.at_eof()
    await probe.finished()
    assert probe.close_code == 1000
    assert seen[0].type is web.WSMsgType.CLOSED
    await client.aclose()


async def test_returning_without_close_closes_with_1000(serve) -> None:
    async def script(ws: web.WebSocketResponse) -> None:
        await ws.send_str("last words")

    srv = await serve(scripted_handler(Probe(), script))
    async with connect(srv.ws_url(), proxy=None) as ws:
        assert await ws.recv() == "last words"
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 3)
        assert ws.close_code == 1000


async def test_client_dropping_tcp_gives_1006(serve) -> None:
    probe = Probe()
    srv = await serve(echo_handler(probe))
    client = await RawWS.connect(srv.host, srv.port)
    await probe.prepared.wait()
    client.writer.transport.abort()
    await probe.finished()
    assert probe.close_code == 1006


async def test_state_while_open(serve) -> None:
    states: list[Any] = []

    async def script(ws: web.WebSocketResponse) -> None:
        states.extend([ws.closed, ws.close_code, ws.exception()])
        await ws.receive(timeout=3)
        states.extend([ws.closed, ws.close_code])

    probe = Probe()
    srv = await serve(scripted_handler(probe, script))
    async with connect(srv.ws_url(), proxy=None) as ws:
        await ws.close()
    await probe.finished()
    assert states == [False, None, None, True, 1000]


# server shutdown ----------------------------------------------------------------------


async def test_shutdown_closes_websockets_with_1001(serve) -> None:
    probe = Probe()
    srv = await serve(echo_handler(probe))
    async with connect(srv.ws_url(), proxy=None) as ws:
        await ws.send("before")
        assert await ws.recv() == "before"
        started = time.monotonic()
        await srv.runner.cleanup()
        elapsed = time.monotonic() - started
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 3)
        assert ws.close_code == 1001
    assert elapsed < 1.5, "shutdown waited for its timeout instead of the close handshake"
    await probe.finished()
    assert probe.error is None
    # The handler's loop ended as the close began; once cleanup() returned the close
    # handshake is over and the code is the one websockets echoed.
    assert probe.ws is not None
    assert probe.ws.close_code == 1001


async def test_shutdown_closes_aiohttp_clients_with_1001(serve) -> None:
    probes = [Probe(), Probe()]
    handlers = iter(echo_handler(p) for p in probes)

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        return await next(handlers)(request)

    srv = await serve(handler)
    async with aiohttp.ClientSession() as session:
        first = await session.ws_connect(srv.ws_url())
        second = await session.ws_connect(srv.ws_url())
        cleanup = asyncio.create_task(srv.runner.cleanup())
        for ws in (first, second):
            message = await ws.receive(timeout=3)
            assert message.type is aiohttp.WSMsgType.CLOSE
            assert message.data == 1001
        await asyncio.wait_for(cleanup, 3)
        await first.close()
        await second.close()
    for probe in probes:
        await probe.finished()
        assert probe.error is None
        assert probe.ws is not None
        assert probe.ws.closed
        # aiohttp answers our 1001 with its own Close (1000).
        assert probe.ws.close_code in (1000, 1001)


async def test_shutdown_with_a_silent_client_still_finishes(serve) -> None:
    probe = Probe()
    srv = await serve(echo_handler(probe), shutdown_timeout=0.5)
    srv.runner.shutdown_timeout = 0.5
    client = await RawWS.connect(srv.host, srv.port)
    await probe.prepared.wait()
    started = time.monotonic()
    await asyncio.wait_for(srv.runner.cleanup(), 5)
    assert time.monotonic() - started < 3
    _frames, closing = await client.recv_until_close()
    assert closing is not None
    assert closing.close_code == 1001
    await probe.finished()
    await client.aclose()


async def test_new_connections_are_refused_after_shutdown(serve) -> None:
    probe = Probe()
    srv = await serve(echo_handler(probe))
    await srv.runner.cleanup()
    with pytest.raises(OSError):
        await RawWS.connect(srv.host, srv.port)


# handler failures and late sends ---------------------------------------------------------


def raising_once(probe: Probe) -> Any:
    """A handler that upgrades then raises on its first call, and echoes afterwards."""
    echo = echo_handler(probe)

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        if probe.calls == 0:
            probe.calls += 1
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            raise RuntimeError("boom after upgrade")
        return await echo(request)

    return handler


async def test_handler_raising_after_upgrade_closes_and_server_goes_on(serve, caplog) -> None:
    srv = await serve(raising_once(Probe()))
    with caplog.at_level(logging.ERROR):
        async with connect(srv.ws_url(), proxy=None, close_timeout=1) as ws:
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 3)
            # A close frame (1011, say) or a dropped connection (1006): never a hang.
            assert ws.close_code in (1006, 1011)
    assert "boom after upgrade" in caplog.text
    async with connect(srv.ws_url(), proxy=None) as ws:
        await ws.send("still serving")
        assert await ws.recv() == "still serving"


async def test_handler_raising_after_upgrade_sends_no_http_after_the_101(serve) -> None:
    srv = await serve(raising_once(Probe()))
    client = await RawWS.connect(srv.host, srv.port)
    try:
        first = await asyncio.wait_for(client.reader.read(2), 2)
    except asyncio.TimeoutError:
        first = None
    # After the 101 only WebSocket frames may follow: a Close (1011), or the end.
    assert first is not None, "nothing sent and the connection left open"
    assert not first.startswith(b"HT"), "an HTTP response inside the WebSocket stream"
    if first:
        assert first[0] == 0x88, f"expected a Close frame, got {first!r}"
        rest = await asyncio.wait_for(client.reader.readexactly(first[1] & 0x7F), 2)
        assert rest[:2] == b"\x03\xf3"  # 1011 Internal Error
        client.send(frame(CLOSE, close_payload(1011)))
        assert await client.at_eof(timeout=2), "the connection was left open"
    await client.aclose()


async def test_send_after_the_peer_closed_raises_without_stray_errors(serve, caplog) -> None:
    loop = asyncio.get_running_loop()
    contexts: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: contexts.append(context))
    outcome: list[Any] = []

    async def script(ws: web.WebSocketResponse) -> None:
        message = await ws.receive(timeout=3)
        outcome.append(message.type)
        for send in (
            lambda: ws.send_str("late"),
            lambda: ws.send_bytes(b"late"),
            lambda: ws.send_json({"late": True}),
            lambda: ws.send_prepared(web.PreparedMessage.encode("late")),
            lambda: ws.ping(b"late"),
            lambda: ws.pong(b"late"),
        ):
            try:
                await send()
            except web.WSConnectionClosed as exc:
                outcome.append(exc)

    try:
        with caplog.at_level(logging.DEBUG):
            srv = await serve(scripted_handler(Probe(), script))
            async with connect(srv.ws_url(), proxy=None) as ws:
                await ws.close(code=1000)
            await asyncio.sleep(0.1)
            gc.collect()
            await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(previous)
    assert outcome[0] is web.WSMsgType.CLOSE
    errors = outcome[1:]
    assert len(errors) == 6, outcome
    assert all(isinstance(e, ConnectionResetError) for e in errors)
    assert "never retrieved" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert contexts == []


async def test_send_after_a_dropped_connection_raises(serve) -> None:
    outcome: list[BaseException] = []

    async def script(ws: web.WebSocketResponse) -> None:
        message = await ws.receive(timeout=3)
        assert message.type is web.WSMsgType.CLOSED
        try:
            await ws.send_str("nobody listens")
        except web.WSConnectionClosed as exc:
            outcome.append(exc)

    probe = Probe()
    srv = await serve(scripted_handler(probe, script))
    client = await RawWS.connect(srv.host, srv.port)
    await probe.prepared.wait()
    client.writer.transport.abort()
    await probe.finished()
    assert len(outcome) == 1
    assert probe.close_code == 1006


# heartbeat ------------------------------------------------------------------------------


async def test_heartbeat_drops_a_client_that_never_answers(serve) -> None:
    probe = Probe()
    srv = await serve(echo_handler(probe, heartbeat=0.2))
    client = await RawWS.connect(srv.host, srv.port)
    started = time.monotonic()
    ping = await client.recv(timeout=2)
    assert ping is not None
    assert ping.opcode == PING
    # Never answer: the server must give up within about one heartbeat.
    assert await client.at_eof(timeout=2)
    await probe.finished(timeout=2)
    assert time.monotonic() - started < 1.5
    assert probe.close_code == 1006
    assert isinstance(probe.exception, asyncio.TimeoutError)
    await client.aclose()


async def test_heartbeat_keeps_an_answering_client(serve) -> None:
    probe = Probe()
    srv = await serve(echo_handler(probe, heartbeat=0.1))
    async with connect(srv.ws_url(), proxy=None) as ws:
        await asyncio.sleep(0.5)  # five heartbeats, each answered by websockets
        await ws.send("alive")
        assert await ws.recv() == "alive"
    await probe.finished()
    assert probe.close_code == 1000


async def test_autoclose_false_lets_the_handler_answer_the_close(serve) -> None:
    answer = asyncio.Event()
    seen: list[Any] = []

    async def script(ws: web.WebSocketResponse) -> None:
        message = await ws.receive(timeout=3)
        seen.append((message.type, message.data, message.extra))
        await answer.wait()
        seen.append(await ws.close(code=message.data, message=b"as you wish"))

    probe = Probe()
    srv = await serve(scripted_handler(probe, script, autoclose=False))
    client = await RawWS.connect(srv.host, srv.port)
    client.send(frame(CLOSE, close_payload(4005, b"please")))
    # Nothing comes back until the handler answers.
    with pytest.raises(asyncio.TimeoutError):
        await client.recv(timeout=0.3)
    answer.set()
    frames, closing = await client.recv_until_close()
    assert frames == []
    assert closing is not None
    assert closing.close_code == 4005
    assert await client.at_eof()
    await probe.finished()
    assert seen == [(web.WSMsgType.CLOSE, 4005, "please"), True]
    assert probe.close_code == 4005
    await client.aclose()


async def test_sending_while_our_close_is_in_progress_raises(serve) -> None:
    outcome: list[Any] = []

    async def script(ws: web.WebSocketResponse) -> None:
        closing = asyncio.create_task(ws.close(code=1000))
        await asyncio.sleep(0.05)  # our Close is out, the peer has not answered
        assert ws.closed
        try:
            await ws.send_str("too late")
        except web.WSConnectionClosed as exc:
            outcome.append(exc)
        outcome.append(await closing)

    probe = Probe()
    srv = await serve(scripted_handler(probe, script))
    client = await RawWS.connect(srv.host, srv.port)
    frames, closing = await client.recv_until_close()
    assert closing is not None
    await asyncio.sleep(0.1)
    client.send(frame(CLOSE, close_payload(1000)))
    assert await client.at_eof()
    await probe.finished()
    assert frames == []  # "too late" never went out
    assert isinstance(outcome[0], web.WSConnectionClosed)
    assert outcome[1] is True
    await client.aclose()


async def test_shutdown_while_the_handler_is_blocked_sending(serve) -> None:
    outcome: list[Any] = []
    payload = bytes(64 * 1024)

    async def script(ws: web.WebSocketResponse) -> None:
        try:
            for _ in range(400):  # 25 MiB to a client that never reads
                await ws.send_bytes(payload, compress=False)
        except web.WSConnectionClosed as exc:
            outcome.append(exc)

    probe = Probe()
    srv = await serve(scripted_handler(probe, script))
    srv.runner.shutdown_timeout = 0.5
    client = await RawWS.connect(srv.host, srv.port, rcvbuf=64 * 1024)
    await probe.prepared.wait()
    await asyncio.sleep(0.3)  # the handler is now waiting for the buffer to drain
    assert probe.ws is not None
    assert probe.ws.writing_paused
    started = time.monotonic()
    await asyncio.wait_for(srv.runner.cleanup(), 5)
    assert time.monotonic() - started < 3
    await probe.finished(timeout=3)
    # Released either by the dropped connection or by the cancellation that ends the
    # shutdown's grace time; never left hanging.
    released = len(outcome) == 1 or isinstance(probe.error, asyncio.CancelledError)
    assert released, (outcome, probe.error)
    assert probe.ws.closed
    await client.aclose()
