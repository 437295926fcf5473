"""Messages between tidewire and real clients (websockets, aiohttp), with and without deflate."""

from __future__ import annotations

import json
import os

import pytest

from tidewire import web

from .util import CLIENT_KINDS, Probe, echo_handler, open_client, scripted_handler

pytestmark = pytest.mark.parametrize("kind", CLIENT_KINDS)


async def test_text_binary_and_empty_messages_echo(serve, kind: str) -> None:
    probe = Probe()
    srv = await serve(echo_handler(probe))
    messages: list[str | bytes] = ["hello", "", "héllo wörld € 𝄞", b"\x00\x01\xff", b"", "x" * 200]
    async with open_client(kind, srv.ws_url()) as client:
        assert client.compressed == kind.endswith("-deflate")
        for message in messages:
            await client.send(message)
            reply = await client.recv()
            assert type(reply) is type(message)
            assert reply == message
        assert probe.ws is not None
        assert probe.ws.compress == kind.endswith("-deflate")
    await probe.finished()
    received = [m.data for m in probe.messages]
    assert received == messages
    expected_types = [
        web.WSMsgType.TEXT if isinstance(m, str) else web.WSMsgType.BINARY for m in messages
    ]
    assert probe.types() == expected_types


async def test_large_messages(serve, kind: str) -> None:
    probe = Probe()
    srv = await serve(echo_handler(probe, max_msg_size=8 * 1024 * 1024))
    binary = os.urandom(5 * 1024 * 1024 + 3)  # incompressible
    text = "".join(chr(0x41 + i % 26) for i in range(1024)) * (6 * 1024)  # 6 MiB, compressible
    async with open_client(kind, srv.ws_url()) as client:
        await client.send(binary)
        assert await client.recv(timeout=20) == binary
        await client.send(text)
        assert await client.recv(timeout=20) == text
    await probe.finished()
    assert [len(m.data) for m in probe.messages] == [len(binary), len(text)]


async def test_message_at_the_default_limit_passes(serve, kind: str) -> None:
    probe = Probe()
    srv = await serve(echo_handler(probe))  # max_msg_size defaults to 4 MiB
    data = os.urandom(4 * 1024 * 1024)
    async with open_client(kind, srv.ws_url()) as client:
        await client.send(data)
        assert await client.recv(timeout=20) == data


async def test_json_round_trip(serve, kind: str) -> None:
    async def script(ws: web.WebSocketResponse) -> None:
        payload = await ws.receive_json()
        await ws.send_json({"got": payload, "n": len(payload["items"])})
        await ws.receive()

    srv = await serve(scripted_handler(Probe(), script))
    async with open_client(kind, srv.ws_url()) as client:
        await client.send('{"items": [1, 2, 3], "name": "tide"}')
        reply = await client.recv()
        assert isinstance(reply, str)

        assert json.loads(reply) == {"got": {"items": [1, 2, 3], "name": "tide"}, "n": 3}


async def test_send_prepared_reaches_every_kind_of_client(serve, kind: str) -> None:
    text = web.PreparedMessage.encode("broadcast ✓")
    blob = web.PreparedMessage.encode(b"\x00" * 70_000)

    async def script(ws: web.WebSocketResponse) -> None:
        await ws.send_prepared(text)
        await ws.send_prepared(blob)
        await ws.send_str("after")  # compressed again, if negotiated
        await ws.receive()

    srv = await serve(scripted_handler(Probe(), script))
    async with open_client(kind, srv.ws_url()) as client:
        assert await client.recv() == "broadcast ✓"
        assert await client.recv() == b"\x00" * 70_000
        assert await client.recv() == "after"


async def test_send_with_compress_false_still_reaches_the_client(serve, kind: str) -> None:
    async def script(ws: web.WebSocketResponse) -> None:
        await ws.send_str("plain", compress=False)
        await ws.send_bytes(b"plain bytes", compress=False)
        await ws.send_json({"a": 1}, compress=False)
        await ws.send_str("packed")
        await ws.receive()

    srv = await serve(scripted_handler(Probe(), script))
    async with open_client(kind, srv.ws_url()) as client:
        assert await client.recv() == "plain"
        assert await client.recv() == b"plain bytes"
        assert await client.recv() == '{"a": 1}'
        assert await client.recv() == "packed"


async def test_many_small_messages_keep_their_order(serve, kind: str) -> None:
    probe = Probe()
    srv = await serve(echo_handler(probe))
    async with open_client(kind, srv.ws_url()) as client:
        for i in range(300):
            await client.send(f"message {i}")
        for i in range(300):
            assert await client.recv() == f"message {i}"
