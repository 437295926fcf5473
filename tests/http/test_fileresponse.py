"""FileResponse against aiohttp's client and raw sockets: validators, ranges, HEAD,
precompressed siblings, sendfile and its fallback (TLS, forced), no descriptor leak."""

from __future__ import annotations

import asyncio
import gzip
import os
import socket
import ssl
import struct
from pathlib import Path
from typing import Any

import aiohttp
import brotli
import pytest
import trustme
from httpwire import close_writer, get, open_conn, read_response

from tidewire import web
from tidewire.http import fileresponse
from tidewire.http.validators import last_modified_header

CONTENT = bytes(range(256)) * 64  # 16 KiB


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "data.txt").write_bytes(CONTENT)
    (tmp_path / "page.html").write_bytes(b"<p>hello</p>" * 100)
    (tmp_path / "page.html.gz").write_bytes(gzip.compress(b"<p>hello</p>" * 100))
    (tmp_path / "page.html.br").write_bytes(brotli.compress(b"<p>hello</p>" * 100))
    (tmp_path / "blob.unknownext").write_bytes(b"x")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "sub").mkdir()
    return tmp_path


def file_handler(root: Path, **kwargs: Any) -> Any:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        return web.FileResponse(root / request.path.lstrip("/"), **kwargs)

    return handler


async def test_whole_file_with_validators(serve: Any, files: Path) -> None:
    srv = await serve(file_handler(files))
    info = os.stat(files / "data.txt")
    async with aiohttp.ClientSession() as session, session.get(srv.url("/data.txt")) as resp:
        assert resp.status == 200
        assert await resp.read() == CONTENT
        assert resp.headers["Content-Type"] == "text/plain"
        assert resp.headers["Content-Length"] == str(len(CONTENT))
        assert resp.headers["ETag"] == f'"{info.st_mtime_ns:x}-{info.st_size:x}"'
        assert resp.headers["Accept-Ranges"] == "bytes"
        assert resp.headers["Last-Modified"] == last_modified_header(info.st_mtime)
        assert "Vary" not in resp.headers
        assert "Content-Encoding" not in resp.headers


async def test_content_type_guess_and_override(serve: Any, files: Path) -> None:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        if request.path == "/forced":
            return web.FileResponse(files / "data.txt", headers={"Content-Type": "x/y"})
        return web.FileResponse(files / request.path.lstrip("/"))

    srv = await serve(handler)
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        for path, expected in [
            ("/page.html", "text/html"),
            ("/blob.unknownext", "application/octet-stream"),
            ("/forced", "x/y"),
        ]:
            async with session.get(srv.url(path), headers={"Accept-Encoding": "identity"}) as r:
                assert r.headers["Content-Type"] == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.txt", "text/plain"),
        ("a.tar.gz", "application/gzip"),
        ("a.js.br", "application/x-brotli"),
        ("a.xz", "application/x-xz"),
        ("noext", "application/octet-stream"),
    ],
)
def test_content_type_for(name: str, expected: str) -> None:
    assert fileresponse.content_type_for(name) == expected


async def test_compressed_file_itself_is_sent_as_stored(serve: Any, files: Path) -> None:
    srv = await serve(file_handler(files))
    async with (
        aiohttp.ClientSession(auto_decompress=False) as session,
        session.get(srv.url("/page.html.gz")) as resp,
    ):
        assert resp.headers["Content-Type"] == "application/gzip"
        assert "Content-Encoding" not in resp.headers
        assert await resp.read() == (files / "page.html.gz").read_bytes()


async def test_empty_file(serve: Any, files: Path) -> None:
    srv = await serve(file_handler(files))
    async with aiohttp.ClientSession() as session, session.get(srv.url("/empty.txt")) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Length"] == "0"
        assert await resp.read() == b""


