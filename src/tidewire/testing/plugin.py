"""tidewire's pytest plugin: fixtures that serve a handler and talk to it.

Installed with tidewire through the ``pytest11`` entry point ``tidewire``, so
any project that installs tidewire and pytest-asyncio gets:

- ``tidewire_server``: ``server = await tidewire_server(handler, **server_options)``,
  a started :class:`~tidewire.testing.TestServer`;
- ``tidewire_client``: ``client = await tidewire_client(handler_or_server, **server_options)``,
  a :class:`~tidewire.testing.TestClient` for HTTP requests to it;
- ``tidewire_ws``: ``ws = await tidewire_ws(server_or_url, path="/", **connect_options)``,
  an open :class:`~tidewire.ws.client.ClientWebSocket`.

Everything a fixture started is closed after the test (servers shut down
gracefully). Works in pytest-asyncio's auto and strict modes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar, cast

import pytest

from ..http.protocol import Handler
from .client import TestClient
from .server import TestServer

_F = TypeVar("_F", bound=Callable[..., Any])

try:
    import pytest_asyncio

    _fixture: Any = pytest_asyncio.fixture
except ImportError:  # pragma: no cover - the fixtures then need another asyncio plugin
    _fixture = pytest.fixture


def _async_fixture(function: _F) -> _F:
    """pytest-asyncio's fixture decorator (so strict mode works too), typed."""
    return cast(_F, _fixture(function))


__all__ = ["tidewire_client", "tidewire_server", "tidewire_ws"]

ServerFactory = Callable[..., Awaitable[TestServer]]
ClientFactory = Callable[..., Awaitable[TestClient]]


@_async_fixture
async def tidewire_server() -> AsyncIterator[ServerFactory]:
    """``await tidewire_server(handler, **server_options)``: a started :class:`TestServer`."""
    servers: list[TestServer] = []

    async def start(handler: Handler, **server_options: Any) -> TestServer:
        server = TestServer(handler, **server_options)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in reversed(servers):
        await server.close()


@_async_fixture
async def tidewire_client(tidewire_server: ServerFactory) -> AsyncIterator[ClientFactory]:
    """``await tidewire_client(handler_or_server, **server_options)``: an HTTP :class:`TestClient`.

    Given a handler, a :class:`TestServer` is started for it first.
    """
    clients: list[TestClient] = []

    async def make(target: Handler | TestServer, **server_options: Any) -> TestClient:
        server = target if isinstance(target, TestServer) else None
        if server is None:
            server = await tidewire_server(target, **server_options)
        client = TestClient(server.url, ssl=False if server.ssl_context is not None else None)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@_async_fixture
async def tidewire_ws() -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    """``await tidewire_ws(server_or_url, path="/", **connect_options)``: an open client WebSocket.

    ``connect_options`` are :func:`tidewire.connect`'s. Still-open sockets are
    closed (1000) after the test.
    """
    from ..ws.client import connect

    sockets: list[Any] = []

    async def open_ws(target: TestServer | str, path: str = "/", **options: Any) -> Any:
        url = target.ws_url(path) if isinstance(target, TestServer) else target
        ws = await connect(url, **options)
        sockets.append(ws)
        return ws

    yield open_ws
    for ws in sockets:
        if not ws.closed:
            await ws.close()
