"""Connection handling: keep-alive, pipelining, Connection: close, errors -> responses."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from httpwire import (
    close_writer,
    closed_by_peer,
    get,
    open_conn,
    parse_all,
    read_response,
    read_until_close,
)

from tidewire import web


def peer_port(request: web.BaseRequest) -> int:
    transport = request.transport
    assert transport is not None
    return int(transport.get_extra_info("peername")[1])


async def test_keep_alive_reuses_one_connection_with_aiohttp(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        return web.Response(text=str(peer_port(request)))

    srv = await serve(handler)
    ports = set()
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(connector=connector) as session:
        for method in ("GET", "POST", "PUT", "GET", "DELETE", "GET"):
            async with session.request(method, srv.url(f"/{method}"), data=b"x" * 10) as resp:
                assert resp.status == 200
                ports.add(await resp.text())
    assert len(ports) == 1
    assert len(srv.server.connections) <= 1


async def test_keep_alive_on_one_raw_socket(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        body = await request.read()
        return web.Response(text=f"{request.method} {request.path} {body.decode()}")

    srv = await serve(handler)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        for i in range(5):
            writer.write(b"POST /n%d HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\n%d" % (i, i))
            response = await read_response(reader)
            assert response.body == f"POST /n{i} {i}".encode()
            assert "Connection" not in response.headers
    finally:
        await close_writer(writer)


async def test_http10_closes_unless_keep_alive_requested(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        return web.Response(text="ok")

    srv = await serve(handler)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(b"GET / HTTP/1.0\r\n\r\n")
        response = await read_response(reader)
        assert response.version == "HTTP/1.0"
        assert response.body == b"ok"
        assert await closed_by_peer(reader)
    finally:
        await close_writer(writer)

    reader, writer = await open_conn(srv.host, srv.port)
    try:
        for _ in range(3):
            writer.write(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
            response = await read_response(reader)
            assert response.body == b"ok"
            assert response.headers["Connection"].lower() == "keep-alive"
        assert not await closed_by_peer(reader, timeout=0.2)
    finally:
        await close_writer(writer)


async def test_pipelined_requests_are_answered_in_order(serve: Any) -> None:
    delays = {"/a": 0.3, "/b": 0.1, "/c": 0.0}
    events: list[str] = []

    async def handler(request: web.BaseRequest) -> web.Response:
        events.append(f"start {request.path}")
        await asyncio.sleep(delays[request.path])
        events.append(f"end {request.path}")
        return web.Response(text=f"answer {request.path}")

    srv = await serve(handler)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(get("/a") + get("/b") + get("/c"))
        bodies = [(await read_response(reader)).body for _ in range(3)]
    finally:
        await close_writer(writer)
    assert bodies == [b"answer /a", b"answer /b", b"answer /c"]
    # one request at a time per connection
    assert events == ["start /a", "end /a", "start /b", "end /b", "start /c", "end /c"]


async def test_pipelined_requests_with_bodies_and_a_small_queue(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        body = await request.read()
        await asyncio.sleep(0.005)
        return web.Response(body=request.path.encode() + b":" + body)

    srv = await serve(handler, max_pipelined=2)
    requests = b"".join(
        b"POST /%d HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%s" % (i, i, b"b" * i)
        for i in range(20)
    )
    data = await srv.raw(requests + get("/end", extra="Connection: close\r\n"))
    responses = parse_all(data)
    assert [r.body for r in responses] == [b"/%d:%s" % (i, b"b" * i) for i in range(20)] + [
        b"/end:"
    ]


async def test_connection_close_is_honoured(serve: Any) -> None:
    seen: list[str] = []

    async def handler(request: web.BaseRequest) -> web.Response:
        seen.append(request.path)
        return web.Response(text="ok")

    srv = await serve(handler)
    # a request pipelined after the closing one is never handled
    data = await srv.raw(get("/1") + get("/2", extra="Connection: close\r\n") + get("/3"))
    responses = parse_all(data)
    assert len(responses) == 2
    assert responses[1].headers["Connection"].lower() == "close"
    assert seen == ["/1", "/2"]


async def test_connection_close_from_aiohttp(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        return web.Response(text=str(request.keep_alive))

    srv = await serve(handler)
    async with (
        aiohttp.ClientSession() as session,
        session.get(srv.url(), headers={"Connection": "close"}) as response,
    ):
        assert await response.text() == "False"
        assert response.headers["Connection"].lower() == "close"


async def test_chunked_request_bodies(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        body = await request.read()
        return web.Response(text=f"{len(body)} {body[:5].decode()} {body[-5:].decode()}")

    async def gen() -> AsyncIterator[bytes]:
        for i in range(50):
            yield b"%05d" % i * 200

    srv = await serve(handler)
    async with aiohttp.ClientSession() as session:
        async with session.post(srv.url(), data=gen()) as response:
            assert await response.text() == "50000 00000 00049"
        async with session.post(srv.url(), data=gen(), chunked=True) as response:
            assert await response.text() == "50000 00000 00049"


async def test_declined_upgrade_is_a_plain_request_and_the_connection_goes_on(
    serve: Any,
) -> None:
    # e.g. curl's "Upgrade: h2c": a handler that does not switch protocols answers
    # normally, and the request pipelined behind it is the next HTTP request (issue 7.4).
    async def handler(request: web.BaseRequest) -> web.Response:
        return web.Response(text=f"plain {request.path}")

    srv = await serve(handler)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(
            b"GET /u HTTP/1.1\r\nHost: t\r\nConnection: Upgrade, HTTP2-Settings\r\n"
            b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n" + get("/next")
        )
        first = await read_response(reader)
        assert (first.status, first.body, first.closes) == (200, b"plain /u", False)
        second = await read_response(reader)
        assert (second.status, second.body, second.closes) == (200, b"plain /next", False)
        writer.write(get("/third"))  # and the connection is still usable
        third = await read_response(reader)
        assert third.body == b"plain /third"
    finally:
        await close_writer(writer)


# handler failures -------------------------------------------------------------------


async def test_http_exceptions_become_their_response(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        path = request.path
        if path == "/found":
            raise web.HTTPFound("/elsewhere?x=1")
        if path == "/moved":
            raise web.HTTPMovedPermanently(location="https://example.com/")
        if path == "/method":
            raise web.HTTPMethodNotAllowed(request.method, ["get", "POST", "put"])
        if path == "/missing":
            raise web.HTTPNotFound(text="no such thing", headers={"X-Why": "gone"})
        if path == "/teapot-json":
            raise web.HTTPBadRequest(body=b'{"error": 1}', content_type="application/json")
        if path == "/nocontent":
            raise web.HTTPNoContent(headers={"X-Done": "1"})
        if path == "/returned":
            return web.HTTPCreated(text="made")  # type: ignore[return-value]
        raise web.HTTPServiceUnavailable(headers={"Retry-After": "5"})

    srv = await serve(handler)
    async with aiohttp.ClientSession() as session:

        async def fetch(path: str, method: str = "GET") -> tuple[int, Any, bytes]:
            async with session.request(method, srv.url(path), allow_redirects=False) as r:
                return r.status, r.headers, await r.read()

        status, headers, body = await fetch("/found")
        assert status == 302
        assert headers["Location"] == "/elsewhere?x=1"
        status, headers, _ = await fetch("/moved")
        assert status == 301
        assert headers["Location"] == "https://example.com/"
        status, headers, body = await fetch("/method", "DELETE")
        assert status == 405
        assert headers["Allow"] == "GET,POST,PUT"
        assert body == b"405: Method Not Allowed"
        status, headers, body = await fetch("/missing")
        assert status == 404
        assert body == b"no such thing"
        assert headers["X-Why"] == "gone"
        assert headers["Content-Type"].startswith("text/plain")
        status, headers, body = await fetch("/teapot-json")
        assert status == 400
        assert body == b'{"error": 1}'
        assert headers["Content-Type"] == "application/json"
        status, headers, body = await fetch("/nocontent")
        assert status == 204
        assert headers["X-Done"] == "1"
        assert body == b""
        assert "Content-Length" not in headers
        status, _, body = await fetch("/returned")
        assert status == 201
        assert body == b"made"
        status, headers, body = await fetch("/other")
        assert status == 503
        assert headers["Retry-After"] == "5"
        assert body == b"503: Service Unavailable"


def test_http_exception_classes() -> None:
    assert web.HTTPNotFound().status == 404
    assert issubclass(web.HTTPNotFound, web.HTTPClientError)
    assert issubclass(web.HTTPClientError, web.HTTPError)
    assert issubclass(web.HTTPFound, web.HTTPRedirection)
    assert issubclass(web.HTTPBadGateway, web.HTTPServerError)
    assert issubclass(web.HTTPOk, web.HTTPSuccessful)
    with pytest.raises(ValueError):
        web.HTTPFound("")
    with pytest.raises(TypeError):
        web.HTTPException()
    exc = web.HTTPRequestEntityTooLarge(max_size=10, actual_size=20)
    assert exc.status == 413
    assert "10" in (exc.text or "") and "20" in (exc.text or "")


async def test_unhandled_exception_is_500_and_the_connection_keeps_serving(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        if request.path == "/boom":
            raise RuntimeError("secret internal detail")
        return web.Response(text="fine")

    srv = await serve(handler)
    caplog.set_level(logging.ERROR, logger="tidewire.server")
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(get("/boom"))
        response = await read_response(reader)
        assert response.status == 500
        assert b"secret internal detail" not in response.body
        assert b"Traceback" not in response.body
        assert b"RuntimeError" not in response.body
        assert response.body.startswith(b"500")
        writer.write(get("/ok"))
        after = await read_response(reader)
        assert after.status == 200
        assert after.body == b"fine"
    finally:
        await close_writer(writer)
    assert any(
        r.exc_info and "secret internal detail" in str(r.exc_info[1]) for r in caplog.records
    )
    async with aiohttp.ClientSession() as session, session.get(srv.url("/ok")) as again:
        assert await again.text() == "fine"


async def test_debug_puts_the_traceback_in_the_500_body(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        raise ZeroDivisionError("tell me more")

    srv = await serve(handler, debug=True)
    async with aiohttp.ClientSession() as session, session.get(srv.url()) as response:
        body = await response.text()
    assert response.status == 500
    assert "Traceback" in body
    assert "ZeroDivisionError: tell me more" in body


@pytest.mark.parametrize("value", [None, "a string", 42, {"a": 1}])
async def test_handler_returning_a_non_response_is_500(serve: Any, value: Any) -> None:
    async def handler(request: web.BaseRequest) -> Any:
        if request.path == "/ok":
            return web.Response(text="ok")
        return value

    srv = await serve(handler)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(get("/bad", extra="Connection: close\r\n"))
        data, closed = await read_until_close(reader, timeout=2)
    finally:
        await close_writer(writer)
    assert data.startswith(b"HTTP/1.1 500 "), f"no 500 response; got {data!r}"
    assert closed
    async with aiohttp.ClientSession() as session, session.get(srv.url("/ok")) as again:
        assert await again.text() == "ok"


async def test_exception_after_the_head_was_sent_closes_the_connection(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        if request.path == "/ok":
            return web.Response(text="ok")
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"partial")
        raise RuntimeError("mid-stream failure")

    srv = await serve(handler)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(get("/fail"))
        data, closed = await read_until_close(reader, timeout=2)
    finally:
        await close_writer(writer)
    assert closed, f"connection left open after a failed stream; got {data!r}"
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert b"chunked" in head.lower()
    # the body is cut short: no terminating chunk, no second status line
    assert body == b"7\r\npartial\r\n"
    async with aiohttp.ClientSession() as session, session.get(srv.url("/ok")) as again:
        assert await again.text() == "ok"


async def test_many_concurrent_connections(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        await asyncio.sleep(0.05)
        return web.Response(text=request.query["i"])

    srv = await serve(handler)
    connector = aiohttp.TCPConnector(limit=50)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(i: int) -> str:
            async with session.get(srv.url(f"/?i={i}")) as response:
                return await response.text()

        results = await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(100))), 10)
    assert results == [str(i) for i in range(100)]