async def test_missing_is_404_and_directory_is_403(serve: Any, files: Path) -> None:
    srv = await serve(file_handler(files))
    async with aiohttp.ClientSession() as session:
        async with session.get(srv.url("/nope.txt")) as resp:
            assert resp.status == 404
            assert await resp.read() == b""
        async with session.get(srv.url("/sub")) as resp:
            assert resp.status == 403
        async with session.get(srv.url("/data.txt")) as resp:  # same connection goes on
            assert await resp.read() == CONTENT


async def test_conditional_requests(serve: Any, files: Path) -> None:
    srv = await serve(file_handler(files))
    async with aiohttp.ClientSession() as session:
        async with session.get(srv.url("/data.txt")) as resp:
            etag, modified = resp.headers["ETag"], resp.headers["Last-Modified"]
        cases = [
            ({"If-None-Match": etag}, 304),
            ({"If-None-Match": '"stale"'}, 200),
            ({"If-Modified-Since": modified}, 304),
            ({"If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"}, 200),
            ({"If-Match": '"stale"'}, 412),
            ({"If-Match": etag}, 200),
            ({"If-Unmodified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"}, 412),
        ]
        for headers, status in cases:
            async with session.get(srv.url("/data.txt"), headers=headers) as resp:
                body = await resp.read()
                assert resp.status == status, headers
                assert body == (CONTENT if status == 200 else b"")
                assert resp.headers["ETag"] == etag
                if status == 304:
                    assert "Content-Length" not in resp.headers


async def test_ranges(serve: Any, files: Path) -> None:
    srv = await serve(file_handler(files))
    size = len(CONTENT)
    async with aiohttp.ClientSession() as session:
        async with session.get(srv.url("/data.txt"), headers={"Range": "bytes=100-299"}) as r:
            assert r.status == 206
            assert await r.read() == CONTENT[100:300]
            assert r.headers["Content-Range"] == f"bytes 100-299/{size}"
            assert r.headers["Content-Length"] == "200"
            etag = r.headers["ETag"]
        async with session.get(srv.url("/data.txt"), headers={"Range": "bytes=-10"}) as r:
            assert r.status == 206
            assert await r.read() == CONTENT[-10:]
        async with session.get(srv.url("/data.txt"), headers={"Range": f"bytes={size}-"}) as r:
            assert r.status == 416
            assert r.headers["Content-Range"] == f"bytes */{size}"
            assert await r.read() == b""
        headers = {"Range": "bytes=0-9", "If-Range": etag}
        async with session.get(srv.url("/data.txt"), headers=headers) as r:
            assert r.status == 206
            assert await r.read() == CONTENT[:10]
        headers = {"Range": "bytes=0-9", "If-Range": '"changed"'}
        async with session.get(srv.url("/data.txt"), headers=headers) as r:
            assert r.status == 200
            assert await r.read() == CONTENT
        async with session.get(srv.url("/data.txt"), headers={"Range": "bytes=0-1,4-5"}) as r:
            assert r.status == 200  # several ranges: the whole file (documented choice)
            assert await r.read() == CONTENT


async def test_head_sends_headers_only_and_connection_goes_on(serve: Any, files: Path) -> None:
    srv = await serve(file_handler(files))
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(b"HEAD /data.txt HTTP/1.1\r\nHost: t\r\n\r\n" + get("/data.txt"))
        head = await read_response(reader, method="HEAD")
        assert head.status == 200
        assert head.headers["Content-Length"] == str(len(CONTENT))
        full = await read_response(reader)
        assert full.status == 200
        assert full.body == CONTENT
        writer.write(get("/data.txt", extra="Range: bytes=1-3\r\n"))
        partial = await read_response(reader)
        assert partial.status == 206
        assert partial.body == CONTENT[1:4]
    finally:
        await close_writer(writer)


