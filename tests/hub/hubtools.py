"""Helpers shared by the hub tests (imported as ``hubtools``)."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis

from tidewire import web
from tidewire.hub import Hub, Position, Recovery


@dataclass
class RedisServer:
    """A real ``redis-server`` on a loopback port, without persistence."""

    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @classmethod
    def start(cls, port: int, timeout: float = 10.0) -> RedisServer:
        """Start it and wait until it answers PING; a missing redis-server fails the test."""
        executable = shutil.which("redis-server")
        if executable is None:
            pytest.fail("redis-server is not installed: run scripts/system-deps.sh")
        args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        process = subprocess.Popen(
            [executable, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        client = redis.Redis(port=port)
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    client.ping()
                    return cls(port, process)
                except redis.ConnectionError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        process.kill()
                        pytest.fail(f"redis-server did not start on port {port}")
                    time.sleep(0.02)
        finally:
            client.close()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def unused_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class HubServer:
    """A tidewire server whose ``/ws`` subscribes each socket to a hub topic.

    Query parameters: ``topic`` (default ``t``), ``member`` (presence name),
    ``sndbuf`` (server-side SO_SNDBUF of that connection), ``close_timeout``.
    Text messages received are published to the topic.
    """

    hub: Hub
    host: str = ""
    port: int = 0
    sockets: list[web.WebSocketResponse] = field(default_factory=list)

    def url(self, topic: str = "t", **params: str) -> str:
        query = "&".join(f"{key}={value}" for key, value in {"topic": topic, **params}.items())
        return f"ws://{self.host}:{self.port}/ws?{query}"

    async def wait_subscribers(self, topic: str, count: int, timeout: float = 5.0) -> None:
        await wait_for(lambda: self.hub.subscriber_count(topic) == count, timeout)


async def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``predicate`` until it holds (AssertionError after ``timeout`` seconds)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


HubServerFactory = Callable[..., Awaitable[HubServer]]


@dataclass
class RecoveryServer:
    """A tidewire server whose ``/ws`` subscribes with recovery (see :func:`serve_recovery`).

    Query parameters: ``topic``, ``epoch`` and ``offset`` (the client's last
    position, both or neither), ``recent``. Each subscribe's :class:`Recovery`
    is appended to ``results``.
    """

    hub: Hub
    host: str = ""
    port: int = 0
    results: list[Recovery | None] = field(default_factory=list)

    def url(self, topic: str, since: Position | None = None, recent: int = 0) -> str:
        query = f"topic={topic}&recent={recent}"
        if since is not None:
            query += f"&epoch={since.epoch}&offset={since.offset}"
        return f"ws://{self.host}:{self.port}/ws?{query}"


async def serve_recovery(serve: Any, hub: Hub) -> RecoveryServer:
    """Serve ``hub`` with a handler that subscribes each socket with ``since``/``recent``."""
    state = RecoveryServer(hub)

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        query = request.query
        since = None
        if "epoch" in query:
            since = Position(query["epoch"], int(query["offset"]))
        try:
            result = await hub.subscribe(
                ws, query["topic"], since=since, recent=int(query.get("recent", "0"))
            )
            state.results.append(result)
            async for _ in ws:
                pass
        finally:
            await hub.disconnect(ws)
        return ws

    running = await serve(handler)
    state.host, state.port = running.host, running.port
    return state


@dataclass
class Envelope:
    """One message of a topic with history, as a client sees it."""

    epoch: str
    offset: int
    data: Any

    @property
    def position(self) -> Position:
        return Position(self.epoch, self.offset)


def envelope(raw: str | bytes) -> Envelope:
    message = json.loads(raw)
    return Envelope(message["epoch"], message["offset"], message["data"])
