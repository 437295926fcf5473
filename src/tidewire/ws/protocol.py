"""The WebSocket protocol without I/O (RFC 6455): bytes in, messages out, bytes to send.

:class:`WebSocketProtocol` decides everything about one connection that does
not need a clock or a socket: the close handshake and its codes, answers to
pings, failing on a violation, message assembly and which messages reach the
application. Its frame engine (:mod:`tidewire.ws.engine`) parses and builds
frames, and enforces UTF-8 and the size limit.

The caller (:mod:`tidewire.ws.connection` for asyncio) must:

1. hand it every received byte with :meth:`~WebSocketProtocol.receive_data`,
   and :meth:`~WebSocketProtocol.receive_eof` once the peer's bytes end;
2. pull messages with :meth:`~WebSocketProtocol.next_event` only as fast as
   the application reads them: frames are parsed only that far, so every
   message before a violation or a Close is delivered (and may be answered)
   first, and the unparsed input is the receive queue the caller bounds;
3. after every call, send :meth:`~WebSocketProtocol.data_to_send` (it may
   batch several calls into one write), and once
   :meth:`~WebSocketProtocol.close_expected` is true, end the TCP connection:
   a server closes it at once (RFC 6455 section 7.1.1), a client waits for
   the server to close it, then closes it itself after a timeout.
"""

from __future__ import annotations

from enum import Enum

from .compression import MessageDeflater, MessageInflater
from .engine import OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, FrameEngine, FrameError, Side
from .engines import create_engine
from .messages import (
    WebSocketError,
    WSCloseCode,
    WSConnectionClosed,
    WSMessage,
    WSMsgType,
)

__all__ = ["State", "WebSocketProtocol"]

_TEXT = WSMsgType.TEXT
_BINARY = WSMsgType.BINARY
_NO_STATUS = 1005
#: Codes that must never be sent in a Close frame (RFC 6455 section 7.4.1).
_LOCAL_ONLY_CODES = frozenset({1005, 1006, 1015})
#: A control frame's payload limit (RFC 6455 section 5.5).
MAX_CONTROL_PAYLOAD = 125


class State(Enum):
    """Where the closing handshake stands (RFC 6455 sections 7.1.1 to 7.1.4).

    ``OPEN``: messages flow both ways. ``REMOTE_CLOSING``: the peer's Close was
    read and ours is not sent yet (``autoclose=False``). ``CLOSING``: our Close
    is sent and the peer's not read yet. ``CLOSED``: the handshake is complete,
    the connection failed, or the peer's bytes ended; nothing more may be sent.
    """

    OPEN = 1
    REMOTE_CLOSING = 2
    CLOSING = 3
    CLOSED = 4


_OPEN = State.OPEN
_REMOTE_CLOSING = State.REMOTE_CLOSING
_CLOSING = State.CLOSING
_CLOSED = State.CLOSED


