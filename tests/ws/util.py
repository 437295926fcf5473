"""Handlers and probes shared by the WebSocket tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from websockets.asyncio.client import connect as ws_connect

import tidewire
from tidewire import web

Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]


@dataclass
class Probe:
    """What a server-side handler saw, for the test to inspect."""

    messages: list[web.WSMessage] = field(default_factory=list)
    ws: web.WebSocketResponse | None = None
    request: web.BaseRequest | None = None
    prepared: asyncio.Event = field(default_factory=asyncio.Event)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    close_code: int | None = None
    exception: BaseException | None = None
    error: BaseException | None = None
    calls: int = 0
    notes: dict[str, Any] = field(default_factory=dict)

    async def finished(self, timeout: float = 3.0) -> None:
        await asyncio.wait_for(self.done.wait(), timeout)

    def types(self) -> list[web.WSMsgType]:
        return [message.type for message in self.messages]


def echo_handler(probe: Probe, **options: Any) -> Handler:
    """Upgrade, echo TEXT and BINARY until the loop ends, record everything."""

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        probe.calls += 1
        probe.request = request
        ws = web.WebSocketResponse(**options)
        probe.ws = ws
        await ws.prepare(request)
        probe.prepared.set()
        try:
            async for message in ws:
                probe.messages.append(message)
                if message.type is web.WSMsgType.TEXT:
                    await ws.send_str(message.data)
                elif message.type is web.WSMsgType.BINARY:
                    await ws.send_bytes(message.data)
        except BaseException as exc:
            probe.error = exc
            raise
        finally:
            probe.close_code = ws.close_code
            probe.exception = ws.exception()
            probe.done.set()
        return ws

    return handler


def scripted_handler(
    probe: Probe, script: Callable[[web.WebSocketResponse], Awaitable[None]], **options: Any
) -> Handler:
    """Upgrade, then run ``script(ws)``; record how it ended."""

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        probe.calls += 1
        probe.request = request
        ws = web.WebSocketResponse(**options)
        probe.ws = ws
        await ws.prepare(request)
        probe.prepared.set()
        try:
            await script(ws)
        except BaseException as exc:
            probe.error = exc
            raise
        finally:
            probe.close_code = ws.close_code
            probe.exception = ws.exception()
            probe.done.set()
        return ws

    return handler


# real clients ---------------------------------------------------------------------------

CLIENT_KINDS = [
    "websockets",
    "websockets-deflate",
    "aiohttp",
    "aiohttp-deflate",
    "tidewire",
    "tidewire-deflate",
]


class Client:
    """The few operations the tests need, over a websockets, aiohttp or tidewire client.

    (tidewire's client has aiohttp's message API, so it takes aiohttp's paths.)
    """

    def __init__(self, kind: str, conn: Any) -> None:
        self.kind = kind
        self.conn = conn

    @property
    def compressed(self) -> bool:
        if self.kind.startswith("websockets"):
            header = self.conn.response.headers.get("Sec-WebSocket-Extensions", "")
            return "permessage-deflate" in header
        return bool(self.conn.compress)

    async def send(self, data: str | bytes) -> None:
        if self.kind.startswith("websockets"):
            await self.conn.send(data)
        elif isinstance(data, str):
            await self.conn.send_str(data)
        else:
            await self.conn.send_bytes(data)

    async def recv(self, timeout: float = 5.0) -> str | bytes:
        if self.kind.startswith("websockets"):
            return await asyncio.wait_for(self.conn.recv(), timeout)  # type: ignore[no-any-return]
        message = await self.conn.receive(timeout=timeout)
        assert message.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY), message
        return message.data  # type: ignore[no-any-return]

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if self.kind.startswith("websockets"):
            await self.conn.close(code=code, reason=reason)
        else:
            await self.conn.close(code=code, message=reason.encode())

    @property
    def close_code(self) -> int | None:
        return self.conn.close_code  # type: ignore[no-any-return]


@asynccontextmanager
async def open_client(kind: str, url: str, **options: Any) -> AsyncIterator[Client]:
    """A connected client of ``kind`` (see :data:`CLIENT_KINDS`), closed afterwards."""
    deflate = kind.endswith("-deflate")
    if kind.startswith("websockets"):
        async with ws_connect(
            url,
            compression="deflate" if deflate else None,
            max_size=None,
            proxy=None,
            ping_interval=None,
            open_timeout=5,
            close_timeout=2,
            **options,
        ) as conn:
            yield Client(kind, conn)
        return
    if kind.startswith("tidewire"):
        async with tidewire.connect(url, compress=deflate, max_msg_size=0, **options) as conn:
            yield Client(kind, conn)
        return
    timeout = aiohttp.ClientTimeout(total=10)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.ws_connect(url, compress=15 if deflate else 0, max_msg_size=0, **options) as conn,
    ):
        yield Client(kind, conn)
