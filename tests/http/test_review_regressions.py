"""Regression tests for the HTTP defects found in review (one test per reproduction)."""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from typing import Any

import pytest
from httpwire import (
    STEP,
    close_writer,
    get,
    open_conn,
    parse_all,
    read_response,
    read_until_close,
)
from ws.rawclient import CLOSE, RawWS, close_payload  # tests/ is on sys.path (its conftest)

from tidewire import web

# 1. one response per request, even when the handler fails after starting it -----------


async def test_exception_after_a_started_response_sends_no_second_response(serve: Any) -> None:
    calls: list[str] = []

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        calls.append(request.path)
        response = web.StreamResponse()
        response.content_length = 5
        await response.prepare(request)
        await response.write(b"hello")
        raise web.HTTPFound("/elsewhere")

    srv = await serve(handler)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(get("/a") + get("/b"))
        received, closed = await read_until_close(reader, timeout=1.5)
    finally:
        await close_writer(writer)
    responses = parse_all(received)
    assert len(responses) == 1, received
    assert responses[0].status == 200
    assert responses[0].body == b"hello"
    assert b"302" not in received
    assert closed, "the connection must close after a handler failed mid-response"
    assert calls == ["/a"]


async def test_bad_chunk_mid_body_sends_no_error_inside_a_started_response(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        async for chunk in request.content.iter_any():
            await response.write(chunk)
        return response

    srv = await serve(handler)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(
            b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n"  # a first chunk, echoed in the started response
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 1.5)
        assert head.startswith(b"HTTP/1.1 200 ")
        writer.write(b"zz\r\n")  # not a chunk size
        rest, closed = await read_until_close(reader, timeout=1.5)
    finally:
        await close_writer(writer)
    assert b"HTTP/1.1" not in rest, rest
    assert rest.startswith(b"3\r\nabc\r\n"), rest
    assert not rest.endswith(b"0\r\n\r\n"), "a failed body must not end like a complete one"
    assert closed


# 2. a declined upgrade request with a body is a plain request (issue 7.4) --------------


@pytest.mark.parametrize(
    "framing, body",
    [
        pytest.param(b"Content-Length: 11\r\n", b"hello world", id="length"),
        pytest.param(
            b"Transfer-Encoding: chunked\r\n",
            b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
            id="chunked",
        ),
    ],
)
async def test_declined_upgrade_with_a_body_is_read_and_pipelining_goes_on(
    serve: Any, framing: bytes, body: bytes
) -> None:
    calls: list[tuple[str, bytes, bool]] = []

    async def handler(request: web.BaseRequest) -> web.Response:
        data = await request.read()
        calls.append((request.path, data, request.body_exists))
        return web.Response(text=f"saved {len(data)} bytes")

    srv = await serve(handler)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(
            b"POST /upload HTTP/1.1\r\nHost: t\r\nConnection: Upgrade, HTTP2-Settings\r\n"
            b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n"
            + framing
            + b"\r\n"
            + body
            + get("/next", extra="Connection: close\r\n")
        )
        received, closed = await read_until_close(reader, timeout=STEP)
    finally:
        await close_writer(writer)
    responses = parse_all(received)
    assert [(r.status, r.body) for r in responses] == [
        (200, b"saved 11 bytes"),
        (200, b"saved 0 bytes"),
    ], received
    assert not responses[0].closes
    assert closed
    assert calls == [("/upload", b"hello world", True), ("/next", b"", False)]


# 4. a pipelining flood is parsed a slice at a time -----------------------------------


async def test_pipelined_flood_queues_a_bounded_number_of_requests(serve: Any) -> None:
    max_pipelined = 4
    count = 3000
    release = asyncio.Event()
    depths: list[int] = []
    paths: list[str] = []

    async def handler(request: web.BaseRequest) -> web.Response:
        if not paths:
            await release.wait()  # the first request holds the pipeline up
        depths.append(len(srv.server.connections[0]._queue))
        paths.append(request.path)
        return web.Response(text=request.path)

    srv = await serve(handler, max_pipelined=max_pipelined)
    requests = [get(f"/{i}") for i in range(count - 1)]
    requests.append(get(f"/{count - 1}", extra="Connection: close\r\n"))
    slice_holds = 16 * 1024 // min(len(r) for r in requests) + 1
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(b"".join(requests))  # one write, read by the server in large pieces
        await writer.drain()
        await asyncio.sleep(0.2)
        release.set()
        bodies = [(await read_response(reader)).body for _ in range(count)]
        _, closed = await read_until_close(reader, timeout=1.5)
    finally:
        await close_writer(writer)
    assert bodies == [f"/{i}".encode() for i in range(count)]
    assert paths == [f"/{i}" for i in range(count)]
    assert closed
    # each queued request saw the queue as it began: never more than the limit plus
    # what one 16 KiB slice of input holds, at any point of the drain
    assert max(depths) <= max_pipelined + slice_holds, (slice_holds, depths[:8])


# 5. head size counted exactly when a head starts after a large body --------------------


async def test_head_starting_after_a_large_body_in_one_read_is_not_431(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        return web.Response(text=str(len(await request.read())))

    srv = await serve(handler, max_head_size=8192)
    body = b"x" * 100_000
    first = b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(body)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(first + body + b"GET /next HTTP/1.1\r\nHo")
        await writer.drain()
        first_response = await read_response(reader, timeout=1.5)
        writer.write(b"st: t\r\nConnection: close\r\n\r\n")
        received, closed = await read_until_close(reader, timeout=1.5)
    finally:
        await close_writer(writer)
    assert first_response.status == 200
    assert first_response.body == b"100000"
    responses = parse_all(received)
    assert [(r.status, r.body) for r in responses] == [(200, b"0")], received
    assert closed


# 6. no 100 Continue once the response began -----------------------------------------


async def test_no_100_continue_after_the_response_head(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(await request.read())
        return response

    srv = await serve(handler)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nExpect: 100-continue\r\n"
            b"Connection: close\r\n\r\n"
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 1.5)
        assert head.startswith(b"HTTP/1.1 200 ")
        await asyncio.sleep(0.1)  # the handler is in read() now
        writer.write(b"abc")
        rest, closed = await read_until_close(reader, timeout=1.5)
    finally:
        await close_writer(writer)
    assert b"100 Continue" not in head + rest, head + rest
    (response,) = parse_all(head + rest)
    assert response.status == 200
    assert response.body == b"abc"
    assert closed


# 9. shutdown reaches an upgrade that happens after it began ---------------------------


async def test_shutdown_closes_a_websocket_upgraded_after_it_began(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        await asyncio.sleep(0.3)  # e.g. an auth lookup before prepare()
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for _ in ws:
            pass
        return ws

    srv = await serve(handler, shutdown_timeout=3.0)
    connecting = asyncio.create_task(RawWS.connect(srv.host, srv.port))
    await asyncio.sleep(0.1)
    began = time.monotonic()
    cleanup = asyncio.create_task(srv.runner.cleanup())
    client = await connecting
    try:
        try:
            closing = await client.recv(timeout=1.0)
        except asyncio.TimeoutError:
            closing = None
        assert closing is not None, "no Close frame after shutdown began"
        assert closing.opcode == CLOSE
        assert closing.close_code == 1001
        await client.send_frame(CLOSE, close_payload(1001))
        assert await client.at_eof(timeout=1.0)
        await asyncio.wait_for(asyncio.shield(cleanup), 1.0)
        assert time.monotonic() - began < 1.5
    finally:
        await client.aclose()
        await cleanup


# 10. shutdown waits for a handler whose client reset the connection --------------------


async def test_shutdown_waits_for_a_handler_whose_client_reset(serve: Any) -> None:
    started = asyncio.Event()
    finished: list[str] = []

    async def handler(request: web.BaseRequest) -> web.Response:
        started.set()
        await asyncio.sleep(0.4)
        finished.append("done")
        return web.Response(text="ok")

    srv = await serve(handler, shutdown_timeout=2.0)
    _reader, writer = await open_conn(srv.host, srv.port)
    writer.write(get())
    await asyncio.wait_for(started.wait(), 1.5)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.close()  # RST
    for _ in range(50):
        if not srv.server.connections:
            break
        await asyncio.sleep(0.01)
    assert not srv.server.connections
    assert finished == []
    await asyncio.wait_for(srv.runner.cleanup(), 1.5)
    assert finished == ["done"], "cleanup returned while the handler was still running"


# 13. a partial head then FIN closes at once ------------------------------------------


async def test_partial_head_then_fin_closes_promptly(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        return web.Response(text="ok")

    srv = await serve(handler, head_timeout=3)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: t\r\n")
        writer.write_eof()
        began = time.monotonic()
        received, closed = await read_until_close(reader, timeout=1.0)
    finally:
        await close_writer(writer)
    assert closed, "the connection stayed open after the client's FIN"
    assert time.monotonic() - began < 1.0
    assert received == b""


# 14. the runner honours the server's shutdown_timeout --------------------------------


async def test_runner_uses_the_server_shutdown_timeout() -> None:
    started = asyncio.Event()
    tasks: list[asyncio.Task[Any]] = []

    async def handler(request: web.BaseRequest) -> web.Response:
        task = asyncio.current_task()
        assert task is not None
        tasks.append(task)
        started.set()
        await asyncio.sleep(5)
        return web.Response(text="too late")

    runner = web.ServerRunner(web.Server(handler, shutdown_timeout=0.5))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site.sockets[0].getsockname()[1]
    _reader, writer = await open_conn("127.0.0.1", port)
    cleanup: asyncio.Task[None] | None = None
    try:
        writer.write(get())
        await asyncio.wait_for(started.wait(), 1.5)
        began = time.monotonic()
        cleanup = asyncio.create_task(runner.cleanup())
        done, _ = await asyncio.wait({cleanup}, timeout=1.5)
        elapsed = time.monotonic() - began
        assert cleanup in done, "cleanup ignored the server's shutdown_timeout=0.5"
        assert 0.4 <= elapsed < 1.5, elapsed
        assert tasks[0].done()
    finally:
        # (only matters when cleanup overran: end the handler and the connection)
        for task in tasks:
            task.cancel()
        await close_writer(writer)
        if cleanup is not None:
            await asyncio.wait_for(cleanup, 3)
