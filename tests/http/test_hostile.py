"""Hostile and broken clients: every bad input gets its status, and the server keeps serving."""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from collections.abc import Iterable
from typing import Any

import aiohttp
import pytest
from httpwire import (
    RawResponse,
    close_writer,
    closed_by_peer,
    drip_until_answered,
    get,
    open_conn,
    parse_all,
    read_response,
    read_until_close,
)

from tidewire import web


class Recorder:
    """A handler that records what reached it and echoes the size of the body it read.

    With ``read_body=False`` it answers without touching the body, as many handlers do.
    """

    def __init__(self, *, read_body: bool = True) -> None:
        self.seen: list[str] = []
        self.read_body = read_body

    async def __call__(self, request: web.BaseRequest) -> web.Response:
        self.seen.append(f"{request.method} {request.path}")
        body = await request.read() if self.read_body or request.path == "/health" else b""
        return web.Response(text=f"{request.method} {request.path} {len(body)}")


async def assert_serving(srv: Any) -> None:
    """A new connection from a real client is served normally."""
    async with aiohttp.ClientSession() as session, session.get(srv.url("/health")) as response:
        assert response.status == 200
        assert (await response.text()).startswith("GET /health")


async def expect_rejection(
    srv: Any, data: bytes, statuses: Iterable[int], *, announce_close: bool = True
) -> RawResponse:
    """Send ``data``; exactly one error response with one of ``statuses``, then a close.

    With ``announce_close`` the response must also carry ``Connection: close``.
    """
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(data)
        received, closed = await read_until_close(reader, timeout=1.5)
    finally:
        await close_writer(writer)
    responses = parse_all(received)
    assert len(responses) == 1, f"expected one response, got {received!r}"
    (response,) = responses
    allowed = set(statuses)
    assert response.status in allowed, f"status {response.status}, wanted {allowed}: {received!r}"
    assert response.version == "HTTP/1.1"
    assert closed, "the server must close the connection after a framing error"
    if announce_close:
        assert response.closes, "the error response must announce Connection: close"
    await assert_serving(srv)
    return response


@pytest.fixture
async def recorder_srv(serve: Any) -> tuple[Any, Recorder]:
    recorder = Recorder()
    return await serve(recorder), recorder


