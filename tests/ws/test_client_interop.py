"""tidewire.connect against aiohttp's and websockets' servers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import WSMsgType as AioMsgType
from aiohttp import web as aioweb
from websockets.asyncio.server import ServerConnection
from websockets.asyncio.server import serve as ws_serve

import tidewire
from tidewire import web


@pytest.fixture
async def aiohttp_url() -> AsyncIterator[str]:
    """An aiohttp echo server (subprotocol "chat", compression on); closes on "bye"."""

    async def handler(request: aioweb.Request) -> aioweb.WebSocketResponse:
        ws = aioweb.WebSocketResponse(protocols=["chat"], compress=True)
        await ws.prepare(request)
        async for message in ws:
            if message.type is AioMsgType.TEXT:
                if message.data == "bye":
                    await ws.close(code=4000, message=b"asked")
                    break
                await ws.send_str(message.data)
            elif message.type is AioMsgType.BINARY:
                await ws.send_bytes(message.data)
        return ws

    app = aioweb.Application()
    app.router.add_get("/ws", handler)
    runner = aioweb.AppRunner(app)
    await runner.setup()
    site = aioweb.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"ws://127.0.0.1:{port}/ws"
    await runner.cleanup()


@pytest.fixture
async def websockets_url() -> AsyncIterator[str]:
    """A websockets echo server (subprotocol "chat", compression on); closes on "bye"."""

    async def handler(ws: ServerConnection) -> None:
        async for message in ws:
            if message == "bye":
                await ws.close(code=4000, reason="asked")
                return
            await ws.send(message)

    async with ws_serve(
        handler, "127.0.0.1", 0, subprotocols=["chat"], compression="deflate"
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}/ws"


@pytest.fixture(params=["aiohttp", "websockets"])
def server_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.mark.parametrize("compress", [True, False, 10])
async def test_echo(server_url: str, compress: Any) -> None:
    async with tidewire.connect(server_url, protocols=["chat"], compress=compress) as ws:
        assert ws.ws_protocol == "chat"
        assert ws.compress is (compress is not False)
        for text in ("hello", "é" * 3000, ""):
            await ws.send_str(text)
            assert await ws.receive_str() == text
        payload = bytes(range(256)) * 1000
        await ws.send_bytes(payload)
        assert await ws.receive_bytes() == payload
        await ws.ping(b"are you there")
        await ws.send_json({"k": "v"})
        assert await ws.receive_json() == {"k": "v"}
    assert ws.close_code == 1000


async def test_server_initiated_close_code_and_reason(server_url: str) -> None:
    # (websockets' server refuses, 400, a client that offers none of its subprotocols)
    async with tidewire.connect(server_url, protocols=["chat"]) as ws:
        await ws.send_str("bye")
        message = await ws.receive()
        assert (message.type, message.data, message.extra) == (web.WSMsgType.CLOSE, 4000, "asked")
        assert (await ws.receive()).type is web.WSMsgType.CLOSED
    assert ws.close_code == 4000


async def test_unknown_path_is_rejected(aiohttp_url: str) -> None:
    with pytest.raises(tidewire.WSHandshakeRejected) as info:
        await tidewire.connect(aiohttp_url.replace("/ws", "/nothing"))
    assert info.value.status == 404
