"""aiohttp's low-level API beyond the basics: Server options, request and response extras,
error pages (HTML 500, 504 for a handler's TimeoutError), checked with aiohttp's client."""

from __future__ import annotations

import asyncio
import datetime
import inspect
import logging
from collections.abc import MutableMapping
from typing import Any

import aiohttp
import pytest
from aiohttp.web_protocol import RequestHandler
from httpwire import close_writer, get, open_conn, read_response

from tidewire import web
from tidewire.http.parser import RequestHead
from tidewire.http.protocol import HTTPProtocol
from tidewire.http.streams import BodyStream


async def ok(request: web.BaseRequest) -> web.Response:
    return web.Response(text="ok")


# web.Server options ------------------------------------------------------------------


def test_server_accepts_aiohttp_low_level_options() -> None:
    options: dict[str, Any] = {
        "logger": logging.getLogger("x"),
        "access_log": logging.getLogger("y"),
        "access_log_class": web.AccessLogger,
        "access_log_format": "%s",
        "keepalive_timeout": 5.0,
        "tcp_keepalive": False,
        "max_line_size": 100,
        "max_field_size": 100,
        "max_headers": 10,
        "lingering_time": 1.0,
        "read_bufsize": 4096,
        "auto_decompress": False,
        "timeout_ceil_threshold": 3,
        "debug": True,
        "handler_cancellation": True,
        "request_factory": None,
    }
    # every option aiohttp's Server passes to its protocol is in the list
    aiohttp_names = set(inspect.signature(RequestHandler.__init__).parameters)
    assert aiohttp_names - {"self", "manager", "loop"} <= set(options)
    server = web.Server(ok, **options)
    assert server.config.logger is options["logger"]
    assert server.config.read_buffer_limit == 4096
    assert server.config.auto_decompress is False
    assert server.tcp_keepalive is False
    with pytest.raises(TypeError):
        web.Server(ok, no_such_option=1)


async def test_logger_gets_handler_failures(serve: Any, caplog: pytest.LogCaptureFixture) -> None:
    async def fail(request: web.BaseRequest) -> web.Response:
        raise RuntimeError("boom")

    srv = await serve(fail, logger=logging.getLogger("my.app"))
    with caplog.at_level(logging.ERROR, logger="my.app"):
        async with aiohttp.ClientSession() as session, session.get(srv.url()) as resp:
            assert resp.status == 500
    assert [r.name for r in caplog.records if "boom" in str(r.exc_info)] == ["my.app"]


async def test_access_log_class(serve: Any) -> None:
    lines: list[tuple[str, int, bool]] = []

    class Collect(web.AbstractAccessLogger):
        def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
            lines.append((request.path, response.status, time >= 0))

    log = logging.getLogger("collect")
    log.setLevel(logging.INFO)
    srv = await serve(ok, access_log=log, access_log_class=Collect)
    async with aiohttp.ClientSession() as session, session.get(srv.url("/a")) as resp:
        await resp.read()
    assert lines == [("/a", 200, True)]


async def test_request_factory_and_requests_count(serve: Any) -> None:
    class MyRequest(web.BaseRequest):
        marker = "mine"

    def factory(
        head: RequestHead, content: BodyStream, protocol: HTTPProtocol, size: int
    ) -> web.BaseRequest:
        return MyRequest(head, content, protocol, size)

    async def handler(request: web.BaseRequest) -> web.Response:
        assert isinstance(request, MyRequest)
        return web.Response(text=request.marker)

    srv = await serve(handler, request_factory=factory)
    assert srv.server.requests_count == 0
    async with aiohttp.ClientSession() as session:
        for _ in range(3):
            async with session.get(srv.url()) as resp:
                assert await resp.text() == "mine"
    assert srv.server.requests_count == 3


# request extras ----------------------------------------------------------------------


