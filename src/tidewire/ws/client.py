"""The WebSocket client: ``tidewire.connect(url)``, the same protocol as the server's, client side.

::

    async with tidewire.connect("wss://example.com/feed") as ws:
        await ws.send_str("hello")
        async for message in ws:
            print(message.data)

    ws = await tidewire.connect("ws://127.0.0.1:8080/ws")   # without ``async with``

    async for ws in tidewire.connect(url, reconnect=True):  # a new connection after each drop
        async for message in ws:
            ...

The message API is :class:`~tidewire.ws.endpoint.WebSocketEndpoint`'s, the one
``WebSocketResponse`` has; the opening is :mod:`tidewire.ws.client_open`'s.
"""

from __future__ import annotations

import asyncio
import logging
import ssl as ssl_module
from collections.abc import Generator, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any

from yarl import URL

from .client_handshake import ClientHandshake, parse_ws_url
from .client_open import ClientOptions, open_client
from .connection import WebSocketConnection
from .deflate import DeflateOptions
from .endpoint import DecodeText, WebSocketEndpoint
from .messages import WSCloseCode
from .reconnect import Backoff, should_retry

__all__ = ["ClientWebSocket", "Connect", "connect"]

logger = logging.getLogger("tidewire.ws.client")


class ClientWebSocket(WebSocketEndpoint[DecodeText]):
    """An open client WebSocket (what :func:`connect` gives).

    It has ``WebSocketResponse``'s message API (``receive``, ``receive_str``,
    ``send_str``, ``ping``, ``close``, ``async for``, ...), plus the server's
    response ``headers`` and :attr:`closed_by_application`.
    """

    def __init__(
        self,
        connection: WebSocketConnection,
        *,
        subprotocol: str | None,
        compressed: bool,
        headers: Mapping[str, str],
        receive_timeout: float | None,
        decode_text: bool = True,
        client_notakeover: bool = False,
    ) -> None:
        self._conn = connection
        self._client_notakeover = client_notakeover
        self._decode_text = decode_text
        self._ws_protocol = subprotocol
        self._compressed = compressed
        self._receive_timeout = receive_timeout
        #: The headers of the server's 101 response.
        self.headers = headers
        self._closed_by_application = False

    @property
    def client_notakeover(self) -> bool:
        """True when the server asked us to reset our compressor after each message
        (``client_no_context_takeover``, RFC 7692 section 7.1.1.2), as in aiohttp."""
        return self._client_notakeover

    @property
    def closed_by_application(self) -> bool:
        """True once :meth:`close` was called (a reconnecting loop then stops)."""
        return self._closed_by_application

    async def close(
        self, *, code: int = WSCloseCode.OK, message: bytes | str = b"", drain: bool = True
    ) -> bool:
        """Close with ``code``; waits for the server's Close, then for it to end TCP.

        Each wait is bounded by ``close_timeout``. Returns True if this call
        closed the connection. ``drain`` is as in :meth:`WebSocketEndpoint.close`.
        """
        self._closed_by_application = True
        return await super().close(code=code, message=message, drain=drain)

    async def __aenter__(self) -> ClientWebSocket[DecodeText]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<ClientWebSocket closed={self.closed} code={self.close_code}>"


class Connect:
    """What :func:`connect` returns: await it, ``async with`` it, or ``async for`` over it."""

    def __init__(
        self,
        url: str | URL,
        *,
        protocols: Sequence[str],
        headers: Mapping[str, str] | Iterable[tuple[str, str]],
        origin: str | None,
        compress: bool | int,
        ssl: ssl_module.SSLContext | bool | None,
        receive_timeout: float | None,
        decode_text: bool,
        reconnect: bool,
        backoff: Backoff,
        options: ClientOptions,
    ) -> None:
        self._target = parse_ws_url(url)
        self._protocols = tuple(protocols)
        self._headers = list(headers.items() if isinstance(headers, Mapping) else headers)
        self._origin = origin
        self._compress = compress
        self._ssl = ssl
        self._receive_timeout = receive_timeout
        self._decode_text = decode_text
        self._reconnect = reconnect
        self._backoff = backoff
        self._options = options
        self._ws: ClientWebSocket[Any] | None = None
        # Checks the options now, not at the first connection.
        self._new_handshake()

    def _new_handshake(self) -> ClientHandshake:
        return ClientHandshake(
            self._target,
            protocols=self._protocols,
            headers=self._headers,
            origin=self._origin,
            compress=self._compress,
        )

    async def open(self) -> ClientWebSocket[Any]:
        """Open one connection (what ``await connect(...)`` does).

        (Typed ``ClientWebSocket[Any]``: whether TEXT data is str or bytes
        depends on ``decode_text``; annotate the variable to say which.)
        """
        connection, result = await open_client(
            self._target, self._new_handshake(), self._options, self._ssl
        )
        return ClientWebSocket(
            connection,
            subprotocol=result.subprotocol,
            compressed=result.deflate is not None,
            headers=result.headers,
            receive_timeout=self._receive_timeout,
            decode_text=self._decode_text,
            client_notakeover=(
                result.deflate is not None and result.deflate.client_no_context_takeover
            ),
        )

    def __await__(self) -> Generator[Any, None, ClientWebSocket[Any]]:
        return self.open().__await__()

    async def __aenter__(self) -> ClientWebSocket[Any]:
        self._ws = await self.open()
        return self._ws

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            await ws.close()

    def __aiter__(self) -> Reconnecting:
        if not self._reconnect:
            raise TypeError("iterate over connect(..., reconnect=True) to reconnect")
        return Reconnecting(self, self._backoff)


