"""BaseRequest: head properties, body reading, forms, limits, 100-continue, flow control."""

from __future__ import annotations

import asyncio
import io
import json
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
    read_final_response,
    read_response,
)

from tidewire import web


def describe(request: web.BaseRequest) -> dict[str, Any]:
    ims = request.if_modified_since
    return {
        "method": request.method,
        "version": list(request.version),
        "path": request.path,
        "raw_path": request.raw_path,
        "path_qs": request.path_qs,
        "rel_url": str(request.rel_url),
        "url": str(request.url),
        "query": [[k, v] for k, v in request.query.items()],
        "query_a": request.query.getall("a", []),
        "query_string": request.query_string,
        "host": request.host,
        "scheme": request.scheme,
        "secure": request.secure,
        "remote": request.remote,
        "cookies": dict(request.cookies),
        "content_type": request.content_type,
        "charset": request.charset,
        "content_length": request.content_length,
        "keep_alive": request.keep_alive,
        "if_modified_since": ims.isoformat() if ims else None,
        "body_exists": request.body_exists,
        "can_read_body": request.can_read_body,
        "x_multi": request.headers.getall("X-Multi", []),
        "raw_headers": [[n.decode(), v.decode()] for n, v in request.raw_headers],
    }


async def describe_handler(request: web.BaseRequest) -> web.Response:
    return web.json_response(describe(request))


async def test_request_properties_from_a_raw_request(serve: Any) -> None:
    srv = await serve(describe_handler)
    raw = (
        b"GET /caf%C3%A9/x%2Fy?a=1&b=two%20words&a=3&empty= HTTP/1.1\r\n"
        b"Host: example.test:8080\r\n"
        b"X-Multi: 1\r\n"
        b"x-multi: 2\r\n"
        b"Cookie: sid=abc; theme=dark\r\n"
        b"If-Modified-Since: Wed, 21 Oct 2015 07:28:00 GMT\r\n"
        b"Connection: close\r\n"
        b"\r\n"
    )
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(raw)
        response = await read_response(reader)
    finally:
        await close_writer(writer)
    info = json.loads(response.body)
    assert info["method"] == "GET"
    assert info["version"] == [1, 1]
    assert info["path"] == "/caf\u00e9/x/y"
    assert info["raw_path"] == "/caf%C3%A9/x%2Fy?a=1&b=two%20words&a=3&empty="
    assert info["query"] == [["a", "1"], ["b", "two words"], ["a", "3"], ["empty", ""]]
    assert info["query_a"] == ["1", "3"]
    assert info["query_string"] == "a=1&b=two words&a=3&empty="
    assert info["host"] == "example.test:8080"
    assert info["url"].startswith("http://example.test:8080/caf")
    assert "a=1" in info["url"] and "a=3" in info["url"]
    assert info["rel_url"].startswith("/caf")
    assert info["scheme"] == "http"
    assert info["secure"] is False
    assert info["remote"] == "127.0.0.1"
    assert info["cookies"] == {"sid": "abc", "theme": "dark"}
    assert info["content_type"] == "application/octet-stream"
    assert info["charset"] is None
    assert info["content_length"] is None
    assert info["keep_alive"] is False
    assert info["if_modified_since"] == "2015-10-21T07:28:00+00:00"
    assert info["body_exists"] is False
    assert info["can_read_body"] is False
    assert info["x_multi"] == ["1", "2"]
    assert info["raw_headers"][:3] == [
        ["Host", "example.test:8080"],
        ["X-Multi", "1"],
        ["x-multi", "2"],
    ]


async def test_request_properties_with_a_body_via_aiohttp(serve: Any) -> None:
    srv = await serve(describe_handler)
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            srv.url("/p?a=z"),
            data=b"abc",
            headers={"Content-Type": "text/csv; charset=latin-1"},
        ) as response,
    ):
        info = await response.json()
    assert info["method"] == "POST"
    assert info["path"] == "/p"
    assert info["query_a"] == ["z"]
    assert info["content_type"] == "text/csv"
    assert info["charset"] == "latin-1"
    assert info["content_length"] == 3
    assert info["keep_alive"] is True
    assert info["body_exists"] is True
    assert info["can_read_body"] is True
    assert info["host"] == f"127.0.0.1:{srv.port}"
    assert info["url"] == f"http://127.0.0.1:{srv.port}/p?a=z"
    assert info["if_modified_since"] is None


