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
async def serve(tidewire_server: Any) -> AsyncIterator[ServeFactory]:
    """``srv = await serve(handler, **server_options)``: start a server; stopped after the test.

    Built on the test kit's ``tidewire_server`` fixture (:mod:`tidewire.testing`).
    """

    async def start(
        handler: Any, *, shutdown_timeout: float = 2.0, **options: Any
    ) -> RunningServer:
        server = await tidewire_server(handler, shutdown_timeout=shutdown_timeout, **options)
        return RunningServer(server.host, server.port, server.server, server.runner)

    yield start
