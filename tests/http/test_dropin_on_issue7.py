"""The drop-in features of issue 10 on issue 7's HTTP core: what the merge had to reconcile.

Request decompression under the body-rate limit, FileResponse's sendfile under the
Content-Length promise, and HTTP dates in the obsolete formats (RFC 9110 5.6.7).
"""

from __future__ import annotations

import asyncio
import gzip
import os
import time
from pathlib import Path
from typing import Any

from httpwire import (
    close_writer,
    closed_by_peer,
    drip_until_answered,
    get,
    open_conn,
    read_response,
)

from tidewire import web
from tidewire.http import fileresponse
from tidewire.http.decodingstream import DecodingBodyStream
from tidewire.http.decompress import decoder_for
from tidewire.http.headers import parse_http_date
from tidewire.http.validators import evaluate, http_date_seconds, make_etag


async def _read_body(request: web.BaseRequest) -> web.Response:
    body = await request.read()
    return web.Response(text=f"{request.method} {request.path} {len(body)}")


# the body-rate limit counts the compressed bytes off the wire ---------------------------


async def test_dripped_gzip_body_is_408(serve: Any) -> None:
    # R.U.D.Y. with Content-Encoding: the decoded body is what the handler reads, but
    # the rate limit judges what the client sends: one byte every 0.2 s is too slow.
    srv = await serve(_read_body, body_timeout=30.0, min_body_rate=20.0, body_rate_grace=0.5)
    body = gzip.compress(os.urandom(2000))
    reader, writer = await open_conn(srv.host, srv.port)
    started = time.monotonic()
    try:
        writer.write(
            b"POST /drip HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)
        )
        response = await drip_until_answered(reader, writer, body)
        assert response.status == 408
        assert b"too slowly" in response.body
        assert response.closes
        assert time.monotonic() - started < 5.0
        assert await closed_by_peer(reader, timeout=1.5)
    finally:
        await close_writer(writer)


async def test_gzip_bytes_that_decode_to_nothing_yet_still_count() -> None:
    # The gzip header (10 bytes) decodes to nothing. Sent at 20 B/s against a 10 B/s
    # minimum, it must keep a waiting reader alive: the reader re-checks the rate on
    # every wire byte, not only when decoded bytes appear.
    data = b"payload " * 100
    encoded = gzip.compress(data)
    decoder = decoder_for("gzip")
    assert decoder is not None
    stream = DecodingBodyStream(
        decoder,
        min_rate=10.0,
        rate_grace=0.3,
        timeout_error=lambda message: TimeoutError(message),
    )
    reading = asyncio.ensure_future(stream.read())
    await asyncio.sleep(0)
    for byte in range(10):  # 0.5 s for the header: past the grace, above the rate
        stream.feed_data(encoded[byte : byte + 1])
        await asyncio.sleep(0.05)
        assert not reading.done() or reading.exception() is None
    stream.feed_data(encoded[10:])
    stream.feed_eof()
    assert await asyncio.wait_for(reading, 5) == data


# FileResponse with sendfile keeps the Content-Length promise -------------------------------


async def test_sendfile_response_leaves_the_connection_reusable(
    serve: Any, tmp_path: Path
) -> None:
    # Bytes sent by loop.sendfile count against Content-Length as write() counts them:
    # a whole file sent so is a complete message, and the connection goes on.
    assert not fileresponse.NOSENDFILE
    content = os.urandom(300 * 1024)
    (tmp_path / "f.bin").write_bytes(content)

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        return web.FileResponse(tmp_path / "f.bin")

    srv = await serve(handler)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        for _ in range(2):
            writer.write(get("/f.bin"))
            response = await read_response(reader)
            assert response.status == 200
            assert response.body == content
            assert not response.closes
        assert not await closed_by_peer(reader, timeout=0.3)
    finally:
        await close_writer(writer)


# HTTP dates: the obsolete formats are GMT too --------------------------------------------


def test_obsolete_http_date_formats_are_gmt() -> None:
    # RFC 9110 section 5.6.7: IMF-fixdate, RFC 850 and asctime all mean the same instant.
    expected = 784111777
    for value in (
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",
    ):
        parsed = parse_http_date(value)
        assert parsed is not None and parsed.utcoffset() is not None, value
        assert int(parsed.timestamp()) == expected, value
        assert http_date_seconds(value) == expected, value
    assert parse_http_date("not a date") is None
    assert parse_http_date(None) is None


def test_asctime_if_modified_since_gives_304() -> None:
    mtime = 784111777.0
    etag = make_etag(int(mtime * 1e9), 10)
    selection = evaluate("GET", {"If-Modified-Since": "Sun Nov  6 08:49:37 1994"}, etag, mtime, 10)
    assert selection.status == 304
