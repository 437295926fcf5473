"""Responses: construction rules, framing on the wire, HEAD/204/304, cookies, compression."""

from __future__ import annotations

import asyncio
import datetime
import gzip
import json
import zlib
from email.utils import parsedate_to_datetime
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
)

from tidewire import web

# construction rules (no sockets) ----------------------------------------------------


def test_response_text_defaults_to_text_plain_utf8() -> None:
    response = web.Response(text="h\u00e9")
    assert response.body == "h\u00e9".encode()
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content_type == "text/plain"
    assert response.charset == "utf-8"
    assert response.text == "h\u00e9"
    assert response.status == 200
    assert response.reason == "OK"


def test_response_text_with_content_type_and_charset() -> None:
    response = web.Response(text="caf\u00e9", content_type="text/html", charset="latin-1")
    assert response.body == b"caf\xe9"
    assert response.content_type == "text/html"
    assert response.charset == "latin-1"
    assert response.text == "caf\u00e9"


def test_response_body_defaults_to_octet_stream() -> None:
    response = web.Response(body=b"\x00\x01")
    assert response.body == b"\x00\x01"
    assert response.content_type == "application/octet-stream"
    assert response.charset is None
    response = web.Response(body=bytearray(b"ab"), content_type="image/png")
    assert response.body == b"ab"
    assert isinstance(response.body, bytes)
    assert response.headers["Content-Type"] == "image/png"


def test_response_empty_has_no_content_type() -> None:
    response = web.Response(status=201)
    assert response.body == b""
    assert "Content-Type" not in response.headers
    assert response.reason == "Created"


