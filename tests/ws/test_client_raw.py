"""tidewire.connect against scripted raw servers: what only a misbehaving server can show."""

from __future__ import annotations

import asyncio
import time

import pytest

import tidewire
from tidewire import web

from .rawclient import BINARY, CLOSE, PING, PONG, TEXT, close_payload, deflate, frame
from .rawserver import RawPeer, raw_server


async def test_client_frames_are_masked() -> None:
    seen: list[tuple[int, bool, bytes]] = []

    async def script(peer: RawPeer) -> None:
        await peer.accept()
        await peer.send(frame(TEXT, b"early", mask=False))
        frames = await peer.read_frames(2)
        seen.extend((f.opcode, f.masked, f.payload) for f in frames)
        await peer.send(frame(CLOSE, close_payload(1000), mask=False))
        # then the server ends TCP (rawserver closes the writer)

    async with raw_server(script) as url, tidewire.connect(url, compress=False) as ws:
        assert await ws.receive_str() == "early"
        await ws.send_bytes(b"data")
        await ws.close()
    assert seen == [(BINARY, True, b"data"), (CLOSE, True, close_payload(1000))]


async def test_same_packet_101_and_frames() -> None:
    async def script(peer: RawPeer) -> None:
        from tidewire.ws.handshake import accept_token

        response = (
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept_token(peer.key)}\r\n\r\n"
        ).encode()
        await peer.send(
            response + frame(TEXT, b"one", mask=False) + frame(TEXT, b"two", mask=False)
        )
        await peer.reader.read()

    async with raw_server(script) as url, tidewire.connect(url, close_timeout=0.5) as ws:
        assert [await ws.receive_str(), await ws.receive_str()] == ["one", "two"]


async def test_a_masked_server_frame_fails_the_connection_with_1002() -> None:
    answers: list[int | None] = []
    done = asyncio.Event()

    async def script(peer: RawPeer) -> None:
        await peer.accept()
        await peer.send(frame(TEXT, b"masked", mask=True))  # RFC 6455 5.1: servers must not mask
        frames = await peer.read_frames(1)
        answers.extend(f.close_code for f in frames if f.opcode == CLOSE)
        done.set()

    async with raw_server(script) as url, tidewire.connect(url) as ws:
        message = await ws.receive()
        assert message.type is web.WSMsgType.ERROR
        assert ws.close_code == 1002
        assert isinstance(ws.exception(), web.WebSocketError)
        await asyncio.wait_for(done.wait(), 3)
    assert answers == [1002]


async def test_compressed_message_from_a_raw_server() -> None:
    async def script(peer: RawPeer) -> None:
        await peer.accept(
            "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover"
        )
        await peer.send(frame(TEXT, deflate(b"squeezed " * 50), rsv1=True, mask=False))
        await peer.reader.read()

    async with raw_server(script) as url, tidewire.connect(url, close_timeout=0.5) as ws:
        assert ws.compress is True
        assert await ws.receive_str() == "squeezed " * 50


async def test_heartbeat_drops_a_silent_server_with_1006() -> None:
    pings: list[bytes] = []

    async def script(peer: RawPeer) -> None:
        await peer.accept()
        frames = await peer.read_frames(1)
        pings.extend(f.payload for f in frames if f.opcode == PING)
        await asyncio.sleep(5)  # never answers

    async with raw_server(script) as url, tidewire.connect(url, heartbeat=0.1) as ws:
        message = await ws.receive(timeout=3)
        assert message.type is web.WSMsgType.CLOSED
        assert ws.close_code == 1006
        assert isinstance(ws.exception(), asyncio.TimeoutError)
    assert len(pings) == 1


async def test_heartbeat_spares_a_server_that_answers() -> None:
    async def script(peer: RawPeer) -> None:
        await peer.accept()
        for _ in range(3):
            frames = await peer.read_frames(1)
            for f in frames:
                if f.opcode == PING:
                    await peer.send(frame(PONG, f.payload, mask=False))
        await peer.send(frame(TEXT, b"alive", mask=False))
        await peer.reader.read()

    async with (
        raw_server(script) as url,
        tidewire.connect(url, heartbeat=0.1, close_timeout=0.5) as ws,
    ):
        assert await ws.receive_str(timeout=3) == "alive"
        assert ws.close_code is None


