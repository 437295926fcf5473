"""Response(body=...) takes what aiohttp's does: str, bytes-likes, file objects (streamed),
async iterables (chunked), with aiohttp's Content-Type defaults; checked on the wire."""

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from httpwire import close_writer, get, open_conn, read_response, read_until_close

from tidewire import web


class RecordingBytesIO(io.BytesIO):
    """A file body that remembers how much each read asked for."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.reads: list[int] = []

    def read(self, size: int | None = -1) -> bytes:
        self.reads.append(-1 if size is None else size)
        return super().read(size)


class Unseekable:
    """A readable with no size: the body must go chunked."""

    def __init__(self, data: bytes) -> None:
        self._stream = io.BytesIO(data)
        self.closed = False

    def read(self, size: int = -1) -> bytes:
        return self._stream.read(size)

    def close(self) -> None:
        self.closed = True


async def agen(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def test_construction_defaults() -> None:
    response = web.Response(body="h\u00e9")
    assert response.body == "h\u00e9".encode()
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    response = web.Response(body="h\u00e9", charset="latin-1")
    assert response.body == b"h\xe9"
    assert response.headers["Content-Type"] == "text/plain; charset=latin-1"
    response = web.Response(body="h\u00e9", content_type="text/html; charset=latin-1")
    assert response.body == b"h\xe9"
    assert response.headers["Content-Type"] == "text/html; charset=latin-1"
    response = web.Response(body="<p>", content_type="text/html")
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    for body in (bytearray(b"ab"), memoryview(b"ab")):
        response = web.Response(body=body)
        assert response.body == b"ab"
        assert response.headers["Content-Type"] == "application/octet-stream"
    stream = io.BytesIO(b"x")
    response = web.Response(body=stream)
    assert response.body is stream
    assert response.headers["Content-Type"] == "application/octet-stream"
    with pytest.raises(TypeError):
        web.Response(body=12)
    with pytest.raises(TypeError):
        web.Response(body=["not", "a", "body"])


async def test_str_and_bytes_likes_on_the_wire(serve: Any) -> None:
    bodies: dict[str, Any] = {
        "/str": lambda: web.Response(body="h\u00e9llo"),
        "/latin": lambda: web.Response(body="h\u00e9llo", charset="latin-1"),
        "/bytearray": lambda: web.Response(body=bytearray(b"xy")),
        "/memoryview": lambda: web.Response(body=memoryview(b"xyz")[1:]),
    }

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        return bodies[request.path]()  # type: ignore[no-any-return]

    srv = await serve(handler)
    async with aiohttp.ClientSession() as session:
        expected = {
            "/str": ("text/plain; charset=utf-8", "h\u00e9llo".encode()),
            "/latin": ("text/plain; charset=latin-1", b"h\xe9llo"),
            "/bytearray": ("application/octet-stream", b"xy"),
            "/memoryview": ("application/octet-stream", b"yz"),
        }
        for path, (content_type, body) in expected.items():
            async with session.get(srv.url(path)) as resp:
                assert resp.headers["Content-Type"] == content_type
                assert resp.headers["Content-Length"] == str(len(body))
                assert await resp.read() == body


async def test_file_objects_are_streamed_in_chunks(serve: Any, tmp_path: Path) -> None:
    data = os.urandom(5 * 1024 * 1024 + 3)
    (tmp_path / "report.json").write_bytes(data)
    opened: list[Any] = []

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        body: Any
        if request.path == "/bytesio":
            body = RecordingBytesIO(data)
            body.seek(10)  # the body is what is left from the position
        elif request.path == "/named":
            body = open(tmp_path / "report.json", "rb")  # noqa: SIM115 (the response closes it)
        else:
            body = Unseekable(data)
        opened.append(body)
        return web.Response(body=body)

    srv = await serve(handler)
    async with aiohttp.ClientSession() as session:
        async with session.get(srv.url("/bytesio")) as resp:
            assert resp.headers["Content-Length"] == str(len(data) - 10)
            assert await resp.read() == data[10:]
        assert max(opened[0].reads) <= 64 * 1024  # never read whole
        assert opened[0].closed
        async with session.get(srv.url("/named")) as resp:
            assert resp.headers["Content-Type"] == "application/json"
            assert resp.headers["Content-Disposition"] == 'attachment; filename="report.json"'
            assert resp.headers["Content-Length"] == str(len(data))
            assert await resp.read() == data
        assert opened[1].closed
        async with session.get(srv.url("/unseekable")) as resp:
            assert "Content-Length" not in resp.headers
            assert resp.headers["Transfer-Encoding"] == "chunked"
            assert await resp.read() == data
        assert opened[2].closed


async def test_text_file_is_encoded_with_the_charset(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        return web.Response(body=io.StringIO("caf\u00e9"), charset="latin-1")

    srv = await serve(handler)
    async with aiohttp.ClientSession() as session, session.get(srv.url()) as resp:
        assert resp.headers["Content-Type"] == "text/plain; charset=latin-1"
        assert await resp.read() == b"caf\xe9"


async def test_async_iterable_is_chunked_and_the_connection_goes_on(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        if request.path == "/gen":
            return web.Response(body=agen(b"ab", b"", b"cde"))
        return web.Response(text="next")

    srv = await serve(handler)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(get("/gen") + get("/next"))
        first = await read_response(reader)
        assert first.headers["Transfer-Encoding"] == "chunked"
        assert first.headers["Content-Type"] == "application/octet-stream"
        assert first.raw_body == b"2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n"
        second = await read_response(reader)
        assert second.body == b"next"
    finally:
        await close_writer(writer)


async def test_async_iterable_over_http_10_is_close_delimited(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        return web.Response(body=agen(b"ab", b"cd"))

    srv = await serve(handler)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(get("/", version="1.0"))
        data, closed = await read_until_close(reader)
        assert closed
        head, _, body = data.partition(b"\r\n\r\n")
        assert b"Transfer-Encoding" not in head
        assert body == b"abcd"
    finally:
        await close_writer(writer)


async def test_head_reads_nothing_from_the_file(serve: Any) -> None:
    bodies: list[RecordingBytesIO] = []

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        bodies.append(RecordingBytesIO(b"0123456789"))
        return web.Response(body=bodies[-1])

    srv = await serve(handler)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n" + get("/"))
        head = await read_response(reader, method="HEAD")
        assert head.headers["Content-Length"] == "10"
        full = await read_response(reader)
        assert full.body == b"0123456789"
    finally:
        await close_writer(writer)
    assert bodies[0].reads == []
    assert bodies[0].closed


async def test_compressed_file_body(serve: Any) -> None:
    data = b"compress me " * 10000

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        response = web.Response(body=io.BytesIO(data))
        response.enable_compression()
        return response

    srv = await serve(handler)
    async with aiohttp.ClientSession() as session, session.get(srv.url()) as resp:
        assert resp.headers["Content-Encoding"] == "gzip"
        assert await resp.read() == data
