"""Serving a handler: :class:`Server`, :class:`ServerRunner` and the sites.

``Server(handler)`` is an asyncio protocol factory, so both aiohttp styles
work::

    runner = ServerRunner(Server(handler)); await runner.setup()
    await TCPSite(runner, "localhost", 8080).start()

    await loop.create_server(Server(handler), "localhost", 8080)
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import socket
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

from .http.accesslog import AbstractAccessLogger, AccessLogger
from .http.channel import ResponseChannel
from .http.config import ServerConfig
from .http.parser import RequestHead
from .http.protocol import Handler, HTTPProtocol, new_read_buffer
from .http.request import BaseRequest
from .http.streams import BodyStream

__all__ = [
    "BaseSite",
    "GracefulExit",
    "Server",
    "ServerRunner",
    "SockSite",
    "TCPSite",
    "UnixSite",
    "run_server",
]

server_logger = logging.getLogger("tidewire.server")

_CONFIG_FIELDS = {field.name for field in dataclasses.fields(ServerConfig)}
_ALIASES = {"read_bufsize": "read_buffer_limit"}
RequestFactory = Callable[[RequestHead, BodyStream, ResponseChannel, int], BaseRequest]


class Server:
    """The protocol factory for one handler; holds the config and the open connections.

    Keyword options are :class:`~tidewire.http.config.ServerConfig` fields, which
    include aiohttp's low-level options under aiohttp's names (``logger``,
    ``access_log``, ``access_log_format``, ``keepalive_timeout``, ``max_line_size``,
    ``max_field_size``, ``max_headers``, ``lingering_time``, ``auto_decompress``,
    ``timeout_ceil_threshold``, ``handler_cancellation``, ``debug``; ``read_bufsize``
    is ``read_buffer_limit``), plus ``tcp_keepalive``, ``access_log_class`` (an
    :class:`~tidewire.http.accesslog.AbstractAccessLogger` subclass, built as
    ``cls(access_log, access_log_format)``) and ``request_factory`` (called as
    ``request_factory(head, content, channel, client_max_size)``, like
    :class:`BaseRequest`, to make each request: a subclass, say).
    An unknown option raises :class:`TypeError`.
    """

    def __init__(
        self,
        handler: Handler,
        *,
        tcp_keepalive: bool = True,
        access_log_class: type[AbstractAccessLogger] = AccessLogger,
        request_factory: RequestFactory | None = None,
        loop: asyncio.AbstractEventLoop | None = None,  # aiohttp's; unused
        **options: Any,
    ) -> None:
        settings = {_ALIASES.get(key, key): value for key, value in options.items()}
        unknown = set(settings) - _CONFIG_FIELDS
        if unknown:
            raise TypeError(f"unknown Server option(s): {', '.join(sorted(unknown))}")
        self.config = ServerConfig(**settings)
        self.handler = handler
        self.tcp_keepalive = tcp_keepalive
        self.request_factory: RequestFactory = request_factory or BaseRequest
        #: Requests received over the server's lifetime (aiohttp's ``requests_count``).
        self.requests_count = 0
        self._connections: set[HTTPProtocol] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._all_closed: asyncio.Future[None] | None = None
        self._shutting_down = False
        log = self.config.access_log
        self._access_logger = access_log_class(log, self.config.access_log_format) if log else None
        # Reads are parsed before the next one starts: all connections share one buffer.
        self._read_buffer = new_read_buffer()
        _settle_malloc_thresholds()

    @property
    def connections(self) -> list[HTTPProtocol]:
        """The open connections (upgraded ones included)."""
        return list(self._connections)

    def __call__(self) -> HTTPProtocol:
        """Make the protocol for a new connection (what ``create_server`` calls)."""
        return HTTPProtocol(self.handler, self.config, self, self._access_logger, self._read_buffer)

    # ConnectionRegistry -------------------------------------------------------------

    def connection_made(self, protocol: HTTPProtocol) -> None:
        """Track ``protocol``'s connection (called by the protocol)."""
        self._connections.add(protocol)
        if self.tcp_keepalive and protocol.transport is not None:
            sock = protocol.transport.get_extra_info("socket")
            if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        if self._shutting_down:
            protocol.begin_shutdown()

    def task_started(self, task: asyncio.Task[None]) -> None:
        """Track a connection's handler task until it ends (called by the protocol)."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def make_request(
        self, head: RequestHead, content: BodyStream, channel: ResponseChannel, client_max_size: int
    ) -> BaseRequest:
        """Count and make the request for ``head`` (called by the protocol)."""
        self.requests_count += 1
        return self.request_factory(head, content, channel, client_max_size)

    def connection_lost(self, protocol: HTTPProtocol) -> None:
        """Forget ``protocol``'s connection (called by the protocol, once)."""
        self._connections.discard(protocol)
        all_closed = self._all_closed
        if not self._connections and all_closed is not None and not all_closed.done():
            all_closed.set_result(None)

    async def shutdown(self, timeout: float | None = None) -> None:
        """Close every connection gracefully, within ``timeout`` seconds.

        Idle keep-alive connections close at once; a request being handled may
        finish (its response says ``Connection: close``); an upgraded connection
        is asked to close (WebSockets with 1001). Handlers still running, even
        for a client that already went away, are waited for too. After
        ``timeout`` (default: ``shutdown_timeout``) what is left is aborted and
        cancelled.
        """
        self._shutting_down = True
        if timeout is None:
            timeout = self.config.shutdown_timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        for protocol in list(self._connections):
            protocol.begin_shutdown()
        if self._connections:
            self._all_closed = loop.create_future()
            try:
                await asyncio.wait_for(asyncio.shield(self._all_closed), timeout)
            except asyncio.TimeoutError:
                server_logger.warning(
                    "%d connection(s) still open after %.1fs: aborting",
                    len(self._connections),
                    timeout,
                )
        running = [task for task in self._tasks if not task.done()]
        if running:
            _, running_set = await asyncio.wait(running, timeout=max(0.0, deadline - loop.time()))
            running = list(running_set)
        for protocol in list(self._connections):
            protocol.abort()
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running, timeout=1.0)


