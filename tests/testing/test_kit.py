"""tidewire.testing: TestServer, TestClient and the pytest fixtures, against real sockets."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tidewire import web
from tidewire.http.response_reader import BadResponse
from tidewire.testing import TestClient, TestServer


async def hello(request: web.BaseRequest) -> web.StreamResponse:
    if request.method == "POST":
        body = await request.read()
        return web.Response(body=body[::-1], headers={"X-Len": str(len(body))})
    if request.path == "/json":
        return web.json_response({"path": request.path, "q": request.query.get("q")})
    if request.path == "/big":
        return web.Response(body=b"x" * 100_000)
    return web.Response(text=f"hello {request.path}")


async def test_test_server_serves_on_a_free_loopback_port() -> None:
    async with TestServer(hello) as server:
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert server.ws_url("chat") == f"ws://127.0.0.1:{server.port}/chat"
        assert server.make_url("/a") == f"http://127.0.0.1:{server.port}/a"
        # A real third-party client reaches it.
        async with aiohttp.ClientSession() as session, session.get(server.make_url("/x")) as r:
            assert r.status == 200
            assert await r.text() == "hello /x"
        port = server.port
    # Closed on exit: nothing listens any more.
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)
    with pytest.raises(RuntimeError):
        _ = server.port


async def test_two_servers_get_two_ports() -> None:
    async with TestServer(hello) as one, TestServer(hello) as two:
        assert one.port != two.port


async def test_exit_waits_for_a_running_handler_then_cancels_it() -> None:
    started = asyncio.Event()
    finished: list[str] = []

    async def slow(request: web.BaseRequest) -> web.Response:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            finished.append("cancelled")
            raise
        return web.Response()

    server = TestServer(slow, shutdown_timeout=0.2)
    await server.start()
    client = TestClient(server.url, timeout=5)
    request = asyncio.ensure_future(client.get("/"))
    await started.wait()
    await server.close()
    assert finished == ["cancelled"]
    with pytest.raises((BadResponse, ConnectionError)):
        await request
    await client.close()


async def test_client_get_post_json_and_headers() -> None:
    async with TestServer(hello) as server, TestClient(server.url) as client:
        response = await client.get("/json?q=1")
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("application/json")
        assert response.json() == {"path": "/json", "q": "1"}
        posted = await client.post("/", data=b"abc")
        assert (posted.status, posted.body, posted.headers["X-Len"]) == (200, b"cba", "3")
        as_json = await client.post("/", json={"a": 1})
        assert json.loads(as_json.body[::-1]) == {"a": 1}
        head = await client.head("/big")
        assert head.status == 200 and head.body == b""
        big = await client.get("/big")
        assert big.body == b"x" * 100_000


async def test_client_keeps_the_connection_alive() -> None:
    peers: list[object] = []

    async def who(request: web.BaseRequest) -> web.Response:
        peers.append(request.transport)
        return web.Response(text="ok")

    async with TestServer(who) as server, TestClient(server.url) as client:
        for _ in range(3):
            assert (await client.get("/")).text() == "ok"
        assert len(peers) == 3 and len(set(map(id, peers))) == 1


async def test_client_reconnects_after_the_server_closes_an_idle_connection() -> None:
    async with (
        TestServer(hello, keepalive_timeout=0.05) as server,
        TestClient(server.url) as client,
    ):
        assert (await client.get("/a")).text() == "hello /a"
        await asyncio.sleep(0.3)  # the server closes the idle connection meanwhile
        assert (await client.get("/b")).text() == "hello /b"


async def test_client_bounds_the_body() -> None:
    async with TestServer(hello) as server, TestClient(server.url, max_body=1000) as client:
        with pytest.raises(BadResponse, match="larger than 1000"):
            await client.get("/big")
        assert (await client.get("/small")).status == 200  # a fresh connection


async def test_client_reads_a_body_delimited_by_close() -> None:
    async def raw(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(raw, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with TestClient(f"http://127.0.0.1:{port}") as client:
        response = await client.get("/")
    server.close()
    assert response.body == b"until the end"


async def test_client_refuses_a_head_over_the_server_limits() -> None:
    async def raw(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(1)
        writer.close()

    server = await asyncio.start_server(raw, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with TestClient(f"http://127.0.0.1:{port}") as client:
        with pytest.raises(BadResponse, match="header field too large"):
            await client.get("/")
    server.close()


# the pytest fixtures -------------------------------------------------------------------


async def test_tidewire_server_fixture(tidewire_server) -> None:  # type: ignore[no-untyped-def]
    server = await tidewire_server(hello, max_line_size=100)
    async with TestClient(server.url) as client:
        assert (await client.get("/x")).text() == "hello /x"
        # server options reach the Server: a long request line is refused (414).
        assert (await client.get("/" + "a" * 200)).status == 414


async def test_tidewire_client_fixture(tidewire_client) -> None:  # type: ignore[no-untyped-def]
    client = await tidewire_client(hello)
    response = await client.get("/fixture")
    assert (response.status, response.text()) == (200, "hello /fixture")


async def test_tidewire_ws_fixture(tidewire_server, tidewire_ws) -> None:  # type: ignore[no-untyped-def]
    async def echo(request: web.BaseRequest) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            await ws.send_str(message.data.upper())
        return ws

    server = await tidewire_server(echo)
    by_server = await tidewire_ws(server, "/ws")
    by_url = await tidewire_ws(server.ws_url("/other"))
    for ws in (by_server, by_url):
        await ws.send_str("kit")
        assert await ws.receive_str() == "KIT"
    await by_url.close()  # the fixture closes only what is still open


EXAMPLE_TEST = """
import pytest
from tidewire import web

@pytest.mark.asyncio
async def test_hello(tidewire_client):
    async def handler(request):
        return web.Response(text="hi " + request.path)

    client = await tidewire_client(handler)
    response = await client.get("/there")
    assert (response.status, response.text()) == (200, "hi /there")
"""


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_plugin_in_another_project(tmp_path: Any, mode: str) -> None:
    # A project with no conftest: only the plugin and pytest-asyncio provide the fixtures.
    (tmp_path / "test_example.py").write_text(EXAMPLE_TEST)
    src = Path(__file__).resolve().parents[2] / "src"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tidewire.testing.plugin",
         f"--asyncio-mode={mode}", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(src)},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


async def test_https_test_server_and_client(tidewire_client) -> None:  # type: ignore[no-untyped-def]
    import ssl

    import trustme

    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    async with TestServer(hello, ssl_context=server_ctx) as server:
        assert server.url.startswith("https://") and server.ws_url("/").startswith("wss://")
        client_ctx = ssl.create_default_context()
        ca.configure_trust(client_ctx)
        async with TestClient(server.url, ssl=client_ctx) as client:
            assert (await client.get("/tls")).text() == "hello /tls"
        async with TestClient(server.url) as system_trust:
            with pytest.raises(ssl.SSLCertVerificationError):
                await system_trust.get("/")
        fixture_client = await tidewire_client(server)  # skips verification for the kit's server
        assert (await fixture_client.get("/f")).status == 200
