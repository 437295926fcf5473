"""The message API both ends of a WebSocket share: the server's ``WebSocketResponse`` and the
client's ``ClientWebSocket`` are this class plus how they open.

Everything here delegates to one :class:`~tidewire.ws.connection.WebSocketConnection`
(the asyncio adapter), whose :class:`~tidewire.ws.protocol.WebSocketProtocol`
knows which side it plays; nothing here depends on the side.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, Literal, overload

from .connection import WebSocketConnection
from .messages import (
    CLOSED_MESSAGE,
    WSCloseCode,
    WSMessage,
    WSMessageTypeError,
    WSMsgType,
)

if TYPE_CHECKING:
    from typing_extensions import TypeVar

    #: ``Literal[True]`` (the default) when TEXT data is ``str``, ``Literal[False]``
    #: for ``decode_text=False`` (TEXT data is ``bytes``).
    DecodeText = TypeVar("DecodeText", bound=bool, covariant=True, default=Literal[True])
else:
    from typing import TypeVar

    # (Python 3.11's TypeVar has no default; only type checkers need it)
    DecodeText = TypeVar("DecodeText", bound=bool, covariant=True)

__all__ = ["DecodeText", "WebSocketEndpoint"]

_TEXT = WSMsgType.TEXT
_END_TYPES = (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED)
#: The read of a closed WebSocket that raises instead of returning CLOSED again
#: (the fifth, as in aiohttp).
_CLOSED_READS = 5


class WebSocketEndpoint(Generic[DecodeText]):
    """Receive, send, ping and close on an open WebSocket (aiohttp's message API).

    A subclass must set ``_conn`` (``None`` until open), ``_ws_protocol``,
    ``_compressed``, ``_receive_timeout`` and ``_decode_text`` in its
    ``__init__``, and may override :meth:`_connection` to say what "not open
    yet" means. The type parameter says what TEXT data is: ``str`` by default,
    ``bytes`` for an endpoint made with ``decode_text=False`` (annotate it as
    ``WebSocketResponse[Literal[False]]`` to have ``receive_str`` typed ``bytes``).
    """

    _conn: WebSocketConnection | None
    _ws_protocol: str | None
    _compressed: bool
    _receive_timeout: float | None
    _decode_text: bool
    _closed_reads: int = 0

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

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """The transport's ``get_extra_info(name)`` (``"peername"``, ``"sslcontext"``, ...).

        ``default`` before the WebSocket is open and once the transport is gone.
        """
        conn = self._conn
        transport = conn.transport if conn is not None else None
        if transport is None:
            return default
        return transport.get_extra_info(name, default)

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
        ``receive_timeout``) raises :class:`asyncio.TimeoutError`. TEXT data is
        ``bytes`` when the endpoint was made with ``decode_text=False`` (still
        checked to be UTF-8, RFC 6455 section 8.1). After the end, CLOSED is
        returned four times, then :class:`RuntimeError` is raised (as aiohttp
        does), so a loop that ignores CLOSED does not spin forever.
        """
        conn = self._connection()
        message = await conn.receive(timeout if timeout is not None else self._receive_timeout)
        if message.type is _TEXT:
            if not self._decode_text:
                return WSMessage(_TEXT, message.data.encode("utf-8"), None)
        elif message is CLOSED_MESSAGE:
            self._closed_reads += 1
            if self._closed_reads >= _CLOSED_READS:
                raise RuntimeError("the WebSocket is closed")
        return message

    @overload
    async def receive_str(
        self: WebSocketEndpoint[Literal[True]], *, timeout: float | None = None
    ) -> str: ...

    @overload
    async def receive_str(
        self: WebSocketEndpoint[Literal[False]], *, timeout: float | None = None
    ) -> bytes: ...

    @overload
    async def receive_str(
        self: WebSocketEndpoint[DecodeText], *, timeout: float | None = None
    ) -> str | bytes: ...

    async def receive_str(self, *, timeout: float | None = None) -> str | bytes:
        """The next message, which must be TEXT (else :class:`WSMessageTypeError`).

        Its data is ``bytes`` with ``decode_text=False``.
        """
        message = await self.receive(timeout)
        if message.type is not _TEXT:
            raise WSMessageTypeError(f"received {message.type.name}, not TEXT")
        data: str | bytes = message.data
        return data

    async def receive_bytes(self, *, timeout: float | None = None) -> bytes:
        """The next message, which must be BINARY (else :class:`WSMessageTypeError`)."""
        message = await self.receive(timeout)
        if message.type is not WSMsgType.BINARY:
            raise WSMessageTypeError(f"received {message.type.name}, not BINARY")
        data: bytes = message.data
        return data

    @overload
    async def receive_json(
        self: WebSocketEndpoint[Literal[True]],
        *,
        loads: Callable[[str], Any] = ...,
        timeout: float | None = None,
    ) -> Any: ...

    @overload
    async def receive_json(
        self: WebSocketEndpoint[Literal[False]],
        *,
        loads: Callable[[bytes], Any] = ...,
        timeout: float | None = None,
    ) -> Any: ...

    @overload
    async def receive_json(
        self: WebSocketEndpoint[DecodeText],
        *,
        loads: Callable[[Any], Any] = ...,
        timeout: float | None = None,
    ) -> Any: ...

    async def receive_json(
        self, *, loads: Callable[[Any], Any] = json.loads, timeout: float | None = None
    ) -> Any:
        """The next TEXT message parsed with ``loads`` (given bytes with ``decode_text=False``)."""
        return loads(await self.receive_str(timeout=timeout))

    def __aiter__(self) -> WebSocketEndpoint[DecodeText]:
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

    async def send_json_bytes(
        self, data: Any, compress: bool | None = None, *, dumps: Callable[[Any], bytes]
    ) -> None:
        """Send ``data`` serialized by a bytes-returning ``dumps`` (orjson's, say)
        in a BINARY message, as aiohttp does (no str round trip)."""
        await self.send_bytes(dumps(data), compress)

    async def send_frame(
        self, message: bytes, opcode: WSMsgType | int, compress: bool | None = None
    ) -> None:
        """Send one whole message or control frame of type ``opcode`` (aiohttp's ``send_frame``).

        TEXT data must be UTF-8 (else :class:`UnicodeDecodeError`, before anything
        is sent: a peer fails invalid text with 1007, RFC 6455 section 8.1);
        BINARY is :meth:`send_bytes`; PING and PONG are :meth:`ping` and
        :meth:`pong`; CLOSE takes a close payload (2-byte code, then the UTF-8
        reason; empty for 1000) and runs :meth:`close`. CONTINUATION raises
        :class:`ValueError`: messages are always sent whole here, and a lone
        continuation frame would break the protocol (RFC 6455 section 5.4).
        """
        payload = bytes(message)
        if opcode == _TEXT:
            await self._connection().send_message(payload.decode("utf-8"), compress)
        elif opcode == WSMsgType.BINARY:
            await self._connection().send_message(payload, compress)
        elif opcode == WSMsgType.PING:
            await self.ping(payload)
        elif opcode == WSMsgType.PONG:
            await self.pong(payload)
        elif opcode == WSMsgType.CLOSE:
            code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else WSCloseCode.OK
            await self.close(code=code, message=payload[2:])
        else:
            raise ValueError(f"cannot send a frame with opcode {opcode!r}")

    async def ping(self, message: bytes = b"") -> None:
        """Send a ping (payload at most 125 bytes, RFC 6455 section 5.5)."""
        await self._connection().send_ping(bytes(message))

    async def pong(self, message: bytes = b"") -> None:
        """Send an unsolicited pong (payload at most 125 bytes)."""
        await self._connection().send_pong(bytes(message))

    async def close(
        self, *, code: int = WSCloseCode.OK, message: bytes | str = b"", drain: bool = True
    ) -> bool:
        """Close with ``code``; waits for the peer's Close up to ``close_timeout``.

        Returns True if this call closed the connection, False if it was already
        closed. ``drain`` is accepted for aiohttp's signature and changes nothing:
        our Close is handed to the transport at once, and the peer's answer can
        only come after it was sent.
        """
        reason = message.decode("utf-8") if isinstance(message, bytes) else message
        return await self._connection().close(code, reason)