def test_response_custom_reason_and_headers() -> None:
    response = web.Response(status=299, reason="Fine", headers={"X-A": "1"})
    assert response.status == 299
    assert response.reason == "Fine"
    assert response.headers["x-a"] == "1"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"body": b"a", "text": "b"}, ValueError),
        (
            {"text": "a", "content_type": "text/plain; charset=utf-8", "charset": "utf-8"},
            ValueError,
        ),
        ({"text": "a", "headers": {"Content-Type": "x/y"}, "content_type": "a/b"}, ValueError),
        ({"text": "a", "headers": {"Content-Type": "x/y"}, "charset": "utf-8"}, ValueError),
        ({"text": b"bytes"}, TypeError),
        ({"body": 12}, TypeError),
    ],
)
def test_response_invalid_arguments(kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        web.Response(**kwargs)


def test_response_content_type_and_charset_setters() -> None:
    response = web.Response(text="x")
    response.content_type = "application/xml"
    assert response.headers["Content-Type"] == "application/xml; charset=utf-8"
    response.charset = "ascii"
    assert response.headers["Content-Type"] == "application/xml; charset=ascii"
    response.charset = None
    assert response.headers["Content-Type"] == "application/xml"


def test_stream_response_framing_rules() -> None:
    response = web.StreamResponse()
    response.content_length = 10
    assert response.content_length == 10
    assert response.headers["Content-Length"] == "10"
    with pytest.raises(RuntimeError):
        response.enable_chunked_encoding()
    response.content_length = None
    assert "Content-Length" not in response.headers
    response.enable_chunked_encoding()
    assert response.chunked is True
    with pytest.raises(RuntimeError):
        response.content_length = 5
    with pytest.raises(ValueError):
        response.enable_compression(force="br")


def test_json_response_construction() -> None:
    response = web.json_response({"a": [1, 2], "b": None})
    assert json.loads(response.body) == {"a": [1, 2], "b": None}
    assert response.content_type == "application/json"
    assert response.charset == "utf-8"
    response = web.json_response(text='{"x": 1}', status=201)
    assert response.body == b'{"x": 1}'
    assert response.status == 201
    response = web.json_response([1], dumps=lambda data: "[\n1\n]")
    assert response.body == b"[\n1\n]"
    with pytest.raises(ValueError):
        web.json_response({"a": 1}, text="{}")


# on the wire ------------------------------------------------------------------------


async def test_response_sent_with_content_length_date_and_server(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        return web.Response(text="hello", headers={"X-Custom": "yes"})

    srv = await serve(handler)
    (response,) = parse_all(await srv.raw(get(extra="Connection: close\r\n")))
    assert response.version == "HTTP/1.1"
    assert response.status == 200
    assert response.reason == "OK"
    assert response.body == b"hello"
    assert response.headers["Content-Length"] == "5"
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["X-Custom"] == "yes"
    assert response.headers["Server"] == "tidewire"
    assert "Transfer-Encoding" not in response.headers
    sent = parsedate_to_datetime(response.headers["Date"])
    assert sent.tzinfo is not None
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs((now - sent).total_seconds()) < 5
    assert response.headers["Date"].endswith(" GMT")


async def test_server_header_can_be_disabled_or_overridden(serve: Any) -> None:
    async def plain(request: web.BaseRequest) -> web.Response:
        return web.Response(text="x")

    async def custom(request: web.BaseRequest) -> web.Response:
        return web.Response(text="x", headers={"Server": "mine/1.0"})

    srv = await serve(plain, server_header="")
    (response,) = parse_all(await srv.raw(get(extra="Connection: close\r\n")))
    assert "Server" not in response.headers
    srv = await serve(custom)
    (response,) = parse_all(await srv.raw(get(extra="Connection: close\r\n")))
    assert response.headers.getall("Server") == ["mine/1.0"]


async def test_stream_response_is_chunked_on_the_wire(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        await response.write(b"hello")
        await response.write(b"")  # nothing, not a terminating chunk
        await response.write(b" ")
        await response.write(bytearray(b"world"))
        await response.write(memoryview(b"0123456789abcdefXYZ"))
        await response.write_eof()
        return response

    srv = await serve(handler)
    (response,) = parse_all(await srv.raw(get(extra="Connection: close\r\n")))
    assert response.status == 200
    assert response.headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in response.headers
    assert response.raw_body == (
        b"5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n13\r\n0123456789abcdefXYZ\r\n0\r\n\r\n"
    )


async def test_stream_response_write_eof_with_data(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"ab")
        await response.write_eof(b"cd")
        await response.write_eof()  # twice is harmless
        return response

    srv = await serve(handler)
    (response,) = parse_all(await srv.raw(get(extra="Connection: close\r\n")))
    assert response.raw_body == b"2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n"


async def test_stream_response_with_content_length_is_not_chunked(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_length = 10
        await response.prepare(request)
        await response.write(b"01234")
        await response.write(b"56789")
        await response.write_eof()
        return response

    srv = await serve(handler)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(get() + get("/again"))
        first = await read_response(reader)
        second = await read_response(reader)
    finally:
        await close_writer(writer)
    for response in (first, second):
        assert response.headers["Content-Length"] == "10"
        assert "Transfer-Encoding" not in response.headers
        assert response.body == b"0123456789"


async def test_stream_response_misuse_raises(serve: Any) -> None:
    errors: list[str] = []

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        response = web.StreamResponse()
        try:
            await response.write(b"x")
        except RuntimeError:
            errors.append("write-before-prepare")
        await response.prepare(request)
        try:
            response.set_status(404)
        except RuntimeError:
            errors.append("status-after-prepare")
        await response.write_eof()
        try:
            await response.write(b"late")
        except RuntimeError:
            errors.append("write-after-eof")
        return response

    srv = await serve(handler)
    (response,) = parse_all(await srv.raw(get(extra="Connection: close\r\n")))
    assert response.status == 200
    assert response.body == b""
    assert errors == ["write-before-prepare", "status-after-prepare", "write-after-eof"]


async def test_large_streamed_body_arrives_intact(serve: Any) -> None:
    piece = bytes(range(256)) * 256  # 64 KiB
    count = 64  # 4 MiB in all, more than any socket buffer: drain() must work

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for i in range(count):
            await response.write(bytes([i]) + piece[1:])
        await response.write_eof()
        return response

    srv = await serve(handler)
    async with aiohttp.ClientSession() as session, session.get(srv.url("/big")) as response:
        total = bytearray()
        async for chunk in response.content.iter_chunked(100_000):
            total += chunk
            await asyncio.sleep(0)
    assert len(total) == count * len(piece)
    for i in range(count):
        block = total[i * len(piece) : (i + 1) * len(piece)]
        assert block == bytes([i]) + piece[1:]


async def test_http10_stream_without_length_ends_with_close(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"part1-")
        await response.write(b"part2")
        await response.write_eof()
        return response

    srv = await serve(handler)
    # the client asks for keep-alive; without a length the server cannot give it
    data = await srv.raw(get(version="1.0", extra="Connection: keep-alive\r\n"))
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200 OK\r\n")
    assert b"transfer-encoding" not in head.lower()
    assert b"content-length" not in head.lower()
    assert b"connection: close" in head.lower()
    assert body == b"part1-part2"


async def test_http10_keep_alive_response_says_so(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        return web.Response(text="ten")

    srv = await serve(handler)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(get(version="1.0", extra="Connection: keep-alive\r\n"))
        first = await read_response(reader)
        assert first.version == "HTTP/1.0"
        assert first.headers["Connection"].lower() == "keep-alive"
        assert first.body == b"ten"
        writer.write(get(version="1.0"))
        second = await read_response(reader)
        assert second.body == b"ten"
        assert second.headers.get("Connection", "").lower() != "keep-alive"
        assert await closed_by_peer(reader)
    finally:
        await close_writer(writer)


@pytest.mark.parametrize("kind", ["response", "stream", "stream-with-length"])
async def test_head_has_get_headers_and_no_body(serve: Any, kind: str) -> None:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        if kind == "response":
            return web.Response(text="x" * 1234, headers={"X-Kind": kind})
        response = web.StreamResponse(headers={"X-Kind": kind})
        if kind == "stream-with-length":
            response.content_length = 1234
        await response.prepare(request)
        await response.write(b"x" * 1000)
        await response.write(b"x" * 234)
        await response.write_eof()
        return response

    srv = await serve(handler)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(get("/r"))
        via_get = await read_response(reader)
        writer.write(b"HEAD /r HTTP/1.1\r\nHost: t\r\n\r\n")
        via_head = await read_response(reader, method="HEAD")
        # the next response must start right after the HEAD response's head
        writer.write(get("/after"))
        after = await read_response(reader)
    finally:
        await close_writer(writer)
    assert via_get.body == b"x" * 1234
    assert via_head.status == 200
    assert via_head.headers["X-Kind"] == kind
    for name in ("Content-Type", "Content-Length", "Transfer-Encoding"):
        assert via_head.headers.get(name) == via_get.headers.get(name), name
    if kind != "stream":
        assert via_head.headers["Content-Length"] == "1234"
    assert after.status == 200
    assert after.body == b"x" * 1234


@pytest.mark.parametrize("status", [204, 304])
async def test_no_body_statuses(serve: Any, status: int) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        if request.path == "/stream":
            response = web.StreamResponse(status=status)
            await response.prepare(request)
            await response.write(b"must not be sent")
            await response.write_eof()
            return response
        return web.Response(status=status, text="must not be sent")

    srv = await serve(handler)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        for path in ("/response", "/stream"):
            writer.write(get(path))
            response = await read_response(reader)
            assert response.status == status
            assert "Content-Length" not in response.headers
            assert "Transfer-Encoding" not in response.headers
        # nothing of a body may sit between the responses
        writer.write(get("/response"))
        response = await read_response(reader)
        assert response.status == status
        writer.write(b"OPTIONS * HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        last = await asyncio.wait_for(reader.read(), 5)
        assert last.startswith(f"HTTP/1.1 {status} ".encode())
        assert b"must not" not in last
    finally:
        await close_writer(writer)


async def test_set_cookie_and_del_cookie(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        response = web.Response(text="c")
        response.set_cookie("plain", "v1")
        response.set_cookie(
            "full",
            "v2",
            domain="example.com",
            path="/app",
            max_age=3600,
            secure=True,
            httponly=True,
            samesite="Strict",
        )
        response.del_cookie("gone")
        return response

    srv = await serve(handler)
    async with aiohttp.ClientSession() as session, session.get(srv.url()) as response:
        cookies = response.headers.getall("Set-Cookie")
    assert len(cookies) == 3
    by_name = {c.split("=", 1)[0]: c for c in cookies}
    plain = [p.strip() for p in by_name["plain"].split(";")]
    assert plain[0] == "plain=v1"
    assert "Path=/" in plain
    full = [p.strip().lower() for p in by_name["full"].split(";")]
    assert full[0] == "full=v2"
    for attribute in (
        "domain=example.com",
        "path=/app",
        "max-age=3600",
        "secure",
        "httponly",
        "samesite=strict",
    ):
        assert attribute in full, attribute
    gone = [p.strip().lower() for p in by_name["gone"].split(";")]
    assert gone[0] in ('gone=""', "gone=")
    assert "max-age=0" in gone
    assert any(p.startswith("expires=thu, 01 jan 1970") for p in gone)


async def test_cookies_reach_aiohttp_cookie_jar(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        if request.path == "/set":
            response = web.Response(text="set")
            response.set_cookie("session", "abc123")
            return response
        return web.Response(text=request.cookies.get("session", "none"))

    srv = await serve(handler)
    jar = aiohttp.CookieJar(unsafe=True)  # cookies for an IP address host
    async with aiohttp.ClientSession(cookie_jar=jar) as session:
        async with session.get(srv.url("/set")) as response:
            assert await response.text() == "set"
        async with session.get(srv.url("/read")) as response:
            assert await response.text() == "abc123"


def _decode(coding: str, data: bytes) -> bytes:
    if coding == "gzip":
        return gzip.decompress(data)
    assert coding == "deflate"
    return zlib.decompress(data)


PAYLOAD = b"tidewire compresses this. " * 400


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("gzip, deflate", "gzip"),
        ("deflate, gzip", "gzip"),
        ("deflate", "deflate"),
        ("gzip", "gzip"),
        ("GZIP", "gzip"),
        ("identity", None),
        ("", None),
        ("gzip;q=0, deflate", "deflate"),
        ("gzip;q=0", None),
    ],
)
@pytest.mark.parametrize("streamed", [False, True])
async def test_enable_compression_follows_accept_encoding(
    serve: Any, accept: str, expected: str | None, streamed: bool
) -> None:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        if not streamed:
            response = web.Response(body=PAYLOAD, content_type="text/plain")
            response.enable_compression()
            return response
        stream = web.StreamResponse()
        stream.enable_compression()
        await stream.prepare(request)
        for i in range(0, len(PAYLOAD), 1000):
            await stream.write(PAYLOAD[i : i + 1000])
        await stream.write_eof()
        return stream

    srv = await serve(handler)
    headers = {"Accept-Encoding": accept} if accept else {}
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        # aiohttp adds its own Accept-Encoding unless told which one to send
        headers.setdefault("Accept-Encoding", "")
        async with session.get(srv.url(), headers=headers) as response:
            raw = await response.read()
            coding = response.headers.get("Content-Encoding")
            length = response.headers.get("Content-Length")
    assert coding == expected
    if expected is None:
        assert raw == PAYLOAD
        return
    assert len(raw) < len(PAYLOAD) // 5
    assert _decode(expected, raw) == PAYLOAD
    if not streamed:
        assert length == str(len(raw))
    else:
        assert length is None


@pytest.mark.parametrize("force", ["gzip", "deflate"])
async def test_enable_compression_forced(serve: Any, force: str) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        response = web.Response(body=PAYLOAD)
        response.enable_compression(force=force)
        return response

    srv = await serve(handler)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(get())  # no Accept-Encoding at all
        response = await read_response(reader)
    finally:
        await close_writer(writer)
    assert response.headers["Content-Encoding"] == force
    assert "Accept-Encoding" in response.headers.get("Vary", "")
    assert _decode(force, response.body) == PAYLOAD


async def test_aiohttp_decompresses_transparently(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        response = web.Response(body=PAYLOAD)
        response.enable_compression()
        return response

    srv = await serve(handler)
    async with aiohttp.ClientSession() as session, session.get(srv.url()) as response:
        assert response.headers["Content-Encoding"] in ("gzip", "deflate")
        assert await response.read() == PAYLOAD


async def test_json_response_on_the_wire(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        return web.json_response({"greeting": "h\u00e9llo", "n": [1, 2, 3]}, status=201)

    srv = await serve(handler)
    async with aiohttp.ClientSession() as session, session.get(srv.url()) as response:
        assert response.status == 201
        assert response.content_type == "application/json"
        assert response.charset == "utf-8"
        assert await response.json() == {"greeting": "h\u00e9llo", "n": [1, 2, 3]}


@pytest.mark.parametrize(
    "where",
    ["header-value", "header-name", "reason", "stream-prepare", "cookie-value"],
)
async def test_header_injection_becomes_500_and_nothing_leaks(serve: Any, where: str) -> None:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        if where == "header-value":
            response = web.Response(text="secret-body")
            response.headers["X-Bad"] = "ok\r\nX-Injected: yes"
            return response
        if where == "header-name":
            return web.Response(text="secret-body", headers={"X-Bad\r\nX-Injected": "yes"})
        if where == "reason":
            return web.Response(text="secret-body", reason="OK\r\nX-Injected: yes")
        if where == "cookie-value":
            response = web.Response(text="secret-body")
            response.headers["Set-Cookie"] = "a=b\nX-Injected: yes"
            return response
        stream = web.StreamResponse(headers={"X-Bad": "a\nX-Injected: yes"})
        await stream.prepare(request)
        await stream.write(b"secret-body")
        return stream

    srv = await serve(handler)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(get("/bad"))
        response = await read_response(reader)
        raw = response.raw_head + response.body
        assert response.status == 500
        assert b"X-Injected" not in raw
        assert b"X-Bad" not in raw
        assert b"secret-body" not in raw
        # the connection (or at least the server) is still usable
        if response.closes:
            await close_writer(writer)
            reader, writer = await open_conn(srv.host, srv.port)
        writer.write(get("/bad"))
        again = await read_response(reader)
        assert again.status == 500
    finally:
        await close_writer(writer)


async def test_force_close_closes_after_the_response(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        response = web.Response(text="bye")
        response.force_close()
        return response

    srv = await serve(handler)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(get())  # keep-alive by default in HTTP/1.1
        response = await read_response(reader)
        assert response.body == b"bye"
        assert response.headers["Connection"].lower() == "close"
        assert await closed_by_peer(reader)
    finally:
        await close_writer(writer)


async def test_handler_connection_close_header_closes(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        return web.Response(text="x", headers={"Connection": "close"})

    srv = await serve(handler)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(get())
        response = await read_response(reader)
        assert response.headers["Connection"] == "close"
        assert await closed_by_peer(reader)
    finally:
        await close_writer(writer)


async def test_arbitrary_status_codes_and_bodies(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> Any:
        code = int(request.path.strip("/"))
        return web.Response(status=code, text=f"status {code}")

    srv = await serve(handler)
    async with aiohttp.ClientSession() as session:
        for code in (200, 201, 202, 400, 403, 404, 418, 500, 503):
            async with session.get(srv.url(f"/{code}")) as response:
                assert response.status == code
                assert await response.text() == f"status {code}"
