"""aiohttp's WebSocket API, member by member (issue #10), against aiohttp's client and raw sockets.

The server side is driven by aiohttp's own client (its view of what a handler did),
or by a raw socket where the bytes on the wire matter (opcodes, RSV1); the client
side (``tidewire.connect``, which shares the message API) by aiohttp's server.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import aiohttp
import pytest
from aiohttp import web as aioweb

import tidewire
from tidewire import web
from tidewire.http.exceptions import HTTPException

from .rawclient import (
    BINARY,
    CLOSE,
    PING,
    PONG,
    TEXT,
    RawWS,
    close_payload,
    frame,
    inflate,
    upgrade_request,
)
from .rawserver import RawPeer, raw_server
from .util import Probe, echo_handler, scripted_handler

#: Public members of aiohttp's ``WebSocketResponse`` we do not have, and why (the README's
#: "Coming from aiohttp" section says the same). Everything else must exist here.
SERVER_LEFT_OUT = {
    "ATTRS",  # aiohttp's frozenset of StreamResponse attribute names, an internal of its own
    "drain",  # StreamResponse.drain(): sends wait on the transport themselves (HTTP part)
    "output_length",  # deprecated in aiohttp; StreamResponse.body_length here (HTTP part)
    "task",  # aiohttp's handler task, an internal (HTTP part)
    "popitem",  # StreamResponse as a MutableMapping: the HTTP part's mapping (HTTP part)
}
#: Public members of aiohttp's ``ClientWebSocketResponse`` that ``ClientWebSocket`` lacks.
CLIENT_LEFT_OUT = {
    "protocol",  # aiohttp's connection protocol object: an internal with no counterpart here
}


@asynccontextmanager
async def aio_client(url: str, **options: Any) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    async with aiohttp.ClientSession() as session, session.ws_connect(url, **options) as ws:
        yield ws


# member by member ----------------------------------------------------------------------


def public(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


def test_every_public_member_of_aiohttps_websocketresponse_exists() -> None:
    missing = public(aioweb.WebSocketResponse) - public(web.WebSocketResponse)
    assert missing == SERVER_LEFT_OUT


def test_every_public_member_of_aiohttps_client_websocket_exists() -> None:
    missing = public(aiohttp.ClientWebSocketResponse) - public(web.ClientWebSocket)
    assert missing == CLIENT_LEFT_OUT


@pytest.mark.parametrize(
    ("theirs", "ours"),
    [
        (aioweb.WebSocketResponse, web.WebSocketResponse),
        (aiohttp.ClientWebSocketResponse, web.ClientWebSocket),
    ],
)
def test_the_websocket_methods_take_aiohttps_parameter_names(theirs: type, ours: type) -> None:
    # Only the members aiohttp's WebSocket classes define themselves (not StreamResponse's).
    for name, member in vars(theirs).items():
        if name.startswith("_") or not callable(member) or name in CLIENT_LEFT_OUT:
            continue
        expected = set(inspect.signature(member).parameters)
        actual = set(inspect.signature(getattr(ours, name)).parameters)
        assert expected <= actual, (name, expected - actual)


def test_the_constructor_takes_every_aiohttp_option() -> None:
    aio_options = set(inspect.signature(aioweb.WebSocketResponse.__init__).parameters) - {"self"}
    assert aio_options <= set(inspect.signature(web.WebSocketResponse.__init__).parameters)
    web.WebSocketResponse(
        timeout=1.0,
        receive_timeout=1.0,
        autoclose=False,
        autoping=False,
        heartbeat=5.0,
        protocols=["chat"],
        compress=False,
        max_msg_size=1024,
        writer_limit=65536,
        decode_text=False,
    )


def test_msg_type_members_and_lower_case_aliases_are_aiohttps() -> None:
    theirs = {name: int(value) for name, value in aiohttp.WSMsgType.__members__.items()}
    ours = {name: int(value) for name, value in web.WSMsgType.__members__.items()}
    assert ours == theirs
    assert web.WSMsgType.text is web.WSMsgType.TEXT
    assert web.WSMsgType.closed is web.WSMsgType.CLOSED
    assert list(web.WSMsgType) == [web.WSMsgType[m.name] for m in aiohttp.WSMsgType]


def test_close_codes_and_message_shape_are_aiohttps() -> None:
    theirs = {name: int(value) for name, value in aiohttp.WSCloseCode.__members__.items()}
    assert {n: int(v) for n, v in web.WSCloseCode.__members__.items()} == theirs
    assert web.WSMessage._fields == aiohttp.WSMessage._fields
    assert web.WSMessage(web.WSMsgType.TEXT, "[1]", None).json() == [1]


def test_decode_text_types_the_endpoint_at_run_time() -> None:
    ws: web.WebSocketResponse[Literal[False]] = web.WebSocketResponse(decode_text=False)
    assert ws._decode_text is False
    plain: web.WebSocketResponse = web.WebSocketResponse()
    assert plain._decode_text is True


TYPED_PROGRAM = """
from typing import Literal
from tidewire import web