async def test_client_waits_for_the_server_to_end_tcp_after_the_close_handshake() -> None:
    # RFC 6455 section 7.1.1: the server closes the TCP connection first.
    events: list[str] = []

    async def script(peer: RawPeer) -> None:
        await peer.accept()
        frames = await peer.read_frames(1)
        assert frames[0].opcode == CLOSE
        await peer.send(frame(CLOSE, frames[0].payload, mask=False))
        try:
            eof = await asyncio.wait_for(peer.reader.read(), 0.3)
            events.append(f"client ended TCP first ({eof!r})")
        except asyncio.TimeoutError:
            events.append("client waited")
        peer.writer.close()

    async with raw_server(script) as url:
        ws = await tidewire.connect(url, close_timeout=5)
        started = time.monotonic()
        assert await ws.close() is True
        elapsed = time.monotonic() - started
    assert events == ["client waited"]
    assert ws.close_code == 1000
    assert 0.25 < elapsed < 4  # it returned once the server ended TCP, not at close_timeout


async def test_client_ends_tcp_itself_after_close_timeout_when_the_server_does_not() -> None:
    # RFC 6455 section 7.1.1: a client that waited close_timeout for the server's
    # end of TCP closes the connection itself.
    events: list[str] = []

    async def script(peer: RawPeer) -> None:
        await peer.accept()
        frames = await peer.read_frames(1)
        assert frames[0].opcode == CLOSE
        await peer.send(frame(CLOSE, frames[0].payload, mask=False))
        started = time.monotonic()
        eof = await asyncio.wait_for(peer.reader.read(), 5)  # never closes TCP itself
        events.append(f"eof {eof!r} after {time.monotonic() - started:.2f}s")

    async with raw_server(script) as url:
        ws = await tidewire.connect(url, close_timeout=0.4)
        started = time.monotonic()
        assert await ws.close() is True
        elapsed = time.monotonic() - started
        for _ in range(100):
            if events:
                break
            await asyncio.sleep(0.02)
    assert ws.close_code == 1000
    assert 0.35 < elapsed < 3
    assert len(events) == 1 and events[0].startswith("eof b'' after ")
    assert float(events[0].split()[-1].rstrip("s")) > 0.3


async def test_close_timeout_when_the_server_never_answers_our_close() -> None:
    async def script(peer: RawPeer) -> None:
        await peer.accept()
        await asyncio.sleep(5)

    async with raw_server(script) as url:
        ws = await tidewire.connect(url, close_timeout=0.2)
        started = time.monotonic()
        await ws.close()
        assert time.monotonic() - started < 2
        assert ws.close_code == 1006


async def test_open_timeout_covers_the_handshake() -> None:
    async def script(peer: RawPeer) -> None:
        await asyncio.sleep(5)  # reads the request, never answers

    async with raw_server(script) as url:
        started = time.monotonic()
        with pytest.raises(tidewire.WSOpenTimeout) as info:
            await tidewire.connect(url, open_timeout=0.2)
        assert time.monotonic() - started < 2
    assert isinstance(info.value, asyncio.TimeoutError)
    assert isinstance(info.value, tidewire.WSClientError)


@pytest.mark.parametrize(
    "extra",
    [
        ("accept", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("header", "Sec-WebSocket-Extensions: x-custom"),
        ("header", "Sec-WebSocket-Protocol: unoffered"),
    ],
)
async def test_invalid_upgrades_are_refused(extra: tuple[str, str]) -> None:
    kind, value = extra

    async def script(peer: RawPeer) -> None:
        if kind == "accept":
            await peer.accept(accept=value)
        else:
            await peer.accept(value)
        await peer.reader.read()

    async with raw_server(script) as url:
        with pytest.raises(tidewire.WSInvalidUpgrade):
            await tidewire.connect(url, open_timeout=2)


async def test_server_closing_during_the_handshake() -> None:
    async def script(peer: RawPeer) -> None:
        await peer.send(b"HTTP/1.1 101 Switching")

    async with raw_server(script) as url:
        with pytest.raises(tidewire.WSInvalidUpgrade, match="closed"):
            await tidewire.connect(url, open_timeout=2)