_MALLOC_SETTLED = False


def _settle_malloc_thresholds() -> None:
    """Allocate and free one 4 MiB block, once per process.

    glibc's malloc serves blocks above its mmap threshold (128 KiB at start)
    with ``mmap``, and gives the free top of its heap back to the system past its
    trim threshold (twice the former). Freeing an mmapped block raises both
    thresholds to that block's size (mallopt(3), "dynamic mmap threshold"). A
    server that has not seen that happen, and makes and frees a 64 KiB request
    body per request, trims and regrows its heap every few requests: a ``brk``
    pair and fresh zeroed pages each time (measured with strace: one ``brk``
    per three 64 KiB POSTs; about 1.5 times the CPU per request). Other
    allocators are not affected by this call.
    """
    global _MALLOC_SETTLED
    if not _MALLOC_SETTLED:
        _MALLOC_SETTLED = True
        block = bytearray(4 * 1024 * 1024)
        del block


class ServerRunner:
    """Owns the listening sites of one :class:`Server` (aiohttp's low-level runner).

    ``shutdown_timeout`` (default: the server's ``shutdown_timeout``) bounds :meth:`cleanup`.
    """

    def __init__(
        self,
        server: Server,
        *,
        handle_signals: bool = False,
        shutdown_timeout: float | None = None,
    ) -> None:
        self.server = server
        self._handle_signals = handle_signals
        self.shutdown_timeout = shutdown_timeout
        self._sites: list[BaseSite] = []
        self._set_up = False

    @property
    def sites(self) -> list[BaseSite]:
        """The started sites."""
        return list(self._sites)

    @property
    def addresses(self) -> list[Any]:
        """Socket addresses of every listening socket."""
        return [sock.getsockname() for site in self._sites for sock in site.sockets]

    async def setup(self) -> None:
        """Get ready to start sites; installs SIGINT/SIGTERM handlers if asked."""
        if self._handle_signals:
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, _raise_graceful_exit)
        self._set_up = True

    async def cleanup(self) -> None:
        """Stop every site, then shut the server down gracefully."""
        for site in list(self._sites):
            await site.stop()
        await self.server.shutdown(self.shutdown_timeout)
        if self._handle_signals:
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
        self._set_up = False

    def _add_site(self, site: BaseSite) -> None:
        if not self._set_up:
            raise RuntimeError("call runner.setup() before starting a site")
        self._sites.append(site)

    def _remove_site(self, site: BaseSite) -> None:
        if site in self._sites:
            self._sites.remove(site)


class BaseSite:
    """A listening socket of a :class:`ServerRunner`."""

    def __init__(
        self, runner: ServerRunner, *, ssl_context: ssl.SSLContext | None = None, backlog: int = 128
    ) -> None:
        self._runner = runner
        self._ssl_context = ssl_context
        self._backlog = backlog
        self._server: asyncio.AbstractServer | None = None

    @property
    def name(self) -> str:
        """A URL-like description of where the site listens."""
        raise NotImplementedError

    @property
    def sockets(self) -> list[socket.socket]:
        """The listening sockets (empty before :meth:`start`)."""
        if self._server is None:
            return []
        return list(self._server.sockets)  # type: ignore[attr-defined]

    async def _create_server(self) -> asyncio.AbstractServer:
        raise NotImplementedError

    async def start(self) -> None:
        """Start listening."""
        self._runner._add_site(self)
        self._server = await self._create_server()

    async def stop(self) -> None:
        """Stop accepting connections (open ones are the runner's cleanup's job)."""
        self._runner._remove_site(self)
        if self._server is not None:
            self._server.close()
            self._server = None


