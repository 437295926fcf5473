"""The opening handshake over real sockets: good upgrades and every refusal."""

from __future__ import annotations

import asyncio
import base64
import hashlib

import pytest

from tidewire import web

from .rawclient import RFC_ACCEPT, TEXT, RawWS, frame, handshake_key, upgrade_request
from .util import Probe, echo_handler


def status_line(response: bytes) -> bytes:
    return response.split(b"\r\n", 1)[0]


def header_block(response: bytes) -> dict[str, str]:
    head = response.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    fields = {}
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    return fields


async def refused(serve, request: bytes, status: int, **ws_options: object) -> bytes:  # type: ignore[no-untyped-def]
    """Send ``request``; the server must answer ``status`` and the handler never upgrades.

    Reads one response (head and ``Content-Length`` body), then briefly checks that
    nothing else follows, so a kept-alive connection does not cost a long timeout.
    """
    probe = Probe()
    srv = await serve(echo_handler(probe, **ws_options))
    client = await RawWS.open(srv.host, srv.port)
    client.send(request)
    await client.read_head()
    body = await client.reader.readexactly(int(client.headers.get("content-length", "0")))
    try:
        rest = await asyncio.wait_for(client.reader.read(65536), 0.2)
    except asyncio.TimeoutError:
        rest = b""
    await client.aclose()
    response = client.head + body + rest
    assert status_line(response).startswith(b"HTTP/1.1 %d " % status), response
    assert response.count(b"HTTP/1.1 ") == 1, response
    assert not probe.prepared.is_set()
    return response


async def test_good_upgrade_response(serve) -> None:
    probe = Probe()
    srv = await serve(echo_handler(probe))
    client = await RawWS.connect(srv.host, srv.port)
    assert client.status == 101
    assert client.headers["upgrade"].lower() == "websocket"
    assert "upgrade" in client.headers["connection"].lower()
    assert client.headers["sec-websocket-accept"] == RFC_ACCEPT
    assert "sec-websocket-protocol" not in client.headers
    assert "content-length" not in client.headers
    assert "transfer-encoding" not in client.headers
    client.send(frame(TEXT, b"after upgrade"))
    echoed = await client.recv()
    assert echoed is not None
    assert echoed.payload == b"after upgrade"
    await client.aclose()


