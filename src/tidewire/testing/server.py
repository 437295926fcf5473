"""``TestServer``: serve a handler on a free loopback port for the length of a test."""

from __future__ import annotations

import ssl
from types import TracebackType
from typing import Any

from ..http.protocol import Handler
from ..server import Server, ServerRunner, TCPSite

__all__ = ["TestServer"]


class TestServer:
    """An async context manager serving ``handler`` on ``127.0.0.1`` and a free port.

    ``server_options`` are :class:`~tidewire.web.Server` options (its
    ``ServerConfig`` limits); ``ssl_context`` serves HTTPS / ``wss://``.
    On exit the server shuts down gracefully within ``shutdown_timeout``
    seconds (open WebSockets are closed with 1001, running handlers are
    awaited, then cancelled). ``start``/``close`` do the same without
    ``async with``.

    ::

        async with TestServer(handler) as server:
            async with tidewire.connect(server.ws_url("/ws")) as ws:
                ...
    """

    __test__ = False  # not a pytest test class, despite its name

    def __init__(
        self,
        handler: Handler,
        *,
        host: str = "127.0.0.1",
        ssl_context: ssl.SSLContext | None = None,
        shutdown_timeout: float = 2.0,
        **server_options: Any,
    ) -> None:
        self.handler = handler
        self.host = host
        self.ssl_context = ssl_context
        self.server = Server(handler, shutdown_timeout=shutdown_timeout, **server_options)
        #: The runner that owns the listening site (``cleanup()`` is what :meth:`close` does).
        self.runner = ServerRunner(self.server, shutdown_timeout=shutdown_timeout)
        self._port: int | None = None

    @property
    def port(self) -> int:
        """The port the server listens on (after :meth:`start`)."""
        if self._port is None:
            raise RuntimeError("the TestServer is not started")
        return self._port

    @property
    def scheme(self) -> str:
        """``"https"`` with an ``ssl_context``, else ``"http"``."""
        return "https" if self.ssl_context is not None else "http"

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:40123`` (no trailing slash)."""
        return f"{self.scheme}://{self.host}:{self.port}"

    def make_url(self, path: str = "/") -> str:
        """The absolute ``http(s)://`` URL of ``path``."""
        return self.url + _absolute(path)

    def ws_url(self, path: str = "/") -> str:
        """The absolute ``ws://`` (``wss://`` with TLS) URL of ``path``."""
        scheme = "wss" if self.ssl_context is not None else "ws"
        return f"{scheme}://{self.host}:{self.port}{_absolute(path)}"

    async def start(self) -> None:
        """Start listening on a free port."""
        if self._port is not None:
            return
        await self.runner.setup()
        site = TCPSite(self.runner, self.host, 0, ssl_context=self.ssl_context)
        await site.start()
        self._port = int(site.sockets[0].getsockname()[1])

    async def close(self) -> None:
        """Stop listening and shut the server down gracefully (idempotent)."""
        if self._port is None:
            return
        self._port = None
        await self.runner.cleanup()

    async def __aenter__(self) -> TestServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def _absolute(path: str) -> str:
    return path if path.startswith("/") else "/" + path
