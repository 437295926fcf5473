"""Opening a client WebSocket over asyncio: TCP, TLS, the handshake, the hand-over.

The decisions are :class:`~tidewire.ws.client_handshake.ClientHandshake`'s;
this module only connects, moves the handshake's bytes, applies
``open_timeout`` to the whole opening, and, once the server's 101 is
accepted, makes a :class:`~tidewire.ws.connection.WebSocketConnection` on a
``Side.CLIENT`` :class:`~tidewire.ws.protocol.WebSocketProtocol` the
transport's protocol, in the same callback (no byte can arrive in between).
The adapter reads the side from the protocol: as a client it lets the server
end the TCP connection first (RFC 6455 section 7.1.1).
"""

from __future__ import annotations

import asyncio
import ssl as ssl_module
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from .client_errors import WSClientError, WSConnectError, WSInvalidUpgrade, WSOpenTimeout
from .client_handshake import ClientHandshake, HandshakeResult, WSTarget
from .compression import codec_for
from .connection import WebSocketConnection
from .deflate import DeflateOptions
from .engine import Side
from .protocol import WebSocketProtocol

__all__ = ["ClientOptions", "open_client"]

_DEFAULT_DEFLATE = DeflateOptions()


@dataclass(frozen=True)
class ClientOptions:
    """The connection options of :func:`tidewire.connect` (documented there)."""

    max_msg_size: int = 4 * 1024 * 1024
    max_queue: int = 1024 * 1024
    autoping: bool = True
    autoclose: bool = True
    heartbeat: float | None = None
    close_timeout: float = 10.0
    open_timeout: float | None = 10.0
    deflate: DeflateOptions = _DEFAULT_DEFLATE


Upgrade = Callable[[HandshakeResult, asyncio.Transport], WebSocketConnection]


class _HandshakeProtocol(asyncio.Protocol):
    """The transport's protocol until the server's 101: sends the request, reads the answer."""

    def __init__(self, handshake: ClientHandshake, upgrade: Upgrade) -> None:
        self._handshake = handshake
        self._upgrade = upgrade
        self.done: asyncio.Future[tuple[WebSocketConnection, HandshakeResult]] = (
            asyncio.get_running_loop().create_future()
        )
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(self._handshake.request)

    def data_received(self, data: bytes) -> None:
        if self.done.done():
            return  # the opener gave up (timeout); it closes the transport
        try:
            result = self._handshake.receive_data(data)
            if result is None:
                return
            assert self.transport is not None
            connection = self._upgrade(result, self.transport)
        except Exception as exc:  # WSClientError, or a bug: the opener raises it
            self.done.set_exception(exc)
            return
        self.done.set_result((connection, result))

    def eof_received(self) -> bool | None:
        if not self.done.done():
            try:
                self._handshake.receive_eof()
            except WSClientError as exc:
                self.done.set_exception(exc)
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            error = WSInvalidUpgrade("connection lost during the WebSocket handshake")
            error.__cause__ = exc
            self.done.set_exception(error)


def _client_ssl(
    target: WSTarget, option: ssl_module.SSLContext | bool | None
) -> ssl_module.SSLContext | None:
    if not target.secure:
        if isinstance(option, ssl_module.SSLContext):
            raise ValueError("an ssl context was given for a ws:// URL; use wss://")
        return None
    if isinstance(option, ssl_module.SSLContext):
        return option
    context = ssl_module.create_default_context()  # the system's trust store
    if option is False:
        context.check_hostname = False
        context.verify_mode = ssl_module.CERT_NONE
    return context


async def open_client(
    target: WSTarget,
    handshake: ClientHandshake,
    options: ClientOptions,
    ssl: ssl_module.SSLContext | bool | None,
) -> tuple[WebSocketConnection, HandshakeResult]:
    """Connect, run the handshake and hand the transport over; the open connection.

    The whole opening is bounded by ``options.open_timeout``. Raises
    :class:`~tidewire.ws.client_errors.WSConnectError`,
    :class:`~tidewire.ws.client_errors.WSOpenTimeout` or the handshake's errors.
    """
    context = _client_ssl(target, ssl)
    transport: list[asyncio.Transport] = []

    def upgrade(result: HandshakeResult, tcp: asyncio.Transport) -> WebSocketConnection:
        codec = None
        if result.deflate is not None:
            codec = codec_for(Side.CLIENT, result.deflate, options.deflate, options.max_msg_size)
        protocol = WebSocketProtocol(
            Side.CLIENT,
            codec=codec,
            max_message_size=options.max_msg_size,
            autoping=options.autoping,
            autoclose=options.autoclose,
        )
        connection = WebSocketConnection(
            protocol,
            max_queue=options.max_queue,
            close_timeout=options.close_timeout,
            heartbeat=options.heartbeat,
        )
        tcp.set_protocol(connection)
        connection.connection_made(tcp)
        if result.leftover:
            connection.data_received(result.leftover)
        return connection

    async def opening() -> tuple[WebSocketConnection, HandshakeResult]:
        loop = asyncio.get_running_loop()
        shaker = _HandshakeProtocol(handshake, upgrade)
        try:
            tcp, _ = await loop.create_connection(
                lambda: shaker,
                target.host,
                target.port,
                ssl=context,
                server_hostname=target.host if context is not None else None,
            )
        except OSError as exc:
            raise WSConnectError(f"cannot connect to {target.host}:{target.port}: {exc}") from exc
        transport.append(tcp)
        return await shaker.done

    try:
        return await asyncio.wait_for(opening(), options.open_timeout)
    except asyncio.TimeoutError as exc:
        for tcp in transport:
            tcp.abort()
        if isinstance(exc, WSClientError):
            raise
        raise WSOpenTimeout(
            f"opening {target.host}:{target.port} took more than {options.open_timeout}s"
        ) from None
    except BaseException:
        for tcp in transport:
            tcp.abort()
        raise
