"""Fragmented messages, ping/pong and subprotocols with real clients."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError

from tidewire import web

from .util import Probe, echo_handler, scripted_handler

DEFLATE = [None, "deflate"]


@pytest.mark.parametrize("compression", DEFLATE)
async def test_fragmented_messages_are_reassembled(serve, compression: str | None) -> None:
    probe = Probe()
    srv = await serve(echo_handler(probe))
    async with connect(srv.ws_url(), compression=compression, proxy=None) as ws:
        await ws.send(["frag", "mented ", "", "téxt €"])
        assert await ws.recv() == "fragmented téxt €"
        await ws.send([b"\x00" * 1000, b"\x01" * 70_000, b"\x02"])
        assert await ws.recv() == b"\x00" * 1000 + b"\x01" * 70_000 + b"\x02"

        async def pieces():  # type: ignore[no-untyped-def]
            for i in range(50):
                yield f"{i},"

        await ws.send(pieces())
        assert await ws.recv() == "".join(f"{i}," for i in range(50))
    await probe.finished()
    assert probe.types() == [web.WSMsgType.TEXT, web.WSMsgType.BINARY, web.WSMsgType.TEXT]


@pytest.mark.parametrize("compression", DEFLATE)
async def test_fragmented_message_over_the_limit_is_1009(serve, compression: str | None) -> None:
    probe = Probe()
    srv = await serve(echo_handler(probe, max_msg_size=100_000))
    async with connect(srv.ws_url(), compression=compression, proxy=None) as ws:
        await ws.send([b"a" * 60_000, b"b" * 60_000])
        with pytest.raises(ConnectionClosedError):
            await asyncio.wait_for(ws.recv(), 3)
        assert ws.close_code == 1009
    await probe.finished()
    assert probe.close_code == 1009


async def test_autoping_answers_client_pings(serve) -> None:
    probe = Probe()
    srv = await serve(echo_handler(probe))
    async with connect(srv.ws_url(), proxy=None) as ws:
        waiter = await ws.ping(b"are you there")
        await asyncio.wait_for(waiter, 3)
        waiter = await ws.ping(b"")
        await asyncio.wait_for(waiter, 3)
        await ws.send("still echoing")
        assert await ws.recv() == "still echoing"
    await probe.finished()
    # With autoping the handler never sees PING or PONG.
    assert probe.types() == [web.WSMsgType.TEXT]


async def test_autoping_answers_aiohttp_pings(serve) -> None:
    probe = Probe()
    srv = await serve(echo_handler(probe))
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(srv.ws_url(), autoping=False) as ws,
    ):
        await ws.ping(b"hello")
        message = await ws.receive(timeout=3)
        assert message.type is aiohttp.WSMsgType.PONG
        assert message.data == b"hello"


async def test_autoping_false_delivers_ping_and_pong(serve) -> None:
    async def script(ws: web.WebSocketResponse) -> None:
        ping = await ws.receive(timeout=3)
        assert ping.type is web.WSMsgType.PING
        assert ping.data == b"client ping"
        await ws.pong(ping.data)  # the handler answers by hand
        await ws.ping(b"server ping")
        pong = await ws.receive(timeout=3)
        assert pong.type is web.WSMsgType.PONG
        assert pong.data == b"server ping"
        await ws.send_str("done")
        await ws.receive(timeout=3)

    probe = Probe()
    srv = await serve(scripted_handler(probe, script, autoping=False))
    async with connect(srv.ws_url(), proxy=None) as ws:
        waiter = await ws.ping(b"client ping")
        await asyncio.wait_for(waiter, 3)  # answered by the handler's pong
        assert await ws.recv() == "done"  # websockets answered the server's ping by itself
    await probe.finished()
    assert probe.error is None


async def test_unsolicited_pong_is_ignored_with_autoping(serve) -> None:
    probe = Probe()
    srv = await serve(echo_handler(probe))
    async with connect(srv.ws_url(), proxy=None) as ws:
        await ws.pong(b"unsolicited")
        await ws.send("after pong")
        assert await ws.recv() == "after pong"


async def test_control_payload_over_125_bytes_is_refused_locally(serve) -> None:
    async def script(ws: web.WebSocketResponse) -> None:
        with pytest.raises(ValueError):
            await ws.ping(b"x" * 126)
        with pytest.raises(ValueError):
            await ws.pong(b"x" * 126)
        await ws.ping(b"x" * 125)
        await ws.send_str("ok")
        await ws.receive(timeout=3)

    probe = Probe()
    srv = await serve(scripted_handler(probe, script))
    async with connect(srv.ws_url(), proxy=None) as ws:
        assert await ws.recv() == "ok"
    await probe.finished()
    assert probe.error is None


async def test_subprotocol_is_chosen_and_echoed(serve) -> None:
    probe = Probe()
    srv = await serve(echo_handler(probe, protocols=("chat", "superchat")))
    async with connect(srv.ws_url(), subprotocols=["superchat"], proxy=None) as ws:
        assert ws.subprotocol == "superchat"
        assert ws.response.headers["Sec-WebSocket-Protocol"] == "superchat"
        await probe.prepared.wait()
        assert probe.ws is not None
        assert probe.ws.ws_protocol == "superchat"


async def test_subprotocol_server_preference_wins(serve) -> None:
    probe = Probe()
    srv = await serve(echo_handler(probe, protocols=("chat", "superchat")))
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(srv.ws_url(), protocols=("superchat", "chat")) as ws,
    ):
        assert ws.protocol == "chat"
        await probe.prepared.wait()
        assert probe.ws is not None
        assert probe.ws.ws_protocol == "chat"


async def test_no_subprotocol_in_common_sends_no_header(serve) -> None:
    probe = Probe()
    srv = await serve(echo_handler(probe, protocols=("chat", "superchat")))
    async with connect(srv.ws_url(), subprotocols=["mqtt"], proxy=None) as ws:
        assert ws.subprotocol is None
        assert "Sec-WebSocket-Protocol" not in ws.response.headers
        await probe.prepared.wait()
        assert probe.ws is not None
        assert probe.ws.ws_protocol is None


async def test_receive_str_and_bytes_check_the_type(serve) -> None:
    async def script(ws: web.WebSocketResponse) -> None:
        with pytest.raises(TypeError):
            await ws.receive_str(timeout=3)  # gets BINARY
        with pytest.raises(TypeError):
            await ws.receive_bytes(timeout=3)  # gets TEXT
        assert await ws.receive_bytes(timeout=3) == b"bin"
        assert await ws.receive_str(timeout=3) == "txt"
        with pytest.raises(TypeError):
            await ws.send_str(b"bytes")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            await ws.send_bytes("text")  # type: ignore[arg-type]
        await ws.send_str("ok")
        await ws.receive(timeout=3)

    probe = Probe()
    srv = await serve(scripted_handler(probe, script))
    async with connect(srv.ws_url(), proxy=None) as ws:
        for message in (b"x", "y", b"bin", "txt"):
            await ws.send(message)
        assert await ws.recv() == "ok"
    await probe.finished()
    assert probe.error is None
