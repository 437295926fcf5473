"""Shared fixtures: a real tidewire server on a free loopback port, per test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tidewire import web


@dataclass
class RunningServer:
    """A server started by the ``serve`` fixture."""

    host: str
    port: int
    server: web.Server
    runner: web.ServerRunner

    def url(self, path: str = "/", scheme: str = "http") -> str:
        return f"{scheme}://{self.host}:{self.port}{path}"

    def ws_url(self, path: str = "/ws") -> str:
        return f"ws://{self.host}:{self.port}{path}"

    async def raw(self, data: bytes, *, read_timeout: float = 2.0) -> bytes:
        """Send ``data`` on a fresh raw connection and read until the server closes it."""
        reader, writer = await asyncio.open_connection(self.host, self.port)
        writer.write(data)
        await writer.drain()
        chunks = []
        try:
            while True:
                chunk = await asyncio.wait_for(reader.read(65536), read_timeout)
                if not chunk:
                    break
                chunks.append(chunk)
        except (asyncio.TimeoutError, ConnectionResetError):
            pass
        writer.close()
        return b"".join(chunks)


ServeFactory = Callable[..., Any]


@pytest.fixture
async def serve() -> AsyncIterator[ServeFactory]:
    """``srv = await serve(handler, **server_options)``: start a server; stopped after the test."""
    runners: list[web.ServerRunner] = []

    async def start(handler: Any, *, ssl_context: Any = None, **options: Any) -> RunningServer:
        server = web.Server(handler, **options)
        runner = web.ServerRunner(server, shutdown_timeout=options.get("shutdown_timeout", 2.0))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        runners.append(runner)
        port = site.sockets[0].getsockname()[1]
        return RunningServer("127.0.0.1", port, server, runner)

    yield start
    for runner in runners:
        await runner.cleanup()
