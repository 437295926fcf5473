"""``async for ws in tidewire.connect(url, reconnect=True)`` against tidewire's server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import tidewire
from tidewire import web
from tidewire.testing import TestServer
from tidewire.ws.reconnect import Backoff

FAST = Backoff(initial=0.01, maximum=0.05, jitter=0.5)


def counting_handler(counter: list[int], *, refuse_from: int = 0, status: int = 403) -> Any:
    """Each connection gets its number, then is closed by the server (1001)."""

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        counter.append(len(counter) + 1)
        if refuse_from and len(counter) >= refuse_from:
            return web.Response(status=status)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(str(len(counter)))
        await ws.close(code=web.WSCloseCode.GOING_AWAY)
        return ws

    return handler


async def test_reconnects_after_each_drop_until_the_application_closes(
    tidewire_server: Any,
) -> None:
    counter: list[int] = []
    server = await tidewire_server(counting_handler(counter))
    seen: list[str] = []
    async for ws in tidewire.connect(server.ws_url("/"), reconnect=True, backoff=FAST):
        seen.append(await ws.receive_str())
        if len(seen) == 3:
            await ws.close()  # the application's choice: the loop ends
            continue
        message = await ws.receive()
        assert (message.type, message.data) == (web.WSMsgType.CLOSE, 1001)
    assert seen == ["1", "2", "3"]
    assert counter == [1, 2, 3]


async def test_a_4xx_answer_stops_reconnecting(tidewire_server: Any) -> None:
    counter: list[int] = []
    server = await tidewire_server(counting_handler(counter, refuse_from=3, status=403))
    seen: list[str] = []
    with pytest.raises(tidewire.WSHandshakeRejected) as info:
        async for ws in tidewire.connect(server.ws_url("/"), reconnect=True, backoff=FAST):
            seen.append(await ws.receive_str())
            await ws.receive()
    assert info.value.status == 403
    assert seen == ["1", "2"] and counter == [1, 2, 3]


async def test_5xx_and_unreachable_are_retried_with_backoff() -> None:
    counter: list[int] = []
    # The server answers 503 twice, then accepts.
    attempts: list[int] = []

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        attempts.append(1)
        if len(attempts) <= 2:
            return web.Response(status=503)
        return await counting_handler(counter)(request)  # type: ignore[no-any-return]

    async with TestServer(handler) as server:
        url = server.ws_url("/")
        async for ws in tidewire.connect(url, reconnect=True, backoff=FAST):
            assert await ws.receive_str() == "1"
            await ws.close()
    assert len(attempts) == 3

    # Unreachable (nothing listens there any more): the loop keeps retrying until cancelled.
    loop_task = asyncio.ensure_future(_first(url))
    await asyncio.sleep(0.3)
    assert not loop_task.done()  # still retrying a refused port
    loop_task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await loop_task


async def _first(url: str) -> None:
    async for ws in tidewire.connect(url, reconnect=True, backoff=FAST, open_timeout=1):
        await ws.close()


async def test_asking_for_the_next_connection_while_open_closes_the_current_one(
    tidewire_server: Any,
) -> None:
    peers: list[int | None] = []

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for _ in ws:
            pass
        peers.append(ws.close_code)
        return ws

    server = await tidewire_server(handler)
    opened = []
    async for ws in tidewire.connect(server.ws_url("/"), reconnect=True, backoff=FAST):
        opened.append(ws)
        if len(opened) == 2:
            await ws.close()
    assert opened[0].close_code == 1000 and opened[0].closed_by_application is False
    await asyncio.sleep(0.1)
    assert peers == [1000, 1000]


async def test_next_connection_answers_a_close_the_application_left_pending(
    tidewire_server: Any,
) -> None:
    # With autoclose=False the peer's Close waits for our answer; moving on must give it.
    results: list[tuple[int | None, float]] = []

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        ws = web.WebSocketResponse(close_timeout=5)
        await ws.prepare(request)
        started = asyncio.get_running_loop().time()
        await ws.close(code=web.WSCloseCode.GOING_AWAY)
        results.append((ws.close_code, asyncio.get_running_loop().time() - started))
        return ws

    server = await tidewire_server(handler)
    count = 0
    async for ws in tidewire.connect(
        server.ws_url("/"), reconnect=True, backoff=FAST, autoclose=False
    ):
        count += 1
        message = await ws.receive()
        assert (message.type, message.data) == (web.WSMsgType.CLOSE, 1001)
        if count == 2:
            await ws.close()
    await asyncio.sleep(0.1)
    assert [code for code, _ in results] == [1000, 1000]  # our answer, not 1006
    assert all(elapsed < 2 for _, elapsed in results)
