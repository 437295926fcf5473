"""The message API both ends of a WebSocket share: the server's ``WebSocketResponse`` and the
client's ``ClientWebSocket`` are this class plus how they open.

Everything here delegates to one :class:`~tidewire.ws.connection.WebSocketConnection`
(the asyncio adapter), whose :class:`~tidewire.ws.protocol.WebSocketProtocol`
knows which side it plays; nothing here depends on the side.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .connection import WebSocketConnection
from .messages import WSCloseCode, WSMessage, WSMsgType

__all__ = ["WebSocketEndpoint"]

_END_TYPES = (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED)


class WebSocketEndpoint:
    """Receive, send, ping and close on an open WebSocket (aiohttp's message API).

    A subclass must set ``_conn`` (``None`` until open), ``_ws_protocol``,
    ``_compressed`` and ``_receive_timeout`` in its ``__init__``, and may
    override :meth:`_connection` to say what "not open yet" means.
    """

    _conn: WebSocketConnection | None
    _ws_protocol: str | None
    _compressed: bool
    _receive_timeout: float | None

    def _connection(self) -> WebSocketConnection:
        if self._conn is None:
            raise RuntimeError("the WebSocket is not open yet")
        return self._conn

    # state --------------------------------------------------------------------------

    @property
    def ws_protocol(self) -> str | None:
        """The negotiated subprotocol, or ``None``."""
        return self._ws_protocol

    @property
    def compress(self) -> bool:
        """True when permessage-deflate was negotiated."""
        return self._compressed

    @property
    def closed(self) -> bool:
        """True once closing started (ours or the peer's) or the connection dropped."""
        return self._conn is not None and self._conn.closed

    @property
    def close_code(self) -> int | None:
        """The close code, once known (1006 for a dropped connection)."""
        return self._conn.protocol.close_code if self._conn is not None else None

    def exception(self) -> BaseException | None:
        """The protocol error or timeout that ended the connection, if any."""
        return self._conn.protocol.exception if self._conn is not None else None

    @property
    def writing_paused(self) -> bool:
        """True while the peer reads slower than we send (the transport buffer is full)."""
        return self._conn is not None and self._conn.writing_paused

    @property
    def write_buffer_size(self) -> int:
        """Bytes queued (by us or the transport) and not yet sent to the peer."""
        return self._conn.write_buffer_size if self._conn is not None else 0

    # receiving ----------------------------------------------------------------------

    async def receive(self, timeout: float | None = None) -> WSMessage:
        """The next message (TEXT, BINARY, CLOSE, ERROR, ...; CLOSED at the end).

        Frames are parsed only while someone waits here, so pings are answered
        and the peer's Close seen only then. ``timeout`` (default
        ``receive_timeout``) raises :class:`asyncio.TimeoutError`.
        """
        conn = self._connection()
        return await conn.receive(timeout if timeout is not None else self._receive_timeout)

    async def receive_str(self, *, timeout: float | None = None) -> str:
        """The next message, which must be TEXT (else :class:`TypeError`)."""
        message = await self.receive(timeout)
        if message.type is not WSMsgType.TEXT:
            raise TypeError(f"received {message.type.name}, not TEXT")
        return str(message.data)

    async def receive_bytes(self, *, timeout: float | None = None) -> bytes:
        """The next message, which must be BINARY (else :class:`TypeError`)."""
        message = await self.receive(timeout)
        if message.type is not WSMsgType.BINARY:
            raise TypeError(f"received {message.type.name}, not BINARY")
        return bytes(message.data)

    async def receive_json(
        self, *, loads: Callable[[str], Any] = json.loads, timeout: float | None = None
    ) -> Any:
        """The next TEXT message parsed as JSON."""
        return loads(await self.receive_str(timeout=timeout))

    def __aiter__(self) -> WebSocketEndpoint:
        return self

    async def __anext__(self) -> WSMessage:
        message = await self.receive()
        if message.type in _END_TYPES:
            raise StopAsyncIteration
        return message

    # sending ------------------------------------------------------------------------

    async def send_str(self, data: str, compress: bool | None = None) -> None:
        """Send a TEXT message; ``compress=False`` skips compression for this one.

        Waits while the peer reads slower than we send. Raises
        :class:`~tidewire.ws.messages.WSConnectionClosed` once the connection is closing.
        """
        if not isinstance(data, str):
            raise TypeError(f"data must be str, not {type(data).__name__}")
        await self._connection().send_message(data, compress)

    async def send_bytes(self, data: bytes, compress: bool | None = None) -> None:
        """Send a BINARY message (see :meth:`send_str`)."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"data must be bytes, not {type(data).__name__}")
        await self._connection().send_message(bytes(data), compress)

    async def send_json(
        self, data: Any, compress: bool | None = None, *, dumps: Callable[[Any], str] = json.dumps
    ) -> None:
        """Send ``data`` serialized as JSON in a TEXT message."""
        await self.send_str(dumps(data), compress)

    async def ping(self, message: bytes = b"") -> None:
        """Send a ping (payload at most 125 bytes, RFC 6455 section 5.5)."""
        await self._connection().send_ping(bytes(message))

    async def pong(self, message: bytes = b"") -> None:
        """Send an unsolicited pong (payload at most 125 bytes)."""
        await self._connection().send_pong(bytes(message))

    async def close(self, *, code: int = WSCloseCode.OK, message: bytes | str = b"") -> bool:
        """Close with ``code``; waits for the peer's Close up to ``close_timeout``.

        Returns True if this call closed the connection, False if it was already closed.
        """
        reason = message.decode("utf-8") if isinstance(message, bytes) else message
        return await self._connection().close(code, reason)
