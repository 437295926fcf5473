"""``WebSocketResponse``: upgrade a request and talk WebSocket, aiohttp-style.

::

    async def handler(request):
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type is web.WSMsgType.TEXT:
                await ws.send_str(msg.data)
        return ws
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

from ..http.exceptions import (
    HTTPBadRequest,
    HTTPException,
    HTTPForbidden,
    HTTPUpgradeRequired,
)
from ..http.request import BaseRequest
from ..http.response import StreamResponse
from .compression import codec_for
from .connection import WebSocketConnection
from .deflate import DeflateOptions, negotiate_deflate
from .engine import Side
from .handshake import HandshakeError, accept_token, check_upgrade_request, select_subprotocol
from .messages import WSCloseCode, WSMessage, WSMsgType
from .prepared import PreparedMessage
from .protocol import WebSocketProtocol

__all__ = ["WebSocketReady", "WebSocketResponse"]

_HANDSHAKE_ERRORS: dict[int, type[HTTPException]] = {
    400: HTTPBadRequest,
    403: HTTPForbidden,
    426: HTTPUpgradeRequired,
}


class WebSocketReady(NamedTuple):
    """Result of :meth:`WebSocketResponse.can_prepare`."""

    ok: bool
    protocol: str | None

    def __bool__(self) -> bool:
        return self.ok


class WebSocketResponse(StreamResponse):
    """A WebSocket endpoint for one request.

    Options (all keyword):

    - ``protocols``: subprotocols we speak, in our order of preference.
    - ``autoping``: answer pings automatically (PING/PONG then never reach the handler).
      Frames are read as the handler receives, so pings are answered, and a peer's
      Close seen, only while the handler is in :meth:`receive` (or ``async for``).
    - ``heartbeat``: send a ping every this many seconds; a peer silent for half of
      it afterwards is dropped with close code 1006.
    - ``receive_timeout``: default timeout of :meth:`receive`.
    - ``close_timeout``: seconds to wait for the peer's Close after ours.
    - ``max_msg_size``: largest message in bytes (after inflation), 4 MiB by
      default, 0 for none; larger ones fail the connection with 1009.
    - ``max_queue``: bytes received but not yet read by the handler before the
      server stops reading from the socket (1 MiB by default).
    - ``compress``: accept permessage-deflate (``True``, or our window bits as an int).
    - ``compress_options``: a :class:`DeflateOptions` (window bits, memory level).
    - ``autoclose``: answer the peer's Close as soon as the handler receives it.
    - ``origins``: if given, the only ``Origin`` values accepted (others get 403).
    """

    def __init__(
        self,
        *,
        protocols: Sequence[str] = (),
        autoping: bool = True,
        heartbeat: float | None = None,
        receive_timeout: float | None = None,
        close_timeout: float = 10.0,
        max_msg_size: int = 4 * 1024 * 1024,
        max_queue: int = 1024 * 1024,
        compress: bool | int = True,
        compress_options: DeflateOptions | None = None,
        autoclose: bool = True,
        origins: Iterable[str] | None = None,
    ) -> None:
        super().__init__(status=101)
        self._protocols = tuple(protocols)
        self._autoping = autoping
        self._heartbeat = heartbeat
        self._receive_timeout = receive_timeout
        self._close_timeout = close_timeout
        self._max_msg_size = max_msg_size
        self._max_queue = max_queue
        options = compress_options or DeflateOptions()
        if isinstance(compress, int) and not isinstance(compress, bool):
            options = DeflateOptions(
                compress, options.mem_level, options.level, options.client_window_bits
            )
        self._compress = bool(compress)
        self._deflate_options = options
        self._autoclose = autoclose
        self._origins = tuple(origins) if origins is not None else None
        self._conn: WebSocketConnection | None = None
        self._ws_protocol: str | None = None
        self._compressed = False

    # handshake --------------------------------------------------------------------

    def _check(self, request: BaseRequest) -> tuple[str, str | None]:
        key = check_upgrade_request(request.method, request.version, request.headers, self._origins)
        return key, select_subprotocol(request.headers, self._protocols)

    def can_prepare(self, request: BaseRequest) -> WebSocketReady:
        """Whether ``request`` is an acceptable upgrade, and the subprotocol it would get."""
        try:
            _, protocol = self._check(request)
        except HandshakeError:
            return WebSocketReady(False, None)
        return WebSocketReady(True, protocol)

    async def prepare(self, request: BaseRequest) -> None:
        """Complete the opening handshake with 101 and take over the connection.

        Raises :class:`HTTPBadRequest` (400) for a malformed upgrade or one that
        carries a body (``Content-Length`` above 0 or ``Transfer-Encoding``: the
        bytes after the head are frames), :class:`HTTPUpgradeRequired` (426) for
        another WebSocket version and :class:`HTTPForbidden` (403) for a refused
        origin; the server sends them. The answer is 101 whatever
        :meth:`set_status` said before.
        """
        if self._conn is not None:
            return
        try:
            key, protocol = self._check(request)
        except HandshakeError as exc:
            raise _HANDSHAKE_ERRORS[exc.status](text=exc.message, headers=exc.headers) from None
        headers = self.headers
        headers["Upgrade"] = "websocket"
        headers["Connection"] = "Upgrade"
        headers["Sec-WebSocket-Accept"] = accept_token(key)
        if protocol is not None:
            headers["Sec-WebSocket-Protocol"] = protocol
        codec = None
        if self._compress:
            agreed = negotiate_deflate(
                request.headers.getall("Sec-WebSocket-Extensions", []), self._deflate_options
            )
            if agreed is not None:
                headers["Sec-WebSocket-Extensions"] = agreed[0]
                codec = codec_for(
                    Side.SERVER, agreed[1], self._deflate_options, self._max_msg_size
                )
        conn = WebSocketConnection(
            WebSocketProtocol(
                Side.SERVER,
                codec=codec,
                max_message_size=self._max_msg_size,
                autoping=self._autoping,
                autoclose=self._autoclose,
            ),
            max_queue=self._max_queue,
            close_timeout=self._close_timeout,
            heartbeat=self._heartbeat,
        )
        # The handshake's answer is 101, whatever set_status() said before (RFC 6455 4.2.2).
        self.set_status(101)
        await super().prepare(request)
        self._conn = conn
        self._ws_protocol = protocol
        self._compressed = codec is not None
        request.hand_over(conn)

    def _connection(self) -> WebSocketConnection:
        if self._conn is None:
            raise RuntimeError("call prepare() first")
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
        """True once closing started or the connection dropped."""
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

        ``timeout`` (default ``receive_timeout``) raises :class:`asyncio.TimeoutError`.
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

    def __aiter__(self) -> WebSocketResponse:
        return self

    async def __anext__(self) -> WSMessage:
        message = await self.receive()
        if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
            raise StopAsyncIteration
        return message

    # sending ------------------------------------------------------------------------

    async def send_str(self, data: str, compress: bool | None = None) -> None:
        """Send a TEXT message; ``compress=False`` skips compression for this one.

        Raises :class:`WSConnectionClosed` once the connection is closing.
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

    async def send_prepared(self, message: PreparedMessage) -> None:
        """Send a message framed once by :meth:`PreparedMessage.encode` (broadcasts)."""
        await self._connection().send_frame(message.frame)

    def send_prepared_nowait(self, message: PreparedMessage) -> None:
        """Queue a prepared message without waiting for the peer (for broadcasters).

        The caller must bound what it queues itself, e.g. by checking
        :attr:`write_buffer_size` first. Raises :class:`WSConnectionClosed` once closing.
        """
        self._connection().send_frame_nowait(message.frame)

    async def ping(self, message: bytes = b"") -> None:
        """Send a ping (payload at most 125 bytes)."""
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

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        """Not available: use the ``send_*`` methods."""
        raise RuntimeError("WebSocketResponse has no write(); use send_str/send_bytes")

    async def write_eof(self, data: bytes = b"") -> None:
        """Finish the closing handshake if the handler did not (the server calls it after
        the handler returns): close with 1000, or answer a Close the handler received."""
        if self._conn is not None and self._conn.close_pending:
            await self._conn.close(WSCloseCode.OK, "")
