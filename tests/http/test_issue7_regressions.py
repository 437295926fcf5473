"""Regression tests for issue 7: each failed on the code before its fix.

Content-Length is a promise, one framing per response, every handler failure ends
cleanly, no Content-Type without a body, every cookie name kept, and the generic
upgrade hand-over (``request.hand_over``) with its ``on_connection_lost`` contract.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
import websockets
from httpwire import (
    STEP,
    close_writer,
    get,
    open_conn,
    parse_all,
    read_response,
    read_until_close,
)

from tidewire import web

# 1. a declared Content-Length is a promise ---------------------------------------------


async def test_writing_past_content_length_raises_and_nothing_extra_reaches_the_wire(
    serve: Any,
) -> None:
    raised: list[str] = []

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        if request.path == "/next":
            return web.Response(text="next")
        response = web.StreamResponse(headers={"Content-Length": "2"})
        await response.prepare(request)
        try:
            await response.write(b"answer")
        except RuntimeError as exc:
            raised.append(str(exc))
        return response

    srv = await serve(handler)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(get("/over") + get("/next"))
        received, closed = await read_until_close(reader)
    finally:
        await close_writer(writer)
    head, _, rest = received.partition(b"\r\n\r\n")
    assert b"Content-Length: 2" in head
    # Not one byte of the refused write, and no second response read from its surplus:
    # the body cannot be completed, so the connection closes instead.
    assert rest == b"", received
    assert closed
    assert len(raised) == 1 and "Content-Length" in raised[0]


async def test_a_body_shorter_than_its_content_length_closes_the_connection(
    serve: Any,
) -> None:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_length = 10
        await response.prepare(request)
        await response.write(b"abc")
        await response.write_eof()
        return response

    srv = await serve(handler)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(get("/short") + get("/second"))
        received, closed = await read_until_close(reader)
    finally:
        await close_writer(writer)
    assert received.endswith(b"\r\n\r\nabc"), received
    assert received.count(b"HTTP/1.1 ") == 1  # the second request is not answered
    assert closed


async def test_a_body_that_keeps_its_content_length_keeps_the_connection(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": "6"})
        await response.prepare(request)
        await response.write(b"ans")
        await response.write(b"wer")
        return response

    srv = await serve(handler)
    async with aiohttp.ClientSession() as session:
        for _ in range(2):
            async with session.get(srv.url()) as response:
                assert await response.read() == b"answer"
        assert len(srv.server.connections) == 1


# 2. exactly one framing -----------------------------------------------------------------


async def test_response_with_chunked_encoding_sends_one_framing(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        response = web.Response(text="hello")
        response.enable_chunked_encoding()
        return response

    srv = await serve(handler)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(get("/"))
        raw = await read_response(reader)
    finally:
        await close_writer(writer)
    assert raw.headers.get("Transfer-Encoding") == "chunked"
    assert "Content-Length" not in raw.headers
    assert raw.body == b"hello"
    async with aiohttp.ClientSession() as session, session.get(srv.url()) as response:
        assert await response.text() == "hello"


# 3. every handler failure ends cleanly ------------------------------------------------


async def test_handler_raising_cancelled_error_gets_a_500_and_the_connection_goes_on(
    serve: Any,
) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        if request.path == "/cancel":
            raise asyncio.CancelledError()  # not a disconnect: nobody cancelled the task
        return web.Response(text="fine")

    srv = await serve(handler)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(get("/cancel"))
        failed = await read_response(reader)
        writer.write(get("/after"))
        after = await read_response(reader)
    finally:
        await close_writer(writer)
    assert failed.status == 500
    assert after.body == b"fine"


async def test_cancelled_error_after_the_head_closes_the_connection(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"part")
        raise asyncio.CancelledError()

    srv = await serve(handler)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(get("/"))
        received, closed = await read_until_close(reader)
    finally:
        await close_writer(writer)
    assert received.startswith(b"HTTP/1.1 200 ")
    assert closed  # the chunked body never ends: only the close tells the client


class _Fatal(BaseException):
    """Not an Exception: like KeyboardInterrupt, it must not be swallowed."""


async def test_base_exception_closes_the_connection_and_propagates(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        raise _Fatal()

    srv = await serve(handler)
    tasks: list[asyncio.Task[None]] = []
    track = srv.server.task_started

    def record(task: asyncio.Task[None]) -> None:
        tasks.append(task)
        track(task)

    srv.server.task_started = record
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(get("/"))
        received, closed = await read_until_close(reader)
    finally:
        await close_writer(writer)
    assert closed, "the client must not be left hanging"
    assert received == b""
    await asyncio.wait(tasks, timeout=STEP)
    assert isinstance(tasks[0].exception(), _Fatal)


# 8 (hostile line) is in test_hostile.py; 9. no Content-Type without a body ---------------


@pytest.mark.parametrize("status", [204, 304])
async def test_no_content_type_on_bodyless_statuses(serve: Any, status: int) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        return web.Response(status=status, text="", headers={"X-Status": str(status)})

    srv = await serve(handler)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(get("/"))
        raw = await read_response(reader)
    finally:
        await close_writer(writer)
    assert raw.status == status
    for name in ("Content-Type", "Content-Length", "Transfer-Encoding"):
        assert name not in raw.headers, raw.raw_head


async def test_cookies_named_like_attributes_are_kept(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        return web.json_response(list(request.cookies.items()))

    srv = await serve(handler)
    cookie = 'path=/x; secure=yes; sid="abc"; expires=soon; bad; =nameless'
    async with (
        aiohttp.ClientSession() as session,
        session.get(srv.url(), headers={"Cookie": cookie}) as response,
    ):
        pairs = await response.json()
    assert pairs == [["path", "/x"], ["secure", "yes"], ["sid", "abc"], ["expires", "soon"]]


# the generic hand-over ---------------------------------------------------------------


class Shouter:
    """A minimal upgraded protocol: answers every read in upper case."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.transport: asyncio.Transport | None = None
        self.lost = asyncio.Event()
        self._on_lost: Callable[[], None] | None = None

    def on_connection_lost(self, callback: Callable[[], None]) -> None:
        self.events.append("on_connection_lost")
        self._on_lost = callback

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.events.append("connection_made")
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.events.append(("data", data))
        assert self.transport is not None
        self.transport.write(data.upper())

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.events.append("connection_lost")
        self.lost.set()
        assert self._on_lost is not None
        self._on_lost()

    def pause_writing(self) -> None:
        self.events.append("pause_writing")

    def resume_writing(self) -> None:
        self.events.append("resume_writing")

    def begin_shutdown(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def handler_failed(self) -> None:
        if self.transport is not None:
            self.transport.close()


def _upgrade(path: str = "/shout") -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: shout\r\n\r\n".encode()
    )