class TCPSite(BaseSite):
    """Listens on ``host:port`` (all interfaces when ``host`` is None), TLS with ``ssl_context``."""

    def __init__(
        self,
        runner: ServerRunner,
        host: str | None = None,
        port: int | None = None,
        *,
        ssl_context: ssl.SSLContext | None = None,
        backlog: int = 128,
        reuse_address: bool | None = None,
        reuse_port: bool | None = None,
    ) -> None:
        super().__init__(runner, ssl_context=ssl_context, backlog=backlog)
        self._host = host
        self._port = port if port is not None else (8443 if ssl_context else 8080)
        self._reuse_address = reuse_address
        self._reuse_port = reuse_port

    @property
    def name(self) -> str:
        scheme = "https" if self._ssl_context else "http"
        host = self._host or "0.0.0.0"
        if self._server is not None and self._port == 0:
            return f"{scheme}://{host}:{self.sockets[0].getsockname()[1]}"
        return f"{scheme}://{host}:{self._port}"

    async def _create_server(self) -> asyncio.AbstractServer:
        return await asyncio.get_running_loop().create_server(
            self._runner.server,
            self._host,
            self._port,
            ssl=self._ssl_context,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
            reuse_port=self._reuse_port,
        )


class UnixSite(BaseSite):
    """Listens on a Unix socket at ``path``."""

    def __init__(
        self,
        runner: ServerRunner,
        path: str,
        *,
        ssl_context: ssl.SSLContext | None = None,
        backlog: int = 128,
    ) -> None:
        super().__init__(runner, ssl_context=ssl_context, backlog=backlog)
        self._path = path

    @property
    def name(self) -> str:
        return f"http://unix:{self._path}:"

    async def _create_server(self) -> asyncio.AbstractServer:
        return await asyncio.get_running_loop().create_unix_server(
            self._runner.server, self._path, ssl=self._ssl_context, backlog=self._backlog
        )


class SockSite(BaseSite):
    """Serves on an already bound and listening socket ``sock``."""

    def __init__(
        self,
        runner: ServerRunner,
        sock: socket.socket,
        *,
        ssl_context: ssl.SSLContext | None = None,
        backlog: int = 128,
    ) -> None:
        super().__init__(runner, ssl_context=ssl_context, backlog=backlog)
        self._sock = sock

    @property
    def name(self) -> str:
        return f"sock:{self._sock.getsockname()}"

    async def _create_server(self) -> asyncio.AbstractServer:
        loop = asyncio.get_running_loop()
        if self._sock.family == getattr(socket, "AF_UNIX", None):
            return await loop.create_unix_server(
                self._runner.server, sock=self._sock, ssl=self._ssl_context, backlog=self._backlog
            )
        return await loop.create_server(
            self._runner.server, sock=self._sock, ssl=self._ssl_context, backlog=self._backlog
        )


class GracefulExit(SystemExit):
    """Raised by the signal handlers of a runner made with ``handle_signals=True``."""

    code = 1


def _raise_graceful_exit() -> None:
    raise GracefulExit()


def run_server(
    handler: Handler,
    host: str | None = "localhost",
    port: int = 8080,
    *,
    path: str | None = None,
    sock: socket.socket | None = None,
    ssl_context: ssl.SSLContext | None = None,
    shutdown_timeout: float | None = None,
    reuse_port: bool | None = None,
    print: Callable[..., None] | None = print,
    on_startup: Callable[[], Awaitable[None]] | None = None,
    **options: Any,
) -> None:
    """Serve ``handler`` until SIGINT or SIGTERM, then shut down gracefully. Blocks.

    ``options`` go to :class:`Server`. With ``path`` it listens on a Unix socket,
    with ``sock`` on that socket, else on ``host:port``.
    """

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        runner = ServerRunner(Server(handler, **options), shutdown_timeout=shutdown_timeout)
        await runner.setup()
        site: BaseSite
        if sock is not None:
            site = SockSite(runner, sock, ssl_context=ssl_context)
        elif path is not None:
            site = UnixSite(runner, path, ssl_context=ssl_context)
        else:
            site = TCPSite(runner, host, port, ssl_context=ssl_context, reuse_port=reuse_port)
        try:
            await site.start()
            if on_startup is not None:
                await on_startup()
            if print is not None:
                print(f"======== Running on {site.name} ========\n(Press CTRL+C to quit)")
            await stop.wait()
        finally:
            await runner.cleanup()

    with contextlib.suppress(GracefulExit, KeyboardInterrupt):
        asyncio.run(serve())