async def test_request_conditional_headers_range_and_extras(serve: Any) -> None:
    seen: dict[str, Any] = {}

    async def handler(request: web.BaseRequest) -> web.Response:
        seen["if_match"] = request.if_match
        seen["if_none_match"] = request.if_none_match
        seen["if_unmodified_since"] = request.if_unmodified_since
        seen["if_range"] = request.if_range
        seen["http_range"] = request.http_range
        seen["peer"] = request.get_extra_info("peername")
        seen["missing"] = request.get_extra_info("nope", "dflt")
        seen["task"] = request.task is asyncio.current_task()
        seen["sizes"] = (request.client_max_size, request.client_max_fields)
        return web.Response(text="ok")

    srv = await serve(handler, client_max_size=1234)
    headers = {
        "If-Match": '"a", W/"b", junk',
        "If-None-Match": "*",
        "If-Unmodified-Since": "Sun, 06 Nov 1994 08:49:37 GMT",
        "If-Range": "Sun, 06 Nov 1994 08:49:37 GMT",
        "Range": "bytes=10-19",
    }
    async with aiohttp.ClientSession() as session, session.get(srv.url(), headers=headers) as r:
        assert r.status == 200
    when = datetime.datetime(1994, 11, 6, 8, 49, 37, tzinfo=datetime.timezone.utc)
    assert seen["if_match"] == (web.ETag("a"), web.ETag("b", is_weak=True))
    assert seen["if_none_match"] == (web.ETag("*"),)
    assert seen["if_unmodified_since"] == when
    assert seen["if_range"] == when
    assert seen["http_range"] == slice(10, 20)
    assert seen["peer"][0] == "127.0.0.1"
    assert seen["missing"] == "dflt"
    assert seen["task"] is True
    assert seen["sizes"] == (1234, 1000)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, slice(None, None)),
        ("bytes=5-", slice(5, None)),
        ("bytes=-5", slice(-5, None)),
        ("bytes=0-0", slice(0, 1)),
        ("bytes=5-2", ValueError),
        ("bytes=0-1,3-4", ValueError),
        ("items=0-1", ValueError),
    ],
)
async def test_http_range_like_aiohttp(serve: Any, value: str | None, expected: Any) -> None:
    result: list[Any] = []

    async def handler(request: web.BaseRequest) -> web.Response:
        try:
            result.append(request.http_range)
        except ValueError as exc:
            result.append(exc)
        return web.Response()

    srv = await serve(handler)
    headers = {"Range": value} if value else {}
    async with aiohttp.ClientSession() as session, session.get(srv.url(), headers=headers):
        pass
    if expected is ValueError:
        assert isinstance(result[0], ValueError)
    else:
        assert result[0] == expected


