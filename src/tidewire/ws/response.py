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

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from ..http.exceptions import STATUS_EXCEPTIONS, HTTPBadRequest
from ..http.request import BaseRequest
from ..http.response import StreamResponse
from .compression import codec_for
from .connection import WebSocketConnection
from .deflate import DeflateOptions, negotiate_deflate
from .endpoint import DecodeText, WebSocketEndpoint
from .engine import Side
from .handshake import HandshakeError, accept_token, check_upgrade_request, select_subprotocol
from .messages import WSCloseCode
from .prepared import PreparedMessage
from .protocol import WebSocketProtocol

__all__ = ["WebSocketReady", "WebSocketResponse"]


class WebSocketReady(NamedTuple):
    """Result of :meth:`WebSocketResponse.can_prepare`."""

    ok: bool
    protocol: str | None

    def __bool__(self) -> bool:
        return self.ok


class WebSocketResponse(WebSocketEndpoint[DecodeText], StreamResponse):
    """A WebSocket endpoint for one request.

    Options (all keyword; aiohttp's names, plus a few of ours):

    - ``protocols``: subprotocols we speak, in our order of preference.
    - ``autoping``: answer pings automatically (PING/PONG then never reach the handler).
      Frames are read as the handler receives, so pings are answered, and a peer's
      Close seen, only while the handler is in :meth:`receive` (or ``async for``).
    - ``heartbeat``: send a ping every this many seconds; a peer silent for half of
      it afterwards is dropped with close code 1006.
    - ``receive_timeout``: default timeout of :meth:`receive`.
    - ``close_timeout`` (aiohttp's ``timeout``, accepted too): seconds to wait for
      the peer's Close after ours.
    - ``max_msg_size``: largest message in bytes (after inflation), 4 MiB by
      default, 0 for none; larger ones fail the connection with 1009.
    - ``max_queue``: bytes received but not yet read by the handler before the
      server stops reading from the socket (1 MiB by default).
    - ``compress``: accept permessage-deflate (``True``, or our window bits as an int).
    - ``compress_options``: a :class:`DeflateOptions` (window bits, memory level).
    - ``autoclose``: answer the peer's Close as soon as the handler receives it.
    - ``origins``: if given, the only ``Origin`` values accepted (others get 403).
    - ``decode_text``: ``False`` delivers TEXT data as ``bytes`` (after the UTF-8
      check), for parsers that take bytes; ``receive_str`` then returns bytes.
    - ``writer_limit``: accepted for aiohttp's signature, no effect: sends wait
      on the transport's own high-water mark (see :attr:`writing_paused`).
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
        decode_text: bool = True,
        timeout: float | None = None,
        writer_limit: int | None = None,
    ) -> None:
        super().__init__(status=101)
        if timeout is not None:
            close_timeout = timeout
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
        self._decode_text = decode_text

    # handshake --------------------------------------------------------------------

    def _check(self, request: BaseRequest) -> tuple[str, str | None]:
        key = check_upgrade_request(request.method, request.version, request.headers, self._origins)
        return key, select_subprotocol(request.headers, self._protocols)

    def can_prepare(self, request: BaseRequest) -> WebSocketReady:
        """Whether ``request`` is an acceptable upgrade, and the subprotocol it would get.

        Raises :class:`RuntimeError` once prepared, as aiohttp does.
        """
        if self._conn is not None:
            raise RuntimeError("the WebSocket is already prepared")
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
            error = STATUS_EXCEPTIONS.get(exc.status, HTTPBadRequest)
            raise error(text=exc.message, headers=exc.headers) from None
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
                codec = codec_for(Side.SERVER, agreed[1], self._deflate_options, self._max_msg_size)
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

    # server-only sending (the shared message API is WebSocketEndpoint's) ---------------

    async def send_prepared(self, message: PreparedMessage) -> None:
        """Send a message framed once by :meth:`PreparedMessage.encode` (broadcasts)."""
        await self._connection().send_frame(message.frame)

    def send_prepared_nowait(self, message: PreparedMessage) -> None:
        """Queue a prepared message without waiting for the peer (for broadcasters).

        The caller must bound what it queues itself, e.g. by checking
        :attr:`write_buffer_size` first. Raises :class:`WSConnectionClosed` once closing.
        """
        self._connection().send_frame_nowait(message.frame)

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        """Not available: use the ``send_*`` methods."""
        raise RuntimeError("WebSocketResponse has no write(); use send_str/send_bytes")

    async def write_eof(self, data: bytes = b"") -> None:
        """Finish the closing handshake if the handler did not (the server calls it after
        the handler returns): close with 1000, or answer a Close the handler received."""
        if self._conn is not None and self._conn.close_pending:
            await self._conn.close(WSCloseCode.OK, "")