async def handler(
    a: web.WebSocketResponse,
    b: web.WebSocketResponse[Literal[False]],
    c: web.ClientWebSocket[Literal[False]],
) -> None:
    reveal_type(await a.receive_str())
    reveal_type(await b.receive_str())
    reveal_type(await c.receive_str())
    async for message in b:
        reveal_type(message)
"""


def test_decode_text_types_receive_str_for_mypy(tmp_path: Path) -> None:
    program = tmp_path / "program.py"
    program.write_text(TYPED_PROGRAM)
    src = str(Path(tidewire.__file__).parent.parent)  # the tidewire under test
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--cache-dir",
            str(tmp_path / "cache"),
            str(program),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "MYPYPATH": src},
    )
    revealed = re.findall(r'Revealed type is "([^"]+)"', result.stdout)
    assert result.returncode == 0, result.stdout
    assert [name.removeprefix("builtins.") for name in revealed[:3]] == ["str", "bytes", "bytes"]
    assert "WSMessage" in revealed[3], result.stdout


# receiving ----------------------------------------------------------------------------


async def test_receive_timeout_then_the_connection_goes_on(serve) -> None:
    probe = Probe()

    async def script(ws: web.WebSocketResponse) -> None:
        with pytest.raises(asyncio.TimeoutError):
            await ws.receive()  # receive_timeout
        with pytest.raises(asyncio.TimeoutError):
            await ws.receive(timeout=0.05)
        await ws.send_str("ready")
        message = await ws.receive(timeout=10)  # longer than receive_timeout
        await ws.send_str("got " + message.data)
        await ws.close()

    srv = await serve(scripted_handler(probe, script, receive_timeout=0.05))
    async with aio_client(srv.ws_url()) as client:
        assert (await client.receive(timeout=5)).data == "ready"
        await asyncio.sleep(0.2)  # past receive_timeout: the explicit timeout must win
        await client.send_str("x")
        assert (await client.receive(timeout=5)).data == "got x"
    await probe.finished()
    assert probe.error is None


async def test_decode_text_false_delivers_text_as_bytes(serve) -> None:
    probe = Probe()

    async def script(ws: web.WebSocketResponse) -> None:
        message = await ws.receive()
        probe.notes["message"] = (message.type, message.data)
        probe.notes["str"] = await ws.receive_str()
        probe.notes["json"] = await ws.receive_json(loads=lambda raw: (type(raw), json.loads(raw)))
        probe.notes["bytes"] = await ws.receive_bytes()
        async for message in ws:
            probe.notes["iterated"] = message.data
        await ws.close()

    srv = await serve(scripted_handler(probe, script, decode_text=False))
    async with aio_client(srv.ws_url()) as client:
        await client.send_str("héllo")
        await client.send_str("€")
        await client.send_str('{"a": 1}')
        await client.send_bytes(b"\x00\xff")
        await client.send_str("last")
        await client.close()
    await probe.finished()
    assert probe.notes["message"] == (web.WSMsgType.TEXT, "héllo".encode())
    assert probe.notes["str"] == b"\xe2\x82\xac"
    assert probe.notes["json"] == (bytes, {"a": 1})
    assert probe.notes["bytes"] == b"\x00\xff"
    assert probe.notes["iterated"] == b"last"


async def test_decode_text_false_still_fails_invalid_utf8_with_1007(serve) -> None:
    probe = Probe()

    async def script(ws: web.WebSocketResponse) -> None:
        async for message in ws:
            probe.messages.append(message)

    srv = await serve(scripted_handler(probe, script, decode_text=False))
    client = await RawWS.connect(srv.host, srv.port)
    client.send(frame(TEXT, b"ok") + frame(TEXT, b"\xff\xfe"))
    await client.expect_close(1007)
    await probe.finished()
    assert [m.type for m in probe.messages] == [web.WSMsgType.TEXT, web.WSMsgType.ERROR]
    assert probe.messages[0].data == b"ok"
    assert probe.close_code == 1007
    await client.aclose()


async def test_receive_str_and_bytes_raise_aiohttps_type_error(serve) -> None:
    probe = Probe()

    async def script(ws: web.WebSocketResponse) -> None:
        with pytest.raises(web.WSMessageTypeError) as info:
            await ws.receive_str()
        probe.notes["str"] = info.value
        with pytest.raises(TypeError):
            await ws.receive_bytes()
        await ws.close()

    srv = await serve(scripted_handler(probe, script))
    async with aio_client(srv.ws_url()) as client:
        await client.send_bytes(b"b")
        await client.send_str("t")
        assert (await client.receive(timeout=5)).type is aiohttp.WSMsgType.CLOSE
    await probe.finished()
    assert probe.error is None
    assert isinstance(probe.notes["str"], TypeError)


async def test_reading_past_the_end_raises_after_a_few_closed(serve) -> None:
    probe = Probe()

    async def script(ws: web.WebSocketResponse) -> None:
        assert (await ws.receive()).type is web.WSMsgType.CLOSE
        types = [(await ws.receive()).type for _ in range(4)]
        probe.notes["types"] = types
        with pytest.raises(RuntimeError):
            await ws.receive()

    srv = await serve(scripted_handler(probe, script))
    async with aio_client(srv.ws_url()) as client:
        await client.close()
    await probe.finished()
    assert probe.error is None
    assert probe.notes["types"] == [web.WSMsgType.CLOSED] * 4


# sending ---------------------------------------------------------------------------------


async def test_send_frame_and_send_json_bytes_reach_aiohttps_client(serve) -> None:
    probe = Probe()

    async def script(ws: web.WebSocketResponse) -> None:
        await ws.send_frame("té".encode(), web.WSMsgType.TEXT)
        await ws.send_frame(b"\x01\x02", web.WSMsgType.BINARY)
        await ws.send_json_bytes({"k": [1, 2]}, dumps=lambda obj: json.dumps(obj).encode())
        await ws.send_frame(message=close_payload(4001, b"bye"), opcode=web.WSMsgType.CLOSE)

    srv = await serve(scripted_handler(probe, script))
    async with aio_client(srv.ws_url()) as client:
        text = await client.receive(timeout=5)
        binary = await client.receive(timeout=5)
        as_json = await client.receive(timeout=5)
        closing = await client.receive(timeout=5)
    await probe.finished()
    assert (text.type, text.data) == (aiohttp.WSMsgType.TEXT, "té")
    assert (binary.type, binary.data) == (aiohttp.WSMsgType.BINARY, b"\x01\x02")
    assert as_json.type is aiohttp.WSMsgType.BINARY
    assert json.loads(as_json.data) == {"k": [1, 2]}
    assert (closing.type, closing.data, closing.extra) == (aiohttp.WSMsgType.CLOSE, 4001, "bye")
    assert probe.error is None


async def test_send_frame_opcodes_and_compression_on_the_wire(serve) -> None:
    probe = Probe()

    async def script(ws: web.WebSocketResponse) -> None:
        payload = b"a" * 200
        await ws.send_frame(payload, web.WSMsgType.TEXT)  # compressed (agreed)
        await ws.send_frame(payload, web.WSMsgType.TEXT, compress=False)
        await ws.send_json_bytes([1], compress=False, dumps=lambda obj: json.dumps(obj).encode())
        await ws.send_frame(b"p", web.WSMsgType.PING)
        await ws.send_frame(b"q", web.WSMsgType.PONG)
        with pytest.raises(ValueError):
            await ws.send_frame(b"x", web.WSMsgType.CONTINUATION)
        with pytest.raises(UnicodeDecodeError):
            await ws.send_frame(b"\xff", web.WSMsgType.TEXT)
        await ws.send_frame(b"", web.WSMsgType.CLOSE)

    srv = await serve(scripted_handler(probe, script))
    client = await RawWS.connect(
        srv.host, srv.port, extra=(("Sec-WebSocket-Extensions", "permessage-deflate"),)
    )
    assert client.headers["sec-websocket-extensions"].startswith("permessage-deflate")
    frames, closing = await client.recv_until_close()
    assert [(f.opcode, f.rsv1, f.fin) for f in frames] == [
        (TEXT, True, True),
        (TEXT, False, True),
        (BINARY, False, True),
        (PING, False, True),
        (PONG, False, True),
    ]
    assert inflate(frames[0].payload) == b"a" * 200
    assert [f.payload for f in frames[1:]] == [b"a" * 200, b"[1]", b"p", b"q"]
    assert closing is not None and closing.close_code == 1000
    client.send(frame(CLOSE, close_payload(1000)))
    await probe.finished()
    assert probe.error is None
    await client.aclose()


async def test_sends_after_close_raise_connection_reset_as_in_aiohttp(serve) -> None:
    probe = Probe()

    async def script(ws: web.WebSocketResponse) -> None:
        assert await ws.close(code=4002, message=b"done", drain=False) is True
        assert await ws.close() is False
        probe.notes["closed"] = ws.closed
        for send in (
            ws.send_str("x"),
            ws.send_bytes(b"x"),
            ws.send_json(1),
            ws.send_json_bytes(1, dumps=lambda obj: b"1"),
            ws.send_frame(b"x", web.WSMsgType.BINARY),
            ws.ping(),
            ws.pong(),
        ):
            with pytest.raises(ConnectionResetError):
                await send

    srv = await serve(scripted_handler(probe, script))
    async with aio_client(srv.ws_url()) as client:
        closing = await client.receive(timeout=5)
        assert closing.type is aiohttp.WSMsgType.CLOSE
        assert (closing.data, closing.extra) == (4002, "done")
    await probe.finished()
    assert probe.error is None
    assert probe.notes["closed"] is True


async def test_close_timeout_under_aiohttps_name(serve) -> None:
    probe = Probe()

    async def script(ws: web.WebSocketResponse) -> None:
        started = time.monotonic()
        await ws.close()
        probe.notes["waited"] = time.monotonic() - started

    # timeout=0.2 (aiohttp's name); close_timeout's default, 10 s, would fail the bound below
    srv = await serve(scripted_handler(probe, script, timeout=0.2))
    client = await RawWS.connect(srv.host, srv.port)
    closing = await client.recv()  # read our Close, never answer it
    assert closing is not None and closing.opcode == CLOSE
    await probe.finished(timeout=8)
    assert probe.notes["waited"] < 5
    assert probe.close_code == 1006
    await client.aclose()


# state ---------------------------------------------------------------------------------


async def test_state_members_before_and_after_prepare(serve) -> None:
    seen: dict[str, Any] = {}
    done = asyncio.Event()

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        ws = web.WebSocketResponse(protocols=("chat",))
        seen["before"] = (ws.prepared, ws.closed, ws.close_code, ws.ws_protocol, ws.compress)
        seen["extra_before"] = ws.get_extra_info("peername", "none")
        seen["ready"] = ws.can_prepare(request)
        with pytest.raises(RuntimeError):
            await ws.send_str("too early")
        await ws.prepare(request)
        seen["after"] = (ws.prepared, ws.closed, ws.ws_protocol, ws.compress, ws.exception())
        seen["peername"] = ws.get_extra_info("peername")
        seen["missing"] = ws.get_extra_info("no such thing", "dflt")
        with pytest.raises(RuntimeError):
            ws.can_prepare(request)
        await ws.receive()
        seen["end"] = (ws.closed, ws.close_code)
        done.set()
        return ws

    srv = await serve(handler)
    async with aio_client(srv.ws_url(), protocols=("chat",)) as client:
        sockname = client.get_extra_info("sockname")
        await client.close(code=4003)
    await asyncio.wait_for(done.wait(), 5)
    assert seen["before"] == (False, False, None, None, False)
    assert seen["extra_before"] == "none"
    assert seen["ready"] == web.WebSocketReady(True, "chat") and bool(seen["ready"])
    assert seen["after"] == (True, False, "chat", False, None)
    assert seen["peername"] == sockname
    assert seen["missing"] == "dflt"
    assert seen["end"] == (True, 4003)


async def test_version_8_upgrades_as_in_aiohttp(serve) -> None:
    probe = Probe()
    srv = await serve(echo_handler(probe))
    client = await RawWS.open(srv.host, srv.port)
    client.send(upgrade_request(version="8"))
    await client.read_head()
    assert client.status == 101
    client.send(frame(TEXT, b"hybi-08"))
    echoed = await client.recv()
    assert echoed is not None and echoed.payload == b"hybi-08"
    await client.aclose()


async def test_refused_upgrades_use_the_http_cores_exception_classes(serve) -> None:
    seen: list[HTTPException] = []

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        try:
            await web.WebSocketResponse(origins=["http://good"]).prepare(request)
        except HTTPException as exc:
            seen.append(exc)
            raise
        raise AssertionError("upgraded")

    srv = await serve(handler)
    for request in (
        upgrade_request(version="6"),
        upgrade_request(key="short"),
        upgrade_request(extra=(("Origin", "http://evil"),)),
    ):
        client = await RawWS.open(srv.host, srv.port)
        client.send(request)
        await client.read_head()
        await client.aclose()
    assert [type(exc) for exc in seen] == [
        web.HTTPUpgradeRequired,
        web.HTTPBadRequest,
        web.HTTPForbidden,
    ]
    assert seen[0].headers["Sec-WebSocket-Version"] == "13"


# the client shares the API ----------------------------------------------------------


@pytest.fixture
async def aiohttp_server_url() -> AsyncIterator[str]:
    """An aiohttp server that answers each TEXT/BINARY with its type and data, closes on "bye"."""

    async def handler(request: aioweb.Request) -> aioweb.WebSocketResponse:
        ws = aioweb.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            if message.type is aiohttp.WSMsgType.TEXT and message.data == "bye":
                await ws.close(code=4000, message=b"asked")
            elif message.type is aiohttp.WSMsgType.TEXT:
                await ws.send_str(message.data)
            elif message.type is aiohttp.WSMsgType.BINARY:
                await ws.send_bytes(b"binary:" + message.data)
        return ws

    app = aioweb.Application()
    app.router.add_get("/ws", handler)
    runner = aioweb.AppRunner(app)
    await runner.setup()
    site = aioweb.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"ws://127.0.0.1:{port}/ws"
    finally:
        await runner.cleanup()


async def test_client_decode_text_send_frame_and_extra_info(aiohttp_server_url: str) -> None:
    ws: web.ClientWebSocket[Literal[False]]
    async with tidewire.connect(aiohttp_server_url, decode_text=False) as ws:
        assert ws.get_extra_info("peername")[1] == int(aiohttp_server_url.split(":")[2][:-3])
        await ws.send_frame("é".encode(), web.WSMsgType.TEXT)
        assert await ws.receive_str(timeout=5) == "é".encode()
        await ws.send_json_bytes({"a": 1}, dumps=lambda obj: json.dumps(obj).encode())
        assert await ws.receive_bytes(timeout=5) == b'binary:{"a": 1}'
        await ws.send_str('{"b": 2}')
        assert await ws.receive_json(loads=json.loads, timeout=5) == {"b": 2}
        assert ws.client_notakeover is False
        await ws.send_str("bye")
        closing = await ws.receive(timeout=5)
        assert (closing.type, closing.data, closing.extra) == (web.WSMsgType.CLOSE, 4000, "asked")
    assert ws.closed


async def test_client_close_with_drain_and_receive_timeout(aiohttp_server_url: str) -> None:
    async with tidewire.connect(aiohttp_server_url, receive_timeout=0.05) as ws:
        with pytest.raises(asyncio.TimeoutError):
            await ws.receive()
        with pytest.raises(asyncio.TimeoutError):
            await ws.receive(timeout=0.05)
        assert await ws.close(code=4005, message="over", drain=False) is True
        assert await ws.close() is False
        with pytest.raises(ConnectionResetError):
            await ws.send_frame(b"x", web.WSMsgType.BINARY)
    assert ws.closed and ws.close_code is not None


async def test_client_notakeover_reports_the_servers_answer() -> None:
    async def script(peer: RawPeer) -> None:
        await peer.accept(
            "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover"
        )
        await peer.read_frames(1)  # our Close

    async with raw_server(script) as url:
        ws = await tidewire.connect(url, close_timeout=0.5)
        assert ws.compress is True
        assert ws.client_notakeover is True
        await ws.close()


# heartbeat, autoping, autoclose ----------------------------------------------------------


async def test_autoping_false_hands_pings_to_the_handler_as_in_aiohttp(serve) -> None:
    probe = Probe()

    async def script(ws: web.WebSocketResponse) -> None:
        ping = await ws.receive()
        probe.notes["ping"] = (ping.type, ping.data)
        await ws.pong(ping.data)
        closing = await ws.receive()
        probe.notes["close"] = (closing.type, closing.data, closing.extra, ws.closed)
        await ws.close()

    srv = await serve(scripted_handler(probe, script, autoping=False, autoclose=False))
    async with aio_client(srv.ws_url(), autoping=False) as client:
        await client.ping(b"are you there")
        pong = await client.receive(timeout=5)
        assert (pong.type, pong.data) == (aiohttp.WSMsgType.PONG, b"are you there")
        await client.close(code=4010, message=b"leaving")
    await probe.finished()
    assert probe.notes["ping"] == (web.WSMsgType.PING, b"are you there")
    assert probe.notes["close"] == (web.WSMsgType.CLOSE, 4010, "leaving", True)
    assert probe.close_code == 4010


async def test_heartbeat_drops_an_aiohttp_client_that_does_not_answer(serve) -> None:
    probe = Probe()
    srv = await serve(echo_handler(probe, heartbeat=0.2))
    # autoping=False and not reading: aiohttp's client answers no ping
    async with aio_client(srv.ws_url(), autoping=False) as client:
        await probe.finished(timeout=5)
        assert probe.close_code == 1006
        assert isinstance(probe.exception, asyncio.TimeoutError)
        ping = await client.receive(timeout=5)
        assert ping.type is aiohttp.WSMsgType.PING
