"""Fixtures of the hub tests: a real redis-server, and a WebSocket server wired to a hub."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hubtools import HubServer, RedisServer, unused_port

from tidewire import web
from tidewire.hub import Hub


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """``redis-server --port <free> --save '' --appendonly no`` on loopback; stopped at the end.

    A missing redis-server FAILS the tests: scripts/system-deps.sh installs it.
    """
    server = RedisServer.start(unused_port())
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix of its own for each test (no flush between tests needed)."""
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def hub_server(serve: Any) -> Any:
    """``srv = await hub_server(hub, disconnect=True)``: serve ``hub`` on a free port."""
    hubs: list[Hub] = []

    async def start(hub: Hub, *, disconnect: bool = True) -> HubServer:
        state = HubServer(hub)

        async def handler(request: web.BaseRequest) -> web.StreamResponse:
            close_timeout = float(request.query.get("close_timeout", "1"))
            ws = web.WebSocketResponse(close_timeout=close_timeout)
            await ws.prepare(request)
            sndbuf = request.query.get("sndbuf")
            if sndbuf and request.transport is not None:
                sock = request.transport.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, int(sndbuf))
            topic = request.query.get("topic", "t")
            state.sockets.append(ws)
            await hub.subscribe(ws, topic, member=request.query.get("member"))
            try:
                async for msg in ws:
                    if msg.type is web.WSMsgType.TEXT:
                        await hub.publish(topic, msg.data)
            finally:
                if disconnect:
                    await hub.disconnect(ws)
            return ws

        running = await serve(handler)
        state.host, state.port = running.host, running.port
        hubs.append(hub)
        return state

    yield start
    for hub in hubs:
        await hub.close()
