"""tidewire.connect against tidewire's own server, through the test kit's fixtures."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import pytest
import trustme

import tidewire
from tidewire import web
from tidewire.testing import TestServer
from tidewire.ws.endpoint import WebSocketEndpoint

from .util import Probe, echo_handler, scripted_handler


async def test_echo_text_binary_json_over_compression(
    tidewire_server: Any, tidewire_ws: Any
) -> None:
    probe = Probe()
    server = await tidewire_server(echo_handler(probe, protocols=["v2", "v1"]))
    ws = await tidewire_ws(server, "/ws", protocols=["v1", "v2"])
    assert ws.ws_protocol == "v2"  # the server's preference among what we offered
    assert ws.compress is True
    assert isinstance(ws, WebSocketEndpoint) and isinstance(probe.ws, WebSocketEndpoint)
    await ws.send_str("héllo")
    assert await ws.receive_str() == "héllo"
    await ws.send_bytes(b"\x00" * 70_000)
    assert await ws.receive_bytes() == b"\x00" * 70_000
    await ws.send_json({"a": [1, 2]})
    assert await ws.receive_json() == {"a": [1, 2]}
    await ws.send_str("x" * 1000, compress=False)
    assert await ws.receive_str() == "x" * 1000
    assert await ws.close() is True
    assert await ws.close() is False
    await probe.finished()
    assert ws.closed and ws.close_code == 1000 and probe.close_code == 1000
    assert [m.data for m in probe.messages][:3] == ["héllo", b"\x00" * 70_000, '{"a": [1, 2]}']
    with pytest.raises(web.WSConnectionClosed):
        await ws.send_str("late")


async def test_request_headers_origin_and_no_compression(tidewire_server: Any) -> None:
    probe = Probe()
    server = await tidewire_server(echo_handler(probe))
    async with tidewire.connect(
        server.ws_url("/path?q=1"),
        headers={"X-Token": "t"},
        origin="https://app.example",
        compress=False,
    ) as ws:
        assert ws.compress is False and ws.ws_protocol is None
        assert ws.headers["Upgrade"].lower() == "websocket"
        await ws.send_str("ping")
        assert await ws.receive_str() == "ping"
    request = probe.request
    assert request is not None
    assert request.path_qs == "/path?q=1"
    assert request.headers["X-Token"] == "t"
    assert request.headers["Origin"] == "https://app.example"
    assert "Sec-WebSocket-Extensions" not in request.headers


async def test_await_form_and_async_for(tidewire_server: Any) -> None:
    async def script(ws: web.WebSocketResponse) -> None:
        for i in range(3):
            await ws.send_str(str(i))
        await ws.close(code=4001, message="bye")

    probe = Probe()
    server = await tidewire_server(scripted_handler(probe, script))
    ws = await tidewire.connect(server.ws_url("/"))
    received = [message.data async for message in ws]
    assert received == ["0", "1", "2"]
    assert ws.close_code == 4001
    assert ws.closed and ws.exception() is None
    await ws.close()


async def test_ping_pong_reach_the_application_without_autoping(tidewire_server: Any) -> None:
    async def script(ws: web.WebSocketResponse) -> None:
        await ws.ping(b"from-server")
        message = await ws.receive()
        assert (message.type, message.data) == (web.WSMsgType.PONG, b"from-client")
        message = await ws.receive()
        assert (message.type, message.data) == (web.WSMsgType.PING, b"hi")
        await ws.receive()  # the pong is automatic on our side; then the close

    probe = Probe()
    server = await tidewire_server(scripted_handler(probe, script, autoping=False))
    async with tidewire.connect(server.ws_url("/"), autoping=False) as ws:
        message = await ws.receive()
        assert (message.type, message.data) == (web.WSMsgType.PING, b"from-server")
        await ws.pong(b"from-client")
        await ws.ping(b"hi")
    await probe.finished()
    assert probe.error is None


async def test_max_msg_size_fails_with_1009(tidewire_server: Any) -> None:
    async def script(ws: web.WebSocketResponse) -> None:
        await ws.send_bytes(b"y" * 5000)
        await ws.receive()

    probe = Probe()
    server = await tidewire_server(scripted_handler(probe, script))
    for compress in (False, True):
        async with tidewire.connect(server.ws_url("/"), max_msg_size=1000, compress=compress) as ws:
            message = await ws.receive()
            assert message.type is web.WSMsgType.ERROR
            assert ws.close_code == 1009
            assert isinstance(ws.exception(), web.WebSocketError)


async def test_receive_timeout(tidewire_server: Any) -> None:
    server = await tidewire_server(echo_handler(Probe()))
    async with tidewire.connect(server.ws_url("/"), receive_timeout=0.05) as ws:
        with pytest.raises(asyncio.TimeoutError):
            await ws.receive()
        await ws.send_str("still open")
        assert await ws.receive_str(timeout=2) == "still open"


async def test_server_shutdown_is_seen_as_1001() -> None:
    probe = Probe()
    server = TestServer(echo_handler(probe))
    await server.start()
    ws = await tidewire.connect(server.ws_url("/"))
    await probe.prepared.wait()
    receiving = asyncio.ensure_future(ws.receive())
    await server.close()
    message = await receiving
    assert (message.type, message.data) == (web.WSMsgType.CLOSE, 1001)
    await ws.close()
    assert ws.close_code == 1001


# opening errors ----------------------------------------------------------------------


async def test_refused_port_is_a_connect_error() -> None:
    server = TestServer(echo_handler(Probe()))
    await server.start()
    url = server.ws_url("/")
    await server.close()
    with pytest.raises(tidewire.WSConnectError) as info:
        await tidewire.connect(url)
    assert isinstance(info.value, OSError) and isinstance(info.value, tidewire.WSClientError)
    assert isinstance(info.value.__cause__, ConnectionRefusedError)


async def test_rejected_and_redirected_handshakes(tidewire_server: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        if request.path == "/moved":
            raise web.HTTPFound("wss://elsewhere.example/ws")
        if request.path == "/plain":
            return web.Response(text="no websocket here")
        return web.Response(status=403, headers={"X-Why": "token"})

    server = await tidewire_server(handler)
    with pytest.raises(tidewire.WSHandshakeRejected) as rejected:
        await tidewire.connect(server.ws_url("/forbidden"))
    assert rejected.value.status == 403 and rejected.value.headers["X-Why"] == "token"
    with pytest.raises(tidewire.WSHandshakeRejected) as plain:
        await tidewire.connect(server.ws_url("/plain"))
    assert plain.value.status == 200
    with pytest.raises(tidewire.WSRedirect, match=r"wss://elsewhere\.example/ws") as moved:
        await tidewire.connect(server.ws_url("/moved"))
    assert moved.value.status == 302


async def test_origin_refused_by_the_server_is_rejected(tidewire_server: Any) -> None:
    server = await tidewire_server(echo_handler(Probe(), origins=["https://ok.example"]))
    with pytest.raises(tidewire.WSHandshakeRejected) as info:
        await tidewire.connect(server.ws_url("/"), origin="https://evil.example")
    assert info.value.status == 403


def test_bad_url_and_options_fail_at_once() -> None:
    with pytest.raises(ValueError):
        tidewire.connect("http://127.0.0.1/")
    with pytest.raises(ValueError):
        tidewire.connect("ws://127.0.0.1/", compress=20)
    with pytest.raises(ValueError):
        tidewire.connect("ws://127.0.0.1/", headers={"X": "a\r\nb"})


async def test_iterating_without_reconnect_is_an_error() -> None:
    with pytest.raises(TypeError, match="reconnect=True"):
        async for _ in tidewire.connect("ws://127.0.0.1:9/"):
            pass


# TLS -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context) from a throw-away CA."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    client_ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ca.configure_trust(client_ctx)
    return server_ctx, client_ctx


async def test_wss(tidewire_server: Any, tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server_ctx, client_ctx = tls
    probe = Probe()
    server = await tidewire_server(echo_handler(probe), ssl_context=server_ctx)
    assert server.ws_url("/").startswith("wss://")
    async with tidewire.connect(server.ws_url("/"), ssl=client_ctx) as ws:
        await ws.send_str("secret")
        assert await ws.receive_str() == "secret"
    assert probe.request is not None and probe.request.secure
    # The default is the system's trust store, which does not know our throw-away CA.
    with pytest.raises(tidewire.WSConnectError) as info:
        await tidewire.connect(server.ws_url("/"))
    assert isinstance(info.value.__cause__, ssl.SSLCertVerificationError)
    # ssl=False skips verification.
    async with tidewire.connect(server.ws_url("/"), ssl=False) as ws:
        await ws.send_str("unverified")
        assert await ws.receive_str() == "unverified"


async def test_an_ssl_context_for_ws_is_refused(tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    with pytest.raises(ValueError, match="wss://"):
        await tidewire.connect("ws://127.0.0.1:9/", ssl=tls[1])


def test_both_sides_share_one_message_api() -> None:
    # One implementation of the message layer: both classes resolve to the base's functions.
    names = [
        "receive", "receive_str", "receive_bytes", "receive_json", "send_str", "send_bytes",
        "send_json", "ping", "pong", "__anext__", "exception",
    ]  # fmt: skip
    for name in names:
        shared = getattr(WebSocketEndpoint, name)
        assert getattr(tidewire.ClientWebSocket, name) is shared, name
        assert getattr(web.WebSocketResponse, name) is shared, name