class Reconnecting:
    """``async for ws in connect(url, reconnect=True)``: a new connection after each drop.

    Each step waits for the previous connection to be over (a connection still
    open is closed with 1000 first), sleeps the :class:`~tidewire.ws.reconnect.Backoff`
    delay, and opens again, retrying transient failures
    (:func:`~tidewire.ws.reconnect.should_retry`). It stops when the
    application closed the previous connection itself (``ws.close()``), and
    raises the error of a failure that is not transient (a 4xx answer, a
    redirect, an invalid upgrade).
    """

    def __init__(self, connect: Connect, backoff: Backoff) -> None:
        self._connect = connect
        self._backoff = backoff
        self._current: ClientWebSocket[Any] | None = None

    def __aiter__(self) -> Reconnecting:
        return self

    async def __anext__(self) -> ClientWebSocket[Any]:
        current = self._current
        if current is not None:
            if current.closed_by_application:
                raise StopAsyncIteration
            if current._conn is not None and current._conn.close_pending:
                await WebSocketEndpoint.close(current)  # not the application's choice
            await asyncio.sleep(self._backoff.next_delay())
        while True:
            try:
                ws = await self._connect.open()
            except Exception as exc:
                if not should_retry(exc):
                    raise
                delay = self._backoff.next_delay()
                logger.info("reconnect failed (%s); next attempt in %.2fs", exc, delay)
                await asyncio.sleep(delay)
                continue
            self._backoff.reset()
            self._current = ws
            return ws


def connect(
    url: str | URL,
    *,
    protocols: Sequence[str] = (),
    headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
    origin: str | None = None,
    compress: bool | int = True,
    max_msg_size: int = 4 * 1024 * 1024,
    max_queue: int = 1024 * 1024,
    heartbeat: float | None = None,
    autoping: bool = True,
    autoclose: bool = True,
    receive_timeout: float | None = None,
    decode_text: bool = True,
    ssl: ssl_module.SSLContext | bool | None = None,
    open_timeout: float | None = 10.0,
    close_timeout: float = 10.0,
    compress_options: DeflateOptions | None = None,
    reconnect: bool = False,
    backoff: Backoff | None = None,
) -> Connect:
    """Open a WebSocket to ``url`` (``ws://`` or ``wss://``) as a client (RFC 6455 section 4.1).

    Use it as ``async with connect(url) as ws:``, ``ws = await connect(url)``
    (then close ``ws`` yourself), or ``async for ws in connect(url, reconnect=True):``.

    - ``protocols``: subprotocols offered, in our order of preference
      (:attr:`ClientWebSocket.ws_protocol` is the server's choice).
    - ``headers``: extra request headers; ``origin``: the ``Origin`` header.
    - ``compress``: offer permessage-deflate (``True``; an int 9-15 also caps the
      window we compress with; ``False`` offers nothing). Inflation is bounded
      by ``max_msg_size`` like on the server.
    - ``max_msg_size``: largest message received, in bytes after inflation
      (4 MiB; 0 for none); a larger one fails the connection with 1009.
    - ``max_queue``: bytes received but not read before reading pauses (1 MiB).
    - ``heartbeat``: send a ping every this many seconds and drop a server
      silent for half of it (close code 1006).
    - ``autoping``, ``autoclose``, ``receive_timeout``, ``decode_text``: as for
      ``WebSocketResponse`` (``decode_text=False``: TEXT data as bytes).
    - ``ssl``: for ``wss://``, ``None``/``True`` verifies against the system's
      trust store, ``False`` skips verification, or an :class:`ssl.SSLContext`.
    - ``open_timeout``: seconds for TCP connect, TLS and the handshake together
      (:class:`~tidewire.ws.client_errors.WSOpenTimeout` past it; ``None``: no limit).
    - ``close_timeout``: seconds :meth:`ClientWebSocket.close` waits for the
      server's Close, and then for the server to end the TCP connection.
    - ``compress_options``: zlib level and memory level of our compressor.
    - ``reconnect`` and ``backoff``: see :class:`Reconnecting` and
      :class:`~tidewire.ws.reconnect.Backoff` (0.5 s doubling to 30 s, ±50 % jitter).

    Failures raise a :class:`~tidewire.ws.client_errors.WSClientError`
    subclass (see :mod:`tidewire.ws.client_errors`); an invalid URL or option
    raises :class:`ValueError` at once.
    """
    options = ClientOptions(
        max_msg_size=max_msg_size,
        max_queue=max_queue,
        autoping=autoping,
        autoclose=autoclose,
        heartbeat=heartbeat,
        close_timeout=close_timeout,
        open_timeout=open_timeout,
        deflate=compress_options or DeflateOptions(),
    )
    return Connect(
        url,
        protocols=protocols,
        headers=headers,
        origin=origin,
        compress=compress,
        ssl=ssl,
        receive_timeout=receive_timeout,
        decode_text=decode_text,
        reconnect=reconnect,
        backoff=backoff or Backoff(),
        options=options,
    )