async def test_request_without_host_uses_local_address(serve: Any) -> None:
    srv = await serve(describe_handler)
    response = await srv.raw(b"GET /x HTTP/1.0\r\n\r\n")
    info = json.loads(response.partition(b"\r\n\r\n")[2])
    assert info["host"] == f"127.0.0.1:{srv.port}"
    assert info["version"] == [1, 0]
    assert info["keep_alive"] is False


async def test_absolute_form_target(serve: Any) -> None:
    # RFC 9112 section 3.2.2: a server MUST accept the absolute form of the request target
    srv = await serve(describe_handler)
    response = await srv.raw(
        b"GET http://example.test/p/a%20b?x=1&x=2 HTTP/1.1\r\n"
        b"Host: example.test\r\nConnection: close\r\n\r\n"
    )
    info = json.loads(response.partition(b"\r\n\r\n")[2])
    assert info["raw_path"] == "http://example.test/p/a%20b?x=1&x=2"
    assert info["path"] == "/p/a b"
    assert info["query"] == [["x", "1"], ["x", "2"]]
    assert info["url"] == "http://example.test/p/a%20b?x=1&x=2"


async def test_asterisk_form_target(serve: Any) -> None:
    srv = await serve(describe_handler)
    response = await srv.raw(b"OPTIONS * HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    info = json.loads(response.partition(b"\r\n\r\n")[2])
    assert info["method"] == "OPTIONS"
    assert info["raw_path"] == "*"


async def test_bad_if_modified_since_is_none(serve: Any) -> None:
    srv = await serve(describe_handler)
    response = await srv.raw(get(extra="If-Modified-Since: yesterday\r\nConnection: close\r\n"))
    assert json.loads(response.partition(b"\r\n\r\n")[2])["if_modified_since"] is None


async def test_request_is_a_mutable_mapping(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        request["user"] = "ann"
        request["n"] = 1
        del request["n"]
        return web.Response(text=f"{dict(request)} {len(request)} {bool(request)}")

    srv = await serve(handler)
    async with aiohttp.ClientSession() as session, session.get(srv.url()) as response:
        assert await response.text() == "{'user': 'ann'} 1 True"


async def test_read_text_and_json(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        if request.path == "/read":
            body = await request.read()
            again = await request.read()  # cached
            return web.Response(body=body[::-1] + b"|" + again)
        if request.path == "/text":
            return web.Response(text=(await request.text()).upper())
        data = await request.json()
        return web.json_response({"got": data})

    srv = await serve(handler)
    async with aiohttp.ClientSession() as session:
        async with session.post(srv.url("/read"), data=b"\x00abc") as response:
            assert await response.read() == b"cba\x00|\x00abc"
        async with session.post(
            srv.url("/text"),
            data="caf\u00e9".encode("latin-1"),
            headers={"Content-Type": "text/plain; charset=latin-1"},
        ) as response:
            assert await response.text() == "CAF\u00c9"
        async with session.post(srv.url("/text"), data="\u00e9t\u00e9".encode()) as response:
            assert await response.text() == "\u00c9T\u00c9"
        async with session.post(srv.url("/json"), json={"k": [1, "two"]}) as response:
            assert await response.json() == {"got": {"k": [1, "two"]}}


async def test_invalid_json_or_encoding_is_400(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        if request.path == "/json":
            await request.json()
        else:
            await request.text()
        return web.Response(text="unreachable")

    srv = await serve(handler)
    async with aiohttp.ClientSession() as session:
        async with session.post(srv.url("/json"), data=b"{not json") as response:
            assert response.status == 400
        async with session.post(
            srv.url("/text"),
            data=b"\xff\xfe\xfa",
            headers={"Content-Type": "text/plain; charset=utf-8"},
        ) as response:
            assert response.status == 400


async def test_post_urlencoded(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        form = await request.post()
        return web.json_response([[k, v] for k, v in form.items()])

    srv = await serve(handler)
    async with aiohttp.ClientSession() as session:
        data = [("a", "1"), ("b", "x y&z"), ("a", "\u00e9"), ("empty", "")]
        async with session.post(srv.url(), data=data) as response:
            assert response.status == 200
            assert await response.json() == [list(pair) for pair in data]


async def test_post_multipart_with_file(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        form = await request.post()
        out: dict[str, Any] = {}
        for name, value in form.items():
            if isinstance(value, web.FileField):
                out[name] = {
                    "filename": value.filename,
                    "content_type": value.content_type,
                    "data": value.file.read().hex(),
                }
            else:
                out.setdefault(name, []).append(value)
        return web.json_response(out)

    srv = await serve(handler)
    payload = bytes(range(256)) * 40 + b"\r\n--boundary-lookalike\r\n"
    form = aiohttp.FormData()
    form.add_field("title", "My upload")
    form.add_field("tags", "a")
    form.add_field("tags", "b")
    form.add_field(
        "file", io.BytesIO(payload), filename="data.bin", content_type="application/x-custom"
    )
    async with (
        aiohttp.ClientSession() as session,
        session.post(srv.url("/upload"), data=form) as response,
    ):
        assert response.status == 200
        out = await response.json()
    assert out["title"] == ["My upload"]
    assert out["tags"] == ["a", "b"]
    assert out["file"]["filename"] == "data.bin"
    assert out["file"]["content_type"] == "application/x-custom"
    assert bytes.fromhex(out["file"]["data"]) == payload


async def test_post_malformed_multipart_is_400(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        await request.post()
        return web.Response(text="unreachable")

    srv = await serve(handler)
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            srv.url(),
            data=b"--b\r\nno headers end",
            headers={"Content-Type": "multipart/form-data; boundary=b"},
        ) as response,
    ):
        assert response.status == 400


async def test_post_with_other_content_type_is_empty(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        form = await request.post()
        body = await request.read()
        return web.Response(text=f"{len(form)} {body.decode()}")

    srv = await serve(handler)
    async with (
        aiohttp.ClientSession() as session,
        session.post(srv.url(), data=b"a=1", headers={"Content-Type": "text/plain"}) as response,
    ):
        assert await response.text() == "0 a=1"


async def test_client_max_size_with_content_length_is_413(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        if request.path == "/stream":
            total = 0
            while chunk := await request.content.readany():
                total += len(chunk)
            return web.Response(text=str(total))
        body = await request.read()
        return web.Response(text=str(len(body)))

    srv = await serve(handler, client_max_size=1000)
    async with aiohttp.ClientSession() as session:
        async with session.post(srv.url(), data=b"x" * 1000) as response:
            assert response.status == 200
            assert await response.text() == "1000"
        async with session.post(srv.url(), data=b"x" * 1001) as response:
            assert response.status == 413
        # streaming through request.content is not capped by client_max_size
        async with session.post(srv.url("/stream"), data=b"x" * 5000) as response:
            assert await response.text() == "5000"


async def test_client_max_size_with_chunked_body_is_413(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        body = await request.read()
        return web.Response(text=str(len(body)))

    async def chunks(count: int) -> AsyncIterator[bytes]:
        for _ in range(count):
            yield b"y" * 300

    srv = await serve(handler, client_max_size=1000)
    async with aiohttp.ClientSession() as session:
        async with session.post(srv.url(), data=chunks(3)) as response:
            assert response.status == 200
            assert await response.text() == "900"
        async with session.post(srv.url(), data=chunks(4)) as response:
            assert response.status == 413


async def test_content_stream_methods(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        content = request.content
        out: dict[str, Any] = {}
        out["read5"] = (await content.read(5)).decode()
        out["readline"] = (await content.readline()).decode()
        out["exactly"] = (await content.readexactly(3)).decode()
        out["lines"] = []
        count = 0
        async for line in content:
            out["lines"].append(line.decode())
            count += 1
            if count == 2:
                break
        out["chunks"] = [c.decode() async for c in content.iter_chunked(4)]
        out["at_eof"] = content.at_eof()
        out["after"] = (await content.read()).decode()
        out["can_read_body"] = request.can_read_body
        return web.json_response(out)

    srv = await serve(handler)
    body = b"01234first line\nabcsecond\nthird\n0123456789"
    async with aiohttp.ClientSession() as session, session.post(srv.url(), data=body) as response:
        out = await response.json()
    assert out == {
        "read5": "01234",
        "readline": "first line\n",
        "exactly": "abc",
        "lines": ["second\n", "third\n"],
        "chunks": ["0123", "4567", "89"],
        "at_eof": True,
        "after": "",
        "can_read_body": False,
    }


async def test_readany_sees_pieces_as_they_arrive(serve: Any) -> None:
    seen: list[bytes] = []

    async def handler(request: web.BaseRequest) -> web.Response:
        while chunk := await request.content.readany():
            seen.append(chunk)
        return web.Response(text=str(len(seen)))

    srv = await serve(handler)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(
            b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\none\r\n"
        )
        await writer.drain()
        await asyncio.sleep(0.1)
        writer.write(b"3\r\ntwo\r\n")
        await writer.drain()
        await asyncio.sleep(0.1)
        writer.write(b"5\r\nthree\r\n0\r\n\r\n")
        response = await read_response(reader)
    finally:
        await close_writer(writer)
    assert b"".join(seen) == b"onetwothree"
    assert seen[0] == b"one"
    assert len(seen) == 3
    assert response.body == b"3"


async def test_async_for_lines_over_a_chunked_upload(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        lines = [line async for line in request.content]
        return web.json_response([line.decode() for line in lines])

    async def gen() -> AsyncIterator[bytes]:
        yield b"alpha\nbe"
        yield b"ta\n"
        yield b"gamma"

    srv = await serve(handler)
    async with aiohttp.ClientSession() as session, session.post(srv.url(), data=gen()) as response:
        assert await response.json() == ["alpha\n", "beta\n", "gamma"]


# Expect: 100-continue ------------------------------------------------------------------

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


async def test_expect_continue_sent_when_handler_reads(serve: Any) -> None:
    started = asyncio.Event()

    async def handler(request: web.BaseRequest) -> web.Response:
        started.set()
        await asyncio.sleep(0.3)  # not reading yet: no 100 Continue
        body = await request.read()
        return web.Response(body=b"got:" + body)

    srv = await serve(handler)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(
            b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        )
        await asyncio.wait_for(started.wait(), 5)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(reader.readexactly(1), 0.15)
        interim = await asyncio.wait_for(reader.readexactly(len(CONTINUE)), 5)
        assert interim == CONTINUE
        writer.write(b"hello")
        response = await read_response(reader)
        assert response.status == 200
        assert response.body == b"got:hello"
        # the connection is still good
        writer.write(get("/next"))
        assert (await read_response(reader)).status == 200
    finally:
        await close_writer(writer)


async def test_expect_continue_never_sent_if_handler_does_not_read(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        raise web.HTTPUnauthorized(text="no upload for you")

    srv = await serve(handler)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(
            b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        response = await read_response(reader)
        assert response.status == 401
        assert response.body == b"no upload for you"
        rest = await asyncio.wait_for(reader.read(), 5)
        assert b"100 Continue" not in rest
    finally:
        await close_writer(writer)


async def test_expect_continue_with_aiohttp_client(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        return web.Response(body=await request.read())

    srv = await serve(handler)
    async with (
        aiohttp.ClientSession() as session,
        session.post(srv.url(), data=b"z" * 70000, expect100=True) as response,
    ):
        assert response.status == 200
        assert await response.read() == b"z" * 70000


async def test_no_continue_for_http10(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        return web.Response(body=await request.read())

    srv = await serve(handler)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(b"POST / HTTP/1.0\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(reader.readexactly(1), 0.2)
        writer.write(b"abc")
        data = await asyncio.wait_for(reader.read(), 5)
        assert data.startswith(b"HTTP/1.0 200 OK\r\n")
        assert data.endswith(b"\r\n\r\nabc")
    finally:
        await close_writer(writer)


# flow control and unread bodies ----------------------------------------------------------


ONE_ASYNCIO_READ = 256 * 1024


@pytest.mark.parametrize("limit", [64 * 1024, 256 * 1024], ids=["64KiB", "default-256KiB"])
async def test_unread_upload_stays_bounded_while_client_keeps_sending(
    serve: Any, limit: int
) -> None:
    # The server may overshoot read_buffer_limit by what one read brings, not by much more:
    # reading pauses after the read that crossed the limit, and asyncio's selector
    # transports read at most 256 KiB at a time.
    total = 32 * 1024 * 1024
    piece = b"u" * 65536
    samples: list[int] = []
    body_len: list[int] = []

    async def handler(request: web.BaseRequest) -> web.Response:
        for _ in range(40):  # ~0.4 s of not reading
            samples.append(request.content.unread_size())
            await asyncio.sleep(0.01)
        received = 0
        while chunk := await request.content.readany():
            received += len(chunk)
            samples.append(request.content.unread_size())
        body_len.append(received)
        return web.Response(text=str(received))

    srv = await serve(handler, read_buffer_limit=limit)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(b"PUT /big HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % total)

        async def send() -> None:
            for _ in range(total // len(piece)):
                writer.write(piece)
                await writer.drain()

        sender = asyncio.create_task(send())
        response = await read_response(reader, timeout=20)
        await asyncio.wait_for(sender, 5)
    finally:
        await close_writer(writer)
    assert response.status == 200
    assert body_len == [total]
    assert max(samples) > 0
    assert max(samples) <= limit + ONE_ASYNCIO_READ, f"buffered {max(samples)} bytes"


async def test_unread_body_is_discarded_and_keep_alive_continues(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        return web.Response(text=f"{request.method} {request.path}")

    srv = await serve(handler)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(b"POST /one HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n" + b"a" * 1000)
        first = await read_response(reader)
        assert first.body == b"POST /one"
        assert not first.closes
        writer.write(
            b"POST /two HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"4\r\nGET \r\n6\r\n/x\r\n\r\n\r\n0\r\n\r\n"
        )
        second = await read_response(reader)
        assert second.body == b"POST /two"
        writer.write(get("/three"))
        third = await read_response(reader)
        assert third.body == b"GET /three"
    finally:
        await close_writer(writer)


async def test_unread_bodies_of_pipelined_requests_are_skipped(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        if request.path == "/read":
            return web.Response(body=b"read " + await request.read())
        return web.Response(text=f"{request.method} {request.path}")

    srv = await serve(handler)
    pipelined = (
        b"POST /skip1 HTTP/1.1\r\nHost: t\r\nContent-Length: 20\r\n\r\n" + get("/fake")[:20]
        + b"POST /read HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"
        + b"POST /skip2 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"14\r\n" + get("/fake")[:20] + b"\r\n0\r\n\r\n"
        + get("/last", extra="Connection: close\r\n")
    )
    responses = parse_all(await srv.raw(pipelined))
    assert [r.body for r in responses] == [
        b"POST /skip1",
        b"read abc",
        b"POST /skip2",
        b"GET /last",
    ]


async def test_body_arriving_after_the_response_is_discarded(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        return web.Response(text=f"{request.method} {request.path}")

    srv = await serve(handler)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        # the body looks like requests: it must never be parsed as such
        body = (get("/smuggled") * 5000)[:100_000]
        writer.write(b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n" + body[:10])
        first = await read_response(reader)
        assert first.body == b"POST /up"
        writer.write(body[10:])
        writer.write(get("/after"))
        second = await read_response(reader)
        assert second.body == b"GET /after"
        writer.write(get("/last"))
        assert (await read_response(reader)).body == b"GET /last"
    finally:
        await close_writer(writer)


async def test_large_unread_body_closes_the_connection(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        if request.method == "GET":
            return web.Response(text="still serving")
        await request.content.readexactly(50_000)
        return web.Response(text="enough")

    srv = await serve(handler)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(
            b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 10000000\r\n\r\n" + b"b" * 50_000
        )
        response = await read_response(reader)
        assert response.status == 200
        assert response.body == b"enough"
        assert await closed_by_peer(reader, timeout=3)
    finally:
        await close_writer(writer)
    # the server is fine
    async with aiohttp.ClientSession() as session, session.get(srv.url()) as again:
        assert await again.text() == "still serving"


async def test_request_release_reads_the_rest(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        first = await request.content.read(3)
        await request.release()
        return web.Response(text=f"{first.decode()} {request.content.at_eof()}")

    srv = await serve(handler)
    async with (
        aiohttp.ClientSession() as session,
        session.post(srv.url(), data=b"abc" + b"z" * 300_000) as response,
    ):
        assert await response.text() == "abc True"


async def test_chunked_request_body_via_raw_socket(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        body = await request.read()
        return web.json_response(
            {"body": body.decode(), "length": request.content_length, "exists": request.body_exists}
        )

    srv = await serve(handler)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(
            b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"4;name=value\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n"
            b"Trailer-Field: x\r\n\r\n"
        )
        response = await read_final_response(reader)
    finally:
        await close_writer(writer)
    assert json.loads(response.body) == {
        "body": "Wikipedia in\r\n\r\nchunks.",
        "length": None,
        "exists": True,
    }