async def test_hand_over_gives_the_transport_and_the_tail_to_the_receiver(serve: Any) -> None:
    shouter = Shouter()

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        response = web.StreamResponse(
            status=101,
            headers={"Upgrade": "shout", "Connection": "Upgrade", "Content-Type": "text/plain"},
        )
        await response.prepare(request)
        request.hand_over(shouter)
        return response

    srv = await serve(handler)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(_upgrade() + b"hello")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), STEP)
        assert head.startswith(b"HTTP/1.1 101 ")
        assert b"Content-Type" not in head and b"Content-Length" not in head
        assert await asyncio.wait_for(reader.readexactly(5), STEP) == b"HELLO"
        writer.write(b"more")  # the transport now calls the receiver directly
        assert await asyncio.wait_for(reader.readexactly(4), STEP) == b"MORE"
    finally:
        await close_writer(writer)
    await asyncio.wait_for(shouter.lost.wait(), STEP)
    assert shouter.events == [
        "on_connection_lost",
        "connection_made",
        ("data", b"hello"),
        ("data", b"more"),
        "connection_lost",
    ]
    assert srv.server.connections == []  # the callback made the server forget it


async def test_hand_over_of_a_request_with_a_body_is_refused(serve: Any) -> None:
    errors: list[str] = []

    async def handler(request: web.BaseRequest) -> web.Response:
        await request.read()
        try:
            request.hand_over(Shouter())
        except RuntimeError as exc:
            errors.append(str(exc))
        return web.Response(text="not upgraded")

    srv = await serve(handler)
    request = _upgrade().replace(b"\r\n\r\n", b"\r\nContent-Length: 3\r\n\r\nabc")
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(request + get("/next", extra="Connection: close\r\n"))
        received, _ = await read_until_close(reader)
    finally:
        await close_writer(writer)
    assert [r.body for r in parse_all(received)] == [b"not upgraded", b"not upgraded"]
    assert len(errors) == 2


async def test_handler_cancellation_cancels_an_upgraded_handler_when_the_peer_drops(
    serve: Any,
) -> None:
    prepared = asyncio.Event()
    cancelled = asyncio.Event()

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        prepared.set()
        try:
            await asyncio.sleep(3600)  # awaiting something other than receive()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return ws

    srv = await serve(handler, handler_cancellation=True, shutdown_timeout=30.0)
    client = await websockets.connect(srv.ws_url())
    await asyncio.wait_for(prepared.wait(), STEP)
    client.transport.abort()  # the TCP connection drops, no closing handshake
    with contextlib.suppress(Exception):
        await client.close()
    await asyncio.wait_for(cancelled.wait(), STEP)
    # Nothing is left to wait for: cleanup must not sit out the 30 s shutdown_timeout.
    await asyncio.wait_for(srv.runner.cleanup(), STEP)
    assert srv.server.connections == []