async def test_clone(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        request["state"] = 1
        copy = request.clone(method="PUT", rel_url="/other?x=1", headers={"X-New": "y"})
        assert copy is not request and isinstance(copy, web.BaseRequest)
        assert copy.method == "PUT" and copy.path == "/other" and copy.query["x"] == "1"
        assert copy.headers["X-New"] == "y" and "X-Old" not in copy.headers
        assert copy["state"] == 1
        assert request.method == "POST" and request.path == "/orig"  # untouched
        with pytest.raises(ValueError):
            request.clone(rel_url="http://elsewhere/")
        return web.Response(body=await copy.read())  # shares the body

    srv = await serve(handler)
    async with aiohttp.ClientSession() as session:
        headers = {"X-Old": "x"}
        async with session.post(srv.url("/orig"), data=b"body", headers=headers) as resp:
            assert await resp.read() == b"body"


async def test_request_payload_error_for_an_undecodable_body(serve: Any) -> None:
    caught: list[BaseException] = []

    async def handler(request: web.BaseRequest) -> web.Response:
        try:
            await request.read()
        except web.RequestPayloadError as exc:
            caught.append(exc)
            raise
        return web.Response()

    srv = await serve(handler)
    async with aiohttp.ClientSession() as session:
        headers = {"Content-Encoding": "gzip"}
        async with session.post(srv.url(), data=b"\x1f\x8b\x08\x00not gzip", headers=headers) as r:
            assert r.status == 400
    assert isinstance(caught[0], web.HTTPBadRequest)


# response extras ---------------------------------------------------------------------


def test_response_etag_last_modified_and_mapping() -> None:
    response = web.Response(text="x")
    assert response.etag is None
    response.etag = "abc"
    assert response.headers["ETag"] == '"abc"'
    assert response.etag == web.ETag("abc")
    response.etag = web.ETag("w", is_weak=True)
    assert response.headers["ETag"] == 'W/"w"'
    with pytest.raises(ValueError):
        response.etag = 'bad"quote'
    response.etag = None
    assert "ETag" not in response.headers
    response.last_modified = 784111777.2  # rounded up, as aiohttp
    assert response.headers["Last-Modified"] == "Sun, 06 Nov 1994 08:49:38 GMT"
    when = datetime.datetime(1994, 11, 6, 8, 49, 37, tzinfo=datetime.timezone.utc)
    response.last_modified = when
    assert response.last_modified == when
    with pytest.raises(TypeError):
        response.last_modified = object()  # type: ignore[assignment]
    assert isinstance(response, MutableMapping)
    assert not len(response) and bool(response)
    response["k"] = 1
    assert response["k"] == 1 and "k" in response and list(response) == ["k"]
    response.update(a=2)
    assert dict(response.items()) == {"k": 1, "a": 2}
    assert response.pop("a") == 2
    assert response == response and response != web.Response(text="x")


async def test_content_coding_and_json_bytes_response(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        if request.path == "/json":
            return web.json_bytes_response({"a": 1}, dumps=lambda d: repr(d).encode())
        response = web.Response(text="z" * 1000)
        response.enable_compression(web.ContentCoding.deflate)
        return response

    srv = await serve(handler)
    async with aiohttp.ClientSession() as session:
        async with session.get(srv.url("/json")) as resp:
            assert resp.headers["Content-Type"] == "application/json"
            assert await resp.read() == b"{'a': 1}"
        async with session.get(srv.url("/z")) as resp:
            assert resp.headers["Content-Encoding"] == "deflate"
            assert await resp.text() == "z" * 1000


# error pages -------------------------------------------------------------------------


async def fail(request: web.BaseRequest) -> web.Response:
    raise RuntimeError("<boom>")


async def test_500_is_html_when_the_client_accepts_html(serve: Any) -> None:
    srv = await serve(fail)
    async with aiohttp.ClientSession() as session:
        headers = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
        async with session.get(srv.url(), headers=headers) as resp:
            assert resp.status == 500
            assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
            page = await resp.text()
            assert "<h1>500 Internal Server Error</h1>" in page
            assert "boom" not in page
        async with session.get(srv.url()) as resp:  # the connection goes on; plain text
            assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
            assert (await resp.text()).startswith("500 Internal Server Error")


async def test_debug_html_500_escapes_the_traceback(serve: Any) -> None:
    srv = await serve(fail, debug=True)
    headers = {"Accept": "text/html"}
    async with aiohttp.ClientSession() as session, session.get(srv.url(), headers=headers) as r:
        page = await r.text()
        assert "<pre>" in page and "RuntimeError: &lt;boom&gt;" in page
        assert "<boom>" not in page


async def test_handler_timeout_is_504_and_logged_at_debug(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async def slow(request: web.BaseRequest) -> web.Response:
        await asyncio.wait_for(asyncio.sleep(1), 0.01)  # raises TimeoutError
        return web.Response(text="never")

    srv = await serve(slow)
    with caplog.at_level(logging.DEBUG, logger="tidewire.server"):
        reader, writer = await open_conn(srv.host, srv.port)
        try:
            writer.write(get("/") + get("/"))
            for _ in range(2):  # answered, and the connection goes on
                response = await read_response(reader)
                assert response.status == 504
                assert response.body.startswith(b"504 Gateway Timeout")
        finally:
            await close_writer(writer)
    levels = {r.levelno for r in caplog.records if r.name == "tidewire.server" and r.exc_info}
    assert levels == {logging.DEBUG}