async def test_accept_token_for_a_random_key(serve) -> None:

    probe = Probe()
    srv = await serve(echo_handler(probe))
    key = handshake_key()
    client = await RawWS.open(srv.host, srv.port)
    client.send(upgrade_request(key=key))
    await client.read_head()
    expected = base64.b64encode(
        hashlib.sha1(key.encode() + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()
    ).decode()
    assert client.status == 101
    assert client.headers["sec-websocket-accept"] == expected
    await client.aclose()


async def test_subprotocol_header_on_the_wire(serve) -> None:
    probe = Probe()
    srv = await serve(echo_handler(probe, protocols=("chat", "superchat")))
    client = await RawWS.connect(
        srv.host, srv.port, extra=(("Sec-WebSocket-Protocol", "superchat, other"),)
    )
    assert client.headers["sec-websocket-protocol"] == "superchat"
    await probe.prepared.wait()
    assert probe.ws is not None
    assert probe.ws.ws_protocol == "superchat"
    await client.aclose()

    client = await RawWS.connect(srv.host, srv.port, extra=(("Sec-WebSocket-Protocol", "mqtt"),))
    assert "sec-websocket-protocol" not in client.headers
    await client.aclose()


@pytest.mark.parametrize(
    "key",
    [None, "", "short", "dGhlIHNhbXBsZSBub25jZQ", "!!!!!!!!!!!!!!!!!!!!!!!!"],
)
async def test_missing_or_invalid_key_is_400(serve, key: str | None) -> None:
    await refused(serve, upgrade_request(key=key), 400)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
async def test_non_get_is_400(serve, method: str) -> None:
    request = upgrade_request(method=method, extra=(("Content-Length", "0"),))
    await refused(serve, request, 400)


async def test_missing_upgrade_header_is_400(serve) -> None:
    await refused(serve, upgrade_request(upgrade=None), 400)


async def test_upgrade_to_another_protocol_is_400(serve) -> None:
    await refused(serve, upgrade_request(upgrade="h2c"), 400)


async def test_missing_connection_upgrade_is_400(serve) -> None:
    await refused(serve, upgrade_request(connection=None), 400)
    await refused(serve, upgrade_request(connection="keep-alive"), 400)


@pytest.mark.parametrize("version", ["6", "12", "14"])
async def test_other_version_is_426_with_version_13(serve, version: str) -> None:
    response = await refused(serve, upgrade_request(version=version), 426)
    assert header_block(response).get("sec-websocket-version") == "13"


async def test_missing_version_is_426(serve) -> None:
    response = await refused(serve, upgrade_request(version=None), 426)
    assert header_block(response).get("sec-websocket-version") == "13"


async def test_origin_not_allowed_is_403(serve) -> None:
    request = upgrade_request(extra=(("Origin", "http://evil"),))
    await refused(serve, request, 403, origins=["http://good"])


async def test_allowed_origin_upgrades(serve) -> None:
    probe = Probe()
    srv = await serve(echo_handler(probe, origins=["http://good"]))
    client = await RawWS.connect(srv.host, srv.port, extra=(("Origin", "http://good"),))
    assert client.status == 101
    await client.aclose()


async def test_upgrade_with_a_body_is_400_and_the_body_is_never_a_request(serve) -> None:
    seen: list[str] = []

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        seen.append(request.path)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        return ws

    srv = await serve(handler)
    after = b"GET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    request = upgrade_request(extra=(("Content-Length", "5"),)) + b"hello" + after
    response = await srv.raw(request)
    assert status_line(response).startswith(b"HTTP/1.1 400 "), response
    assert b" 101 " not in response
    # The handshake refuses the body; the body is read as a body, never as a request
    # or as frames, and what follows it is the next request on the connection.
    assert seen == ["/ws", "/after"]


async def test_upgrade_with_a_body_that_looks_like_frames_is_400(serve) -> None:
    probe = Probe()
    srv = await serve(echo_handler(probe))
    body = frame(TEXT, b"x")  # 7 bytes that would be a valid frame
    request = upgrade_request(extra=(("Content-Length", str(len(body))),)) + body
    response = await srv.raw(request)
    assert status_line(response).startswith(b"HTTP/1.1 400 "), response
    assert not probe.prepared.is_set()
    assert b"\x81" not in response.split(b"\r\n\r\n", 1)[1]


async def test_upgrade_with_chunked_body_is_400(serve) -> None:
    chunked = (("Transfer-Encoding", "chunked"),)
    request = upgrade_request(extra=chunked) + b"5\r\nhello\r\n0\r\n\r\n"
    await refused(serve, request, 400)


async def test_can_prepare(serve) -> None:
    results: list[web.WebSocketReady] = []

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        ws = web.WebSocketResponse(protocols=("chat",))
        ready = ws.can_prepare(request)
        results.append(ready)
        if not ready:
            return web.Response(text="plain http")
        await ws.prepare(request)
        await ws.close()
        return ws

    srv = await serve(handler)
    response = await srv.raw(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status_line(response).startswith(b"HTTP/1.1 200 ")
    assert response.endswith(b"plain http")
    client = await RawWS.connect(srv.host, srv.port, extra=(("Sec-WebSocket-Protocol", "chat"),))
    assert client.status == 101
    await client.aclose()
    assert [bool(r) for r in results] == [False, True]
    assert results[1].protocol == "chat"
    assert results[0].protocol is None


async def test_plain_request_to_a_websocket_endpoint_is_400(serve) -> None:
    await refused(serve, b"GET /ws HTTP/1.1\r\nHost: x\r\n\r\n", 400)


async def test_prepare_twice_is_harmless(serve) -> None:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.prepare(request)
        await ws.send_str("once")
        await ws.receive(timeout=3)
        return ws

    srv = await serve(handler)
    client = await RawWS.connect(srv.host, srv.port)
    message = await client.recv()
    assert message is not None
    assert message.payload == b"once"
    await client.aclose()


async def test_methods_before_prepare_raise(serve) -> None:
    errors: list[BaseException] = []

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        for call in (ws.receive(), ws.send_str("x")):
            try:
                await call
            except RuntimeError as exc:
                errors.append(exc)
        assert ws.close_code is None
        assert not ws.closed
        return web.Response(text="ok")

    srv = await serve(handler)
    await srv.raw(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert len(errors) == 2


def plain_or_echo(probe: Probe):  # type: ignore[no-untyped-def]
    echo = echo_handler(probe)

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        if request.path == "/plain":
            return web.Response(text="plain")
        return await echo(request)

    return handler


async def test_upgrade_after_a_keep_alive_request(serve) -> None:
    probe = Probe()
    srv = await serve(plain_or_echo(probe))
    client = await RawWS.open(srv.host, srv.port)
    client.send(b"GET /plain HTTP/1.1\r\nHost: x\r\n\r\n")
    await client.read_head()
    assert client.status == 200
    assert await client.reader.readexactly(int(client.headers["content-length"])) == b"plain"
    client.headers.clear()
    client.send(upgrade_request())
    await client.read_head()
    assert client.status == 101
    client.send(frame(TEXT, b"upgraded"))
    echoed = await client.recv()
    assert echoed is not None
    assert echoed.payload == b"upgraded"
    await client.aclose()


async def test_upgrade_pipelined_behind_a_plain_request(serve) -> None:
    probe = Probe()
    srv = await serve(plain_or_echo(probe))
    client = await RawWS.open(srv.host, srv.port)
    client.send(
        b"GET /plain HTTP/1.1\r\nHost: x\r\n\r\n" + upgrade_request() + frame(TEXT, b"piped")
    )
    await client.read_head()
    assert client.status == 200
    assert await client.reader.readexactly(int(client.headers["content-length"])) == b"plain"
    client.headers.clear()
    await client.read_head()
    assert client.status == 101
    echoed = await client.recv()
    assert echoed is not None
    assert echoed.payload == b"piped"
    await client.aclose()