@pytest.mark.parametrize(
    ("accept", "coding"),
    [("gzip, deflate, br", "br"), ("gzip", "gzip"), ("br;q=0, gzip", "gzip"), ("identity", None)],
)
async def test_precompressed_siblings(
    serve: Any, files: Path, accept: str, coding: str | None
) -> None:
    srv = await serve(file_handler(files))
    plain = (files / "page.html").read_bytes()
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        headers = {"Accept-Encoding": accept}
        async with session.get(srv.url("/page.html"), headers=headers) as resp:
            raw = await resp.read()
            assert resp.headers["Content-Type"] == "text/html"
            assert resp.headers["Vary"] == "Accept-Encoding"
            assert resp.headers.get("Content-Encoding") == coding
            suffix = {"br": ".br", "gzip": ".gz", None: ""}[coding]
            assert raw == (files / f"page.html{suffix}").read_bytes()
    async with aiohttp.ClientSession() as session:  # aiohttp decodes it back
        headers = {"Accept-Encoding": accept}
        async with session.get(srv.url("/page.html"), headers=headers) as resp:
            assert await resp.read() == plain


async def test_big_file_sendfile_and_chunked_fallback(
    serve: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = os.urandom(3 * 1024 * 1024 + 7)
    (tmp_path / "big.bin").write_bytes(data)
    srv = await serve(file_handler(tmp_path, chunk_size=64 * 1024))
    async with aiohttp.ClientSession() as session:
        async with session.get(srv.url("/big.bin")) as resp:
            assert await resp.read() == data
        monkeypatch.setattr(fileresponse, "NOSENDFILE", True)
        async with session.get(srv.url("/big.bin")) as resp:
            assert await resp.read() == data
        headers = {"Range": "bytes=1000000-2000000"}
        async with session.get(srv.url("/big.bin"), headers=headers) as resp:
            assert await resp.read() == data[1000000:2000001]


async def test_tls_uses_the_chunked_fallback(serve: Any, tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    client_ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ca.configure_trust(client_ctx)
    data = os.urandom(1024 * 1024 + 3)
    (tmp_path / "big.bin").write_bytes(data)
    srv = await serve(file_handler(tmp_path), ssl_context=server_ctx)
    connector = aiohttp.TCPConnector(ssl=client_ctx)
    async with aiohttp.ClientSession(connector=connector) as session:
        async with session.get(srv.url("/big.bin", scheme="https")) as resp:
            assert await resp.read() == data
        headers = {"Range": "bytes=5-"}
        async with session.get(srv.url("/big.bin", scheme="https"), headers=headers) as resp:
            assert resp.status == 206
            assert await resp.read() == data[5:]


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize("nosendfile", [False, True])
async def test_no_descriptor_leak_when_client_leaves_mid_file(
    serve: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nosendfile: bool
) -> None:
    monkeypatch.setattr(fileresponse, "NOSENDFILE", nosendfile)
    with open(tmp_path / "huge.bin", "wb") as f:
        f.truncate(256 * 1024 * 1024)  # sparse: far more than socket buffers hold
    outcomes: list[BaseException | None] = []
    done = asyncio.Event()

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        response = web.FileResponse(tmp_path / "huge.bin")
        try:
            await response.prepare(request)
            outcomes.append(None)
        except BaseException as exc:
            outcomes.append(exc)
            raise
        finally:
            done.set()
        return response

    srv = await serve(handler)
    before = _open_fds()
    for _ in range(3):
        done.clear()
        reader, writer = await open_conn(srv.host, srv.port)
        sock = writer.get_extra_info("socket")
        writer.write(get("/huge.bin"))
        received = 0
        while received < 100_000:
            chunk = await asyncio.wait_for(reader.read(65536), 5)
            assert chunk
            received += len(chunk)
        # abortive close (RST), as a client that dies mid-download
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
        await asyncio.wait_for(done.wait(), 10)
    await asyncio.sleep(0.1)
    assert all(isinstance(exc, ConnectionResetError) for exc in outcomes), outcomes
    assert _open_fds() == before