async def test_malformed_request_line_is_400(recorder_srv: tuple[Any, Recorder]) -> None:
    srv, recorder = recorder_srv
    await expect_rejection(srv, b"GET/HTTP/1.1\r\nHost: x\r\n\r\n", [400])
    await expect_rejection(srv, b"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n", [400])
    await expect_rejection(srv, b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", [400])
    assert recorder.seen == ["GET /health"] * 3


async def test_error_responses_are_well_formed(recorder_srv: tuple[Any, Recorder]) -> None:
    srv, _ = recorder_srv
    response = await expect_rejection(srv, b"BAD REQUEST LINE\r\n\r\n", [400])
    assert response.reason == "Bad Request"
    assert response.headers["Content-Type"].startswith("text/plain")
    assert int(response.headers["Content-Length"]) == len(response.body) > 0
    assert response.headers["Server"] == "tidewire"
    assert response.headers["Date"].endswith(" GMT")


async def test_garbage_bytes_are_400(recorder_srv: tuple[Any, Recorder]) -> None:
    srv, recorder = recorder_srv
    await expect_rejection(srv, bytes(range(256)) + b"\r\n\r\n", [400])
    # a TLS ClientHello on the plain-text port
    hello = b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 40
    await expect_rejection(srv, hello, [400])
    assert recorder.seen == ["GET /health", "GET /health"]


async def test_garbage_after_a_good_request_still_answers_the_good_one(
    recorder_srv: tuple[Any, Recorder],
) -> None:
    srv, recorder = recorder_srv
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(get("/good") + b"\x00\x01\x02 not http\r\n\r\n")
        data, closed = await read_until_close(reader, timeout=3)
    finally:
        await close_writer(writer)
    responses = parse_all(data)
    assert [r.status for r in responses] == [200, 400]
    assert responses[0].body == b"GET /good 0"
    assert responses[1].closes
    assert closed
    assert recorder.seen == ["GET /good"]
    await assert_serving(srv)


async def test_oversized_request_line_is_414(recorder_srv: tuple[Any, Recorder]) -> None:
    srv, recorder = recorder_srv
    await expect_rejection(srv, get("/" + "a" * 9000), [414])
    assert recorder.seen == ["GET /health"]


async def test_request_line_limit_is_configurable(serve: Any) -> None:
    srv = await serve(Recorder(), max_line_size=100)
    await expect_rejection(srv, get("/" + "a" * 200), [414])
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(get("/" + "a" * 50))
        assert (await read_response(reader)).status == 200
    finally:
        await close_writer(writer)


async def test_oversized_header_field_is_431(recorder_srv: tuple[Any, Recorder]) -> None:
    srv, recorder = recorder_srv
    await expect_rejection(srv, get(extra="X-Big: " + "v" * 9000 + "\r\n"), [431])
    await expect_rejection(srv, get(extra="X-" + "n" * 9000 + ": v\r\n"), [431])
    assert recorder.seen == ["GET /health", "GET /health"]


async def test_too_many_headers_is_431(recorder_srv: tuple[Any, Recorder]) -> None:
    srv, recorder = recorder_srv
    many = "".join(f"X-H{i}: {i}\r\n" for i in range(150))
    await expect_rejection(srv, get(extra=many), [431])
    assert recorder.seen == ["GET /health"]


async def test_too_large_header_section_is_431(recorder_srv: tuple[Any, Recorder]) -> None:
    srv, recorder = recorder_srv
    # 40 fields of 4000 bytes: each within max_field_size and max_headers, 160 KB in all
    big = "".join(f"X-H{i}: {'v' * 4000}\r\n" for i in range(40))
    await expect_rejection(srv, get(extra=big), [431])
    assert recorder.seen == ["GET /health"]


async def test_too_large_header_section_small_limit_is_431(serve: Any) -> None:
    recorder = Recorder()
    srv = await serve(recorder, max_head_size=4096)
    big = "".join(f"X-H{i}: {'v' * 500}\r\n" for i in range(12))  # ~6 KB, one write
    await expect_rejection(srv, get(extra=big), [431])
    assert recorder.seen == ["GET /health"]


SMUGGLED = get("/smuggled")


@pytest.mark.parametrize(
    "head",
    [
        pytest.param(
            b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n",
            id="cl-then-te",
        ),
        pytest.param(
            b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Length: %d\r\n\r\n",
            id="te-then-cl",
        ),
    ],
)
async def test_content_length_with_transfer_encoding_is_400(
    recorder_srv: tuple[Any, Recorder], head: bytes
) -> None:
    srv, recorder = recorder_srv
    body = b"0\r\n\r\n" + SMUGGLED
    await expect_rejection(srv, head % len(body) + body, [400])
    assert recorder.seen == ["GET /health"], "a request with ambiguous framing was handled"


async def test_two_content_lengths_are_400(recorder_srv: tuple[Any, Recorder]) -> None:
    srv, recorder = recorder_srv
    await expect_rejection(
        srv,
        b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 30\r\n\r\nabc"
        + SMUGGLED,
        [400],
    )
    await expect_rejection(
        srv,
        b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 30\r\n\r\nabc" + SMUGGLED,
        [400],
    )
    assert recorder.seen == ["GET /health", "GET /health"]


async def test_invalid_chunk_size_is_400(recorder_srv: tuple[Any, Recorder]) -> None:
    srv, recorder = recorder_srv
    await expect_rejection(
        srv,
        b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\nzz\r\nabc\r\n0\r\n\r\n" + SMUGGLED,
        [400],
        announce_close=False,  # checked on its own below
    )
    await expect_rejection(
        srv,
        b"POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"FFFFFFFFFFFFFFFFFFFF\r\nabc\r\n0\r\n\r\n",
        [400],
        announce_close=False,
    )
    assert "GET /smuggled" not in recorder.seen
    assert recorder.seen[-1] == "GET /health"


async def test_body_framing_error_response_announces_close(
    recorder_srv: tuple[Any, Recorder],
) -> None:
    # The server closes after a broken chunked body; its 400 should say so (RFC 9112 9.6),
    # or a client may send its next request on a connection about to be closed.
    srv, _ = recorder_srv
    await expect_rejection(
        srv,
        b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n",
        [400],
        announce_close=True,
    )


@pytest.mark.parametrize(
    "coding",
    [
        pytest.param("gzip", id="gzip"),
        pytest.param("chunked, gzip", id="chunked-not-last"),
        pytest.param("gzip, chunked", id="gzip-then-chunked"),
        pytest.param("identity", id="identity"),
    ],
)
async def test_transfer_encoding_other_than_chunked_is_refused(serve: Any, coding: str) -> None:
    # The handler does not read the body: the refusal must not depend on it doing so.
    recorder = Recorder(read_body=False)
    srv = await serve(recorder)
    data = (
        f"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: {coding}\r\n\r\n".encode()
        + b"3\r\nabc\r\n0\r\n\r\n"
    )
    # 501 (RFC 9112 section 6.1) or 400, decided from the head: the request is never handled
    await expect_rejection(srv, data, [400, 501])
    assert recorder.seen == ["GET /health"]


async def test_nul_in_header_is_400(recorder_srv: tuple[Any, Recorder]) -> None:
    srv, recorder = recorder_srv
    await expect_rejection(srv, get(extra="X-A: a\x00b\r\n"), [400])
    await expect_rejection(srv, get(extra="X-\x00A: ab\r\n"), [400])
    assert recorder.seen == ["GET /health", "GET /health"]


async def test_obs_fold_is_400(recorder_srv: tuple[Any, Recorder]) -> None:
    srv, recorder = recorder_srv
    await expect_rejection(srv, get(extra="X-A: one\r\n two\r\n"), [400])
    await expect_rejection(srv, get(extra="X-A: one\r\n\tContent-Length: 5\r\n"), [400])
    assert recorder.seen == ["GET /health", "GET /health"]


async def test_missing_host_in_http11_is_400(recorder_srv: tuple[Any, Recorder]) -> None:
    # RFC 9112 section 3.2: a server MUST answer 400 to an HTTP/1.1 request without Host
    srv, recorder = recorder_srv
    await expect_rejection(srv, b"GET /nohost HTTP/1.1\r\n\r\n", [400])
    assert recorder.seen == ["GET /health"]


async def test_two_host_headers_are_400(recorder_srv: tuple[Any, Recorder]) -> None:
    # RFC 9112 section 3.2: ... and to any request with more than one Host field
    srv, recorder = recorder_srv
    await expect_rejection(
        srv, b"GET /twohosts HTTP/1.1\r\nHost: good.example\r\nHost: evil.example\r\n\r\n", [400]
    )
    assert recorder.seen == ["GET /health"]


@pytest.mark.parametrize(
    "request_line",
    [b"GET / HTTP/2.0", b"GET / HTTP/1.2", b"GET / HTTP/3.0"],
    ids=["2.0", "1.2", "3.0"],
)
async def test_unsupported_http_version_is_refused(
    recorder_srv: tuple[Any, Recorder], request_line: bytes
) -> None:
    # The server speaks HTTP/1.x: it must not handle the request as if it spoke another
    # version, and must never write a status line such as "HTTP/2.0 200 OK".
    srv, recorder = recorder_srv
    await expect_rejection(srv, request_line + b"\r\nHost: x\r\n\r\n", [400, 505])
    assert recorder.seen == ["GET /health"]


@pytest.mark.parametrize(
    "data",
    [b"GET /\r\n\r\n", b"GET /\r\nHost: x\r\n\r\n", b"GET / HTTP/0.9\r\nHost: x\r\n\r\n"],
    ids=["bare", "with-header", "explicit-0.9"],
)
async def test_request_line_without_an_http1_version_is_400(
    recorder_srv: tuple[Any, Recorder], data: bytes
) -> None:
    # HTTP/0.9's version-less request line is a malformed request (a client error), not
    # a version the server lacks: 400, never the server-error class 505 (issue 7.8).
    srv, recorder = recorder_srv
    await expect_rejection(srv, data, [400])
    assert recorder.seen == ["GET /health"]


# timeouts -------------------------------------------------------------------------------


async def test_slowloris_partial_head_gets_408_while_others_are_served(serve: Any) -> None:
    srv = await serve(Recorder(), head_timeout=0.5)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        started = time.monotonic()
        writer.write(b"GET /slow HTTP/1.1\r\nHost: x\r\nX-Slow: a")
        await writer.drain()
        # other clients are served while the slow one stalls
        async with aiohttp.ClientSession() as session:
            for _ in range(3):
                async with session.get(srv.url("/other")) as response:
                    assert response.status == 200
                await asyncio.sleep(0.05)
        data, closed = await read_until_close(reader, timeout=3)
        elapsed = time.monotonic() - started
    finally:
        await close_writer(writer)
    (response,) = parse_all(data)
    assert response.status == 408
    assert response.closes
    assert closed
    assert 0.4 <= elapsed < 2.0, elapsed
    await assert_serving(srv)


async def test_slowloris_drip_feed_does_not_extend_the_head_deadline(serve: Any) -> None:
    srv = await serve(Recorder(), head_timeout=0.5)
    reader, writer = await open_conn(srv.host, srv.port)
    started = time.monotonic()
    try:
        writer.write(b"GET /drip HTTP/1.1\r\nHost: x\r\n")

        async def drip() -> None:
            for _ in range(30):
                writer.write(b"X")
                await writer.drain()
                await asyncio.sleep(0.05)

        dripper = asyncio.create_task(drip())
        data, closed = await read_until_close(reader, timeout=3)
        elapsed = time.monotonic() - started
        dripper.cancel()
        await asyncio.gather(dripper, return_exceptions=True)
    finally:
        await close_writer(writer)
    assert data.startswith(b"HTTP/1.1 408 ")
    assert closed
    assert elapsed < 1.4, f"a client dripping bytes kept its head open for {elapsed:.2f}s"
    await assert_serving(srv)


async def test_silent_connection_is_closed_after_head_timeout(serve: Any) -> None:
    srv = await serve(Recorder(), head_timeout=0.3)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        data, closed = await read_until_close(reader, timeout=2)
    finally:
        await close_writer(writer)
    assert closed
    assert data == b""  # nothing was started: no 408 is due


async def test_idle_keep_alive_connection_is_closed(serve: Any) -> None:
    srv = await serve(Recorder(), keepalive_timeout=0.3)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(get("/one"))
        assert (await read_response(reader)).status == 200
        # still open well within the timeout: a second request is served
        await asyncio.sleep(0.1)
        writer.write(get("/two"))
        assert (await read_response(reader)).status == 200
        started = time.monotonic()
        data, closed = await read_until_close(reader, timeout=2)
        elapsed = time.monotonic() - started
    finally:
        await close_writer(writer)
    assert closed
    assert data == b""
    assert 0.2 <= elapsed < 1.5, elapsed
    assert srv.server.connections == [] or all(
        c.transport is None or c.transport.is_closing() for c in srv.server.connections
    )


async def test_body_timeout_is_408(serve: Any) -> None:
    recorder = Recorder()
    srv = await serve(recorder, body_timeout=0.3)
    reader, writer = await open_conn(srv.host, srv.port)
    started = time.monotonic()
    try:
        writer.write(b"POST /stall HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
        await writer.drain()
        response = await read_response(reader)
        elapsed = time.monotonic() - started
        assert response.status == 408
        assert 0.25 <= elapsed < 1.5, elapsed
        # the rest of the body never comes: the connection must not wait for it
        assert await closed_by_peer(reader, timeout=1.5), "connection kept after a body timeout"
    finally:
        await close_writer(writer)
    await assert_serving(srv)


async def test_slow_but_steady_body_is_not_timed_out(serve: Any) -> None:
    srv = await serve(Recorder(), body_timeout=0.3)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(b"POST /steady HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\n")
        for _ in range(8):  # 8 x 0.1 s: longer than body_timeout in total, never a 0.3 s gap
            await asyncio.sleep(0.1)
            writer.write(b"s")
            await writer.drain()
        response = await read_response(reader)
    finally:
        await close_writer(writer)
    assert response.status == 200
    assert response.body == b"POST /steady 8"


async def test_dripped_body_is_408_once_below_the_minimum_rate(serve: Any) -> None:
    # R.U.D.Y.: one byte every 0.2 s never trips body_timeout, which restarts with every
    # byte; the minimum rate (20 B/s after 0.5 s) ends it (issue 7.7).
    recorder = Recorder()
    srv = await serve(recorder, body_timeout=30.0, min_body_rate=20.0, body_rate_grace=0.5)
    reader, writer = await open_conn(srv.host, srv.port)
    started = time.monotonic()
    try:
        writer.write(b"POST /drip HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
        response = await drip_until_answered(reader, writer, b"d" * 1000)
        assert response.status == 408
        assert b"too slowly" in response.body
        assert response.closes
        assert time.monotonic() - started < 5.0
        assert await closed_by_peer(reader, timeout=1.5), "connection kept after a slow body"
    finally:
        await close_writer(writer)
    assert recorder.seen == ["POST /drip"]
    await assert_serving(srv)


async def test_body_above_the_minimum_rate_is_read(serve: Any) -> None:
    srv = await serve(Recorder(), min_body_rate=20.0, body_rate_grace=0.5)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(b"POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
        for _ in range(4):  # 100 bytes in about 1.2 s: well above 20 B/s
            await asyncio.sleep(0.3)
            writer.write(b"x" * 25)
            await writer.drain()
        response = await read_response(reader)
    finally:
        await close_writer(writer)
    assert response.status == 200
    assert response.body == b"POST /ok 100"


# disconnects ---------------------------------------------------------------------------


async def test_client_disconnect_mid_body_does_not_crash_the_server(serve: Any) -> None:
    outcome: list[str] = []

    async def handler(request: web.BaseRequest) -> web.Response:
        if request.method == "GET":
            return web.Response(text="GET /health ok")
        try:
            await request.read()
        except Exception as exc:
            outcome.append(type(exc).__name__)
            raise
        outcome.append("read everything")
        return web.Response(text="done")

    srv = await serve(handler)
    _reader, writer = await open_conn(srv.host, srv.port)
    writer.write(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"x" * 500)
    await writer.drain()
    await asyncio.sleep(0.1)
    await close_writer(writer)
    for _ in range(50):
        if outcome:
            break
        await asyncio.sleep(0.02)
    assert outcome and outcome[0] != "read everything"
    await assert_serving(srv)


async def test_client_disconnect_mid_response_does_not_crash_the_server(serve: Any) -> None:
    ended: list[str] = []

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        if request.path == "/health":
            return web.Response(text="GET /health ok")
        response = web.StreamResponse()
        await response.prepare(request)
        try:
            for _ in range(2000):
                await response.write(b"z" * 65536)
                await asyncio.sleep(0)
        except ConnectionResetError:
            ended.append("reset")
            raise
        ended.append("finished")
        return response

    srv = await serve(handler)
    reader, writer = await open_conn(srv.host, srv.port)
    writer.write(get("/stream"))
    await reader.readexactly(1000)
    await close_writer(writer)
    for _ in range(100):
        if ended:
            break
        await asyncio.sleep(0.02)
    assert ended == ["reset"]
    await assert_serving(srv)


def _reset_on_close(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


@pytest.mark.parametrize("how", ["close", "reset"])
async def test_handler_cancellation_true_cancels_on_disconnect(serve: Any, how: str) -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()
    finished = asyncio.Event()

    async def handler(request: web.BaseRequest) -> web.Response:
        if request.path == "/health":
            return web.Response(text="GET /health ok")
        started.set()
        try:
            await asyncio.sleep(1.5)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        finished.set()
        return web.Response(text="late")

    srv = await serve(handler, handler_cancellation=True)
    _reader, writer = await open_conn(srv.host, srv.port)
    writer.write(get("/slow"))
    await asyncio.wait_for(started.wait(), 3)
    if how == "reset":
        _reset_on_close(writer)
    await close_writer(writer)
    await asyncio.wait_for(cancelled.wait(), 1.0)
    assert not finished.is_set()
    await assert_serving(srv)


@pytest.mark.parametrize("how", ["close", "reset"])
async def test_handler_cancellation_false_lets_the_handler_finish(serve: Any, how: str) -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()
    finished = asyncio.Event()

    async def handler(request: web.BaseRequest) -> web.Response:
        if request.path == "/health":
            return web.Response(text="GET /health ok")
        started.set()
        try:
            await asyncio.sleep(0.4)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        finished.set()
        return web.Response(text="late")

    srv = await serve(handler, handler_cancellation=False)
    _reader, writer = await open_conn(srv.host, srv.port)
    writer.write(get("/slow"))
    await asyncio.wait_for(started.wait(), 3)
    if how == "reset":
        _reset_on_close(writer)
    await close_writer(writer)
    await asyncio.wait_for(finished.wait(), 2.0)
    assert not cancelled.is_set()
    await assert_serving(srv)


async def test_half_closed_client_still_gets_its_response(serve: Any) -> None:
    # a client may shut down its sending side after the request and wait for the answer
    async def handler(request: web.BaseRequest) -> web.Response:
        await asyncio.sleep(0.1)
        return web.Response(text="for a half-closed client")

    srv = await serve(handler)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(get("/"))
        writer.write_eof()
        data, closed = await read_until_close(reader, timeout=3)
    finally:
        await close_writer(writer)
    (response,) = parse_all(data)
    assert response.body == b"for a half-closed client"
    assert closed


async def test_many_bad_connections_leave_no_connections_behind(serve: Any) -> None:
    recorder = Recorder()
    srv = await serve(recorder)
    bad = [
        b"\x00\x01\x02\r\n\r\n",
        get("/" + "a" * 9000),
        get(extra="X-A: \x00\r\n"),
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    ] * 5

    async def one(data: bytes) -> bytes:
        reader, writer = await open_conn(srv.host, srv.port)
        try:
            writer.write(data)
            received, _ = await read_until_close(reader, timeout=3)
            return received
        finally:
            await close_writer(writer)

    results = await asyncio.gather(*(one(data) for data in bad))
    assert all(r.startswith((b"HTTP/1.1 400 ", b"HTTP/1.1 414 ")) for r in results)
    for _ in range(50):
        if not srv.server.connections:
            break
        await asyncio.sleep(0.02)
    assert srv.server.connections == []
    assert recorder.seen == []
    await assert_serving(srv)


async def test_partial_head_after_a_response_keeps_the_head_deadline(serve: Any) -> None:
    # A slow head that starts while the previous request is handled must still get 408
    # after head_timeout, not after the (longer) keep-alive timeout.
    async def handler(request: web.BaseRequest) -> web.Response:
        if request.path == "/slow":
            await asyncio.sleep(0.2)
        return web.Response(text=f"{request.method} {request.path} ok")

    srv = await serve(handler, head_timeout=0.5, keepalive_timeout=30)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        started = time.monotonic()
        writer.write(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHo")
        await writer.drain()
        first = await read_response(reader)
        assert first.status == 200
        second = await read_response(reader)
        assert second.status == 408
        assert time.monotonic() - started < 3.0
    finally:
        await close_writer(writer)
    await assert_serving(srv)
