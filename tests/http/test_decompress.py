"""Request decompression: the pure decoders (bounded output, RFC 1950/1951/1952, RFC 7932)
and the server decoding gzip/deflate/br bodies for aiohttp's client and raw sockets."""

from __future__ import annotations

import asyncio
import gzip
import os
import zlib
from typing import Any

import aiohttp
import brotli
import pytest
from httpwire import close_writer, open_conn, read_response

from tidewire import web
from tidewire.http.decodingstream import PIECE
from tidewire.http.decompress import DecodeError, decoder_for, supported_codings

DATA = os.urandom(1000) * 300  # 300 KB, compressible


def _deflate(data: bytes, wbits: int) -> bytes:
    compressor = zlib.compressobj(wbits=wbits)
    return compressor.compress(data) + compressor.flush()


def _zeros_gzip(size: int) -> bytes:
    """``size`` zero bytes, gzipped without holding them (a compression bomb)."""
    compressor = zlib.compressobj(9, wbits=16 + zlib.MAX_WBITS)
    block = bytes(1024 * 1024)
    parts = [compressor.compress(block) for _ in range(size // len(block))]
    return b"".join(parts) + compressor.flush()


ENCODED = {
    "gzip": gzip.compress(DATA),
    "x-gzip": gzip.compress(DATA),
    "deflate": _deflate(DATA, zlib.MAX_WBITS),  # RFC 9110 8.4.1.2: zlib format
    "raw-deflate": _deflate(DATA, -zlib.MAX_WBITS),  # what some clients send
    "br": brotli.compress(DATA),
}


def _decode_all(coding: str, encoded: bytes, step: int, limit: int) -> bytes:
    decoder = decoder_for("deflate" if coding == "raw-deflate" else coding)
    assert decoder is not None
    bound = limit if coding != "br" else 2 * max(limit, 32 * 1024)  # brotli's buffer steps
    out = bytearray()
    for start in range(0, len(encoded), step):
        piece = decoder.decode(encoded[start : start + step], limit)
        assert len(piece) <= bound
        out += piece
        while not decoder.needs_input:
            piece = decoder.decode(b"", limit)
            assert len(piece) <= bound
            out += piece
    decoder.finish()
    return bytes(out)


@pytest.mark.parametrize("coding", list(ENCODED))
@pytest.mark.parametrize(("step", "limit"), [(1, 7), (4096, 1000), (10**7, 64 * 1024)])
def test_decoders_bounded_and_complete(coding: str, step: int, limit: int) -> None:
    # step 1: byte-at-a-time input, the slow path of every decoder
    assert _decode_all(coding, ENCODED[coding], step, limit) == DATA


@pytest.mark.parametrize("coding", ["gzip", "br"])
def test_bomb_inflates_completely_in_bounded_pieces(coding: str) -> None:
    size = 40 * 1024 * 1024
    encoded = _zeros_gzip(size) if coding == "gzip" else brotli.compress(bytes(size))
    decoder = decoder_for(coding)
    assert decoder is not None
    total, largest = 0, 0
    piece = decoder.decode(encoded, PIECE)
    while True:
        total += len(piece)
        largest = max(largest, len(piece))
        if decoder.needs_input:
            break
        piece = decoder.decode(b"", PIECE)
    decoder.finish()
    assert total == size
    assert largest <= 2 * PIECE


def test_gzip_with_several_members() -> None:
    encoded = gzip.compress(b"abc") + gzip.compress(b"def")
    assert _decode_all("gzip", encoded, 5, 100) == b"abcdef"


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br"])
def test_truncated_stream_is_an_error(coding: str) -> None:
    encoded = ENCODED[coding][:-5]
    with pytest.raises(DecodeError):
        _decode_all(coding, encoded, 4096, 10**6)


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br"])
def test_garbage_is_an_error(coding: str) -> None:
    with pytest.raises(DecodeError):
        _decode_all(coding, b"\x1f\x8b\x08garbage-garbage-garbage" * 3, 4096, 10**6)


def test_data_after_a_deflate_stream_is_an_error() -> None:
    with pytest.raises(DecodeError):
        _decode_all("deflate", ENCODED["deflate"] + b"tail", 4096, 10**7)


def test_which_codings_are_decoded() -> None:
    assert decoder_for("identity") is None
    assert decoder_for("compress") is None
    assert decoder_for("gzip, br") is None  # several codings: left as sent
    assert decoder_for(" GZIP ") is not None
    assert supported_codings() == ("gzip", "deflate", "br")


# on the wire ------------------------------------------------------------------------


async def echo_length(request: web.BaseRequest) -> web.Response:
    body = await request.read()
    return web.Response(text=f"{len(body)} {zlib.crc32(body)}")


def expected(data: bytes) -> str:
    return f"{len(data)} {zlib.crc32(data)}"


@pytest.mark.parametrize("coding", ["gzip", "deflate", "raw-deflate", "br"])
async def test_server_decodes_bodies(serve: Any, coding: str) -> None:
    srv = await serve(echo_length, client_max_size=10 * 1024 * 1024)
    header = "deflate" if coding == "raw-deflate" else coding
    async with aiohttp.ClientSession() as session:
        for _ in range(2):  # the connection goes on
            headers = {"Content-Encoding": header}
            async with session.post(srv.url(), data=ENCODED[coding], headers=headers) as r:
                assert r.status == 200
                assert await r.text() == expected(DATA)


async def test_aiohttp_client_compress_option(serve: Any) -> None:
    srv = await serve(echo_length)
    async with (
        aiohttp.ClientSession() as session,
        session.post(srv.url(), data=DATA, compress="deflate") as resp,
    ):
        assert await resp.text() == expected(DATA)


async def test_auto_decompress_off_leaves_the_body_as_sent(serve: Any) -> None:
    srv = await serve(echo_length, auto_decompress=False)
    async with aiohttp.ClientSession() as session:
        headers = {"Content-Encoding": "gzip"}
        async with session.post(srv.url(), data=ENCODED["gzip"], headers=headers) as resp:
            assert await resp.text() == expected(ENCODED["gzip"])


async def test_unknown_coding_reaches_the_handler_undecoded(serve: Any) -> None:
    srv = await serve(echo_length)
    async with aiohttp.ClientSession() as session:
        headers = {"Content-Encoding": "zstd"}
        async with session.post(srv.url(), data=b"opaque", headers=headers) as resp:
            assert await resp.text() == expected(b"opaque")


async def test_compression_bomb_gets_413(serve: Any) -> None:
    bomb = _zeros_gzip(64 * 1024 * 1024)
    assert len(bomb) < 200_000
    srv = await serve(echo_length, client_max_size=1024 * 1024)
    async with aiohttp.ClientSession() as session:
        headers = {"Content-Encoding": "gzip"}
        async with session.post(srv.url(), data=bomb, headers=headers) as resp:
            assert resp.status == 413


async def test_streaming_reader_gets_bounded_pieces(serve: Any) -> None:
    """The buffered decoded bytes never pass high water + one piece, however large the
    inflated body: the server inflates only as fast as the handler reads."""
    bomb = _zeros_gzip(32 * 1024 * 1024)
    high_water = 128 * 1024
    seen: dict[str, int] = {"max_buffered": 0, "max_piece": 0, "total": 0}

    async def handler(request: web.BaseRequest) -> web.Response:
        await asyncio.sleep(0.2)  # let the whole compressed body arrive
        content = request.content
        while True:
            seen["max_buffered"] = max(seen["max_buffered"], content.unread_size())
            chunk = await content.readany()
            if not chunk:
                break
            seen["max_piece"] = max(seen["max_piece"], len(chunk))
            seen["total"] += len(chunk)
        return web.Response(text="ok")

    srv = await serve(handler, read_bufsize=high_water)
    async with aiohttp.ClientSession() as session:
        headers = {"Content-Encoding": "gzip"}
        async with session.post(srv.url(), data=bomb, headers=headers) as resp:
            assert await resp.text() == "ok"
    assert seen["total"] == 32 * 1024 * 1024
    assert seen["max_buffered"] <= high_water + 64 * 1024
    assert seen["max_piece"] <= high_water + 64 * 1024


@pytest.mark.parametrize("body", [b"\x1f\x8b\x08\x00garbage-garbage", gzip.compress(DATA)[:-9]])
async def test_undecodable_or_truncated_body_is_400(serve: Any, body: bytes) -> None:
    srv = await serve(echo_length)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Encoding: gzip\r\n"
            b"Content-Length: %d\r\n\r\n%b" % (len(body), body)
        )
        response = await read_response(reader)
        assert response.status == 400
        assert b"decode" in response.body
    finally:
        await close_writer(writer)


async def test_chunked_gzip_body_on_raw_socket_then_keep_alive(serve: Any) -> None:
    srv = await serve(echo_length)
    encoded = ENCODED["gzip"]
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        chunks = b"".join(
            b"%x\r\n%b\r\n" % (len(encoded[i : i + 1000]), encoded[i : i + 1000])
            for i in range(0, len(encoded), 1000)
        )
        request = (
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Encoding: gzip\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"
        )
        writer.write(request + request)
        for _ in range(2):
            response = await read_response(reader)
            assert response.status == 200
            assert response.body.decode() == expected(DATA)
    finally:
        await close_writer(writer)