class WebSocketProtocol:
    """One side of one WebSocket connection, after the opening handshake.

    ``codec`` is the permessage-deflate pair from
    :func:`~tidewire.ws.compression.codec_for` when compression was agreed;
    ``max_message_size`` (bytes, after inflation; 0 for none) fails a larger
    message with 1009. ``autoping`` answers pings with pongs and keeps both
    from the application; ``autoclose`` answers the peer's Close as soon as it
    is read (else the application must call :meth:`send_close`). ``engine``
    overrides the frame engine :func:`~tidewire.ws.engines.create_engine` picks.

    After ``close_code`` is set it is the connection's close code: the peer's
    (1005 when its Close had none), ours when we failed the connection, 1006
    when the bytes ended without a complete handshake.
    """

    __slots__ = (
        "_autoclose",
        "_autoping",
        "_engine",
        "_out",
        "_parts",
        "_reading",
        "close_code",
        "close_reason",
        "exception",
        "pending",
        "side",
        "state",
    )

    def __init__(
        self,
        side: Side,
        *,
        codec: tuple[MessageInflater, MessageDeflater] | None = None,
        max_message_size: int = 4 * 1024 * 1024,
        autoping: bool = True,
        autoclose: bool = True,
        engine: FrameEngine | None = None,
    ) -> None:
        self.side = side
        if engine is None:
            engine = create_engine(side, codec, max_message_size)
        self._engine = engine
        self._autoping = autoping
        self._autoclose = autoclose
        #: Where the closing handshake stands.
        self.state = _OPEN
        self.close_code: int | None = None
        self.close_reason: str | None = None
        #: Why the connection ended abnormally: the :class:`WebSocketError` of a
        #: violation, or what the I/O layer sets (a heartbeat timeout, say).
        self.exception: BaseException | None = None
        self._out: list[bytes] = []
        #: Bytes :meth:`data_to_send` would return.
        self.pending = 0
        self._parts: list[str] | list[bytes] = []
        self._reading = True  # frames may still come out of the engine

    # receiving ------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Buffer bytes received from the peer. Nothing is parsed until :meth:`next_event`.

        After a Close was read or the connection failed, bytes are ignored. The
        caller bounds what it buffers with :attr:`buffered`.
        """
        if self._reading:
            self._engine.receive_data(data)

    def receive_eof(self) -> None:
        """The peer's bytes ended (TCP FIN or connection lost), or the caller gave up on them.

        The state becomes ``CLOSED``, with close code 1006 unless one is known
        (RFC 6455 section 7.1.5). Messages already buffered can still be pulled
        (and a buffered Close still sets the code). While our Close awaits its
        answer, the buffer is searched for it at once.
        """
        if self.state is _CLOSING and self._reading:
            self.next_event()  # completes the handshake if the peer's Close is buffered
        if self.state is not _CLOSED:
            self.state = _CLOSED
            if self.close_code is None:
                self.close_code = WSCloseCode.ABNORMAL_CLOSURE

    @property
    def buffered(self) -> int:
        """Received bytes not parsed yet (the receive queue the caller bounds)."""
        return self._engine.buffered if self._reading else 0

    def next_event(self) -> WSMessage | None:
        """Parse until a message for the application comes out; ``None`` when out of bytes.

        Returns TEXT and BINARY messages, PING and PONG when ``autoping`` is off,
        the peer's CLOSE (the handshake then completes if ``autoclose``), or
        ERROR when the peer broke the protocol (the connection is then failed
        with the engine's close code, RFC 6455 section 7.1.7). After our Close,
        data and pings are read and dropped until the peer's Close
        (section 1.4). The caller must then send :meth:`data_to_send` and check
        :meth:`close_expected`.
        """
        engine = self._engine
        while self._reading:
            try:
                event = engine.next_event()
            except FrameError as exc:
                self._reading = False
                self.fail(exc.code, exc.reason)
                return WSMessage(WSMsgType.ERROR, self.exception, None)
            if event is None:
                return None
            opcode, payload, fin = event
            if opcode <= OP_BINARY:  # TEXT or BINARY: engines never emit CONTINUATION
                parts = self._parts
                if not fin:
                    parts.append(payload)
                    continue
                if parts:
                    parts.append(payload)
                    payload = "".join(parts) if opcode == OP_TEXT else b"".join(parts)  # type: ignore[arg-type]
                    self._parts = []
                if self.state is _CLOSING:
                    continue
                return WSMessage(_TEXT if opcode == OP_TEXT else _BINARY, payload, None)
            if opcode == OP_PING:
                if self._autoping:
                    # A pong answers a ping until our Close is sent (RFC 6455 section 5.5.2).
                    if self.state is _OPEN:
                        self._send(engine.encode_control(OP_PONG, payload))
                elif self.state is not _CLOSING:
                    return WSMessage(WSMsgType.PING, payload, None)
            elif opcode == OP_PONG:
                if not self._autoping and self.state is not _CLOSING:
                    return WSMessage(WSMsgType.PONG, payload, None)
            elif opcode == OP_CLOSE:
                self._reading = False
                code, reason = payload
                return self._on_peer_close(code, reason)
        return None

    def _on_peer_close(self, code: int, reason: str) -> WSMessage | None:
        """The peer's Close was read (RFC 6455 sections 5.5.1 and 7.1.3)."""
        state = self.state
        if state is _CLOSING:
            # The answer to our Close: the handshake is complete.
            self.close_code = code
            self.close_reason = reason
            self.state = _CLOSED
            return None
        self.close_code = code  # after EOF, a buffered Close's code wins over 1006
        self.close_reason = reason
        if state is _OPEN:
            if self._autoclose:
                # Echo the status code (section 5.5.1); none when the peer sent none.
                self._send(self._engine.encode_close(None if code == _NO_STATUS else code))
                self.state = _CLOSED
            else:
                self.state = _REMOTE_CLOSING
        return WSMessage(WSMsgType.CLOSE, code, reason)

    # sending -------------------------------------------------------------------------

    def _send(self, frame: bytes) -> None:
        self._out.append(frame)
        self.pending += len(frame)

    def _closed_error(self) -> WSConnectionClosed:
        return WSConnectionClosed(code=self.close_code)

    def send_text(self, data: str, compress: bool = True) -> None:
        """Queue a TEXT message (compressed when agreed and ``compress``).

        Raises :class:`WSConnectionClosed` unless the state is ``OPEN``. The
        caller must then send :meth:`data_to_send`.
        """
        if self.state is not _OPEN:
            raise self._closed_error()
        frame = self._engine.encode_message(data, compress)
        self._out.append(frame)
        self.pending += len(frame)

    def send_binary(self, data: bytes, compress: bool = True) -> None:
        """Queue a BINARY message; see :meth:`send_text`."""
        if self.state is not _OPEN:
            raise self._closed_error()
        frame = self._engine.encode_message(data, compress)
        self._out.append(frame)
        self.pending += len(frame)

    def send_frame(self, frame: bytes) -> None:
        """Queue a frame encoded beforehand (an unmasked, uncompressed server frame:
        :class:`~tidewire.ws.prepared.PreparedMessage`); see :meth:`send_text`."""
        if self.state is not _OPEN:
            raise self._closed_error()
        self._out.append(frame)
        self.pending += len(frame)

    def send_ping(self, payload: bytes = b"") -> None:
        """Queue a PING; ``payload`` is at most 125 bytes (RFC 6455 section 5.5)."""
        self._send_control(OP_PING, payload)

    def send_pong(self, payload: bytes = b"") -> None:
        """Queue an unsolicited PONG (a heartbeat, RFC 6455 section 5.5.3); at most 125 bytes."""
        self._send_control(OP_PONG, payload)

    def _send_control(self, opcode: int, payload: bytes) -> None:
        if self.state is not _OPEN:
            raise self._closed_error()
        if len(payload) > MAX_CONTROL_PAYLOAD:
            raise ValueError("control frame payload is limited to 125 bytes")
        self._send(self._engine.encode_control(opcode, payload))

    def send_close(self, code: int = WSCloseCode.OK, reason: str = "") -> None:
        """Start the closing handshake, or answer the peer's Close (RFC 6455 section 7.1.2).

        In ``OPEN`` the state becomes ``CLOSING``: the caller must keep feeding
        bytes and pulling until the peer's Close completes it (then
        :meth:`close_expected`), or give up after a timeout with
        :meth:`receive_eof`. In ``REMOTE_CLOSING`` it becomes ``CLOSED``. The
        reason is cut to 123 UTF-8 bytes; codes that may not be sent (1005,
        1006, 1015) become 1000. Raises :class:`WSConnectionClosed` in other states.
        """
        state = self.state
        if state is not _OPEN and state is not _REMOTE_CLOSING:
            raise self._closed_error()
        if code in _LOCAL_ONLY_CODES:
            code = WSCloseCode.OK
        self._send(self._engine.encode_close(code, reason))
        self.state = _CLOSED if state is _REMOTE_CLOSING else _CLOSING

    def fail(self, code: int, reason: str = "") -> None:
        """Fail the connection (RFC 6455 section 7.1.7): send Close ``code`` unless ours is out.

        The state becomes ``CLOSED`` at once and nothing more is read; the
        caller must send :meth:`data_to_send`, then close the TCP connection.
        """
        if self.state is _OPEN or self.state is _REMOTE_CLOSING:
            self._send(self._engine.encode_close(code, reason))
        self.state = _CLOSED
        self._reading = False
        self.close_code = code
        self.close_reason = reason
        self.exception = WebSocketError(code, reason)

    def data_to_send(self) -> bytes:
        """Everything queued since the last call, in one ``bytes`` (``b""`` when nothing).

        The caller must write it to the transport before closing it.
        """
        out = self._out
        if not out:
            return b""
        self._out = []
        self.pending = 0
        return out[0] if len(out) == 1 else b"".join(out)

    def close_expected(self) -> bool:
        """True once the WebSocket is over (``CLOSED``): the TCP connection must end.

        A server closes it after sending :meth:`data_to_send`; a client waits
        for the server to close it first (RFC 6455 section 7.1.1).
        """
        return self.state is _CLOSED
