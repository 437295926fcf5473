"""What an upgraded (idle) WebSocket connection keeps of the HTTP side after the hand-over.

An idle WebSocket lives for hours; every object the HTTP side keeps after the
hand-over is paid per connection. These tests look at the real connection
object of a real server while a real client (aiohttp's) holds the WebSocket open.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

import aiohttp
import httptools

from tidewire import web
from tidewire.http.deadline import Deadline
from tidewire.http.parser import HTTP11, RequestHead, RequestReader

STEP = 5.0


def _http_reading_state(protocol: object) -> list[str]:
    """The names of the protocol's attributes that hold HTTP reading machinery."""
    kinds = (RequestReader, httptools.HttpRequestParser, deque, Deadline)
    return sorted(name for name, value in vars(protocol).items() if isinstance(value, kinds))


async def test_hand_over_releases_the_http_reader_queue_and_deadline(serve: Any) -> None:
    seen: dict[str, Any] = {}
    prepared = asyncio.Event()

    async def handler(request: web.BaseRequest) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        (protocol,) = srv.server.connections
        seen["before"] = _http_reading_state(protocol)
        await ws.prepare(request)
        seen["after"] = _http_reading_state(protocol)
        seen["stash"] = protocol._stash
        head = request.head
        seen["decoded_kept"] = head._headers is not None
        seen["tuples_kept"] = head._raw_headers is not None
        # The header section is still there, decoded again on demand.
        seen["user_agent"] = request.headers.get("User-Agent")
        seen["raw_names"] = [name for name, _ in request.raw_headers]
        prepared.set()
        async for message in ws:
            await ws.send_str(message.data)
        return ws

    srv = await serve(handler)
    async with aiohttp.ClientSession() as session:
        url = f"http://{srv.host}:{srv.port}/ws"
        async with session.ws_connect(url, headers={"User-Agent": "idle-test/1"}) as ws:
            await asyncio.wait_for(prepared.wait(), STEP)
            # Before the hand-over the HTTP side reads with all of them: the check can fail.
            assert seen["before"] == ["_deadline", "_queue", "_reader"]
            assert seen["after"] == []
            assert seen["stash"] == b""
            assert not seen["decoded_kept"]
            assert not seen["tuples_kept"]  # packed into one bytes object
            assert seen["user_agent"] == "idle-test/1"
            assert b"User-Agent" in seen["raw_names"]
            # The upgraded connection still works, and the server still tracks it.
            await ws.send_str("still here")
            assert (await asyncio.wait_for(ws.receive(), STEP)).data == "still here"
            assert len(srv.server.connections) == 1
    for _ in range(100):
        if not srv.server.connections:
            break
        await asyncio.sleep(0.01)
    assert srv.server.connections == []


def _head(raw: tuple[tuple[bytes, bytes], ...]) -> RequestHead:
    return RequestHead("GET", "/ws", HTTP11, raw, True, True, False, None)


def test_compact_head_gives_back_the_same_fields() -> None:
    raw = (
        (b"Host", b"example.com:8080"),
        (b"X-Odd", b"a: b:c"),
        (b"X-Empty", b""),
        (b"X-Latin", b"caf\xe9"),
        (b"Host", b"twice"),
    )
    head = _head(raw)
    decoded_before = list(head.headers.items())
    head.compact()
    assert head._raw_headers is None and head._headers is None
    assert head == _head(raw)
    assert list(head.headers.items()) == decoded_before
    assert head.raw_headers == raw
    head.compact()  # again, from the rebuilt tuples
    assert head.raw_headers == raw


def test_compact_keeps_a_head_it_cannot_pack_losslessly() -> None:
    for raw in (((b"X-Lf", b"a\nb"),), ((b"X:Colon", b"v"),), ()):
        head = _head(raw)
        head.compact()
        assert head._raw_headers is raw
        assert head.raw_headers == raw
