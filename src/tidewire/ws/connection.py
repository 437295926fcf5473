"""The asyncio side of one WebSocket: moves bytes between the transport and wsproto.

Parsing is *pulled*: received bytes go into wsproto's buffer, and frames are
parsed only when the handler asks for the next message (or is already waiting
for one). wsproto's state therefore advances exactly as far as the handler has
read, which gives the strict ordering RFC 6455 implies: every valid message
before a protocol violation or a Close is delivered (and may be answered)
before the connection is failed or closed. The unparsed buffer is the incoming
queue; above ``max_queue`` bytes, reading from the socket pauses.

Control frames are answered as they are pulled: pings with pongs (``autoping``),
a peer's Close with ours (``autoclose``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, cast

from wsproto import ConnectionType
from wsproto import connection as wsconn
from wsproto.connection import ConnectionState
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage
from wsproto.extensions import Extension
from wsproto.utilities import LocalProtocolError

from ..flow import WriteFlow
from .assembler import MessageAssembler
from .deflate import PerMessageDeflate
from .messages import (
    CLOSED_MESSAGE,
    CLOSING_MESSAGE,
    WebSocketError,
    WSCloseCode,
    WSConnectionClosed,
    WSMessage,
    WSMsgType,
)
from .sizeguard import DeclaredSizeGuard

__all__ = ["WebSocketConnection"]

logger = logging.getLogger("tidewire.ws")

_OPEN = ConnectionState.OPEN
#: Queued outgoing bytes written at once instead of at the end of the loop iteration.
_FLUSH_SIZE = 64 * 1024


class WebSocketConnection:
    """One upgraded connection, driven by the transport's events.

    The HTTP protocol hands the transport over (it calls :meth:`connection_made`
    and forwards every later event). :class:`~tidewire.ws.response.WebSocketResponse`
    is the handler's view of it.
    """

    def __init__(
        self,
        *,
        extension: PerMessageDeflate | None,
        max_msg_size: int,
        max_queue: int,
        autoping: bool,
        autoclose: bool,
        close_timeout: float,
        heartbeat: float | None,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        # One extension per connection: the deflate extension is a size guard too.
        extensions: list[Extension] = []
        if extension is not None:
            extensions.append(extension)
        elif max_msg_size:
            extensions.append(DeclaredSizeGuard(max_msg_size))
        self._ws = wsconn.Connection(ConnectionType.SERVER, extensions)
        self._extension = extension
        # The extension enforces the size limit exactly (declared lengths, and inflated
        # bytes when compressed); the assembler need not count bytes again.
        self._assembler = MessageAssembler(0)
        self._max_queue = max_queue
        self._autoping = autoping
        self._autoclose = autoclose
        self._close_timeout = close_timeout
        self.transport: asyncio.Transport | None = None
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self.exception: BaseException | None = None
        self._waiter: asyncio.Future[WSMessage | None] | None = None
        self._close_waiter: asyncio.Future[None] | None = None
        self._unparsed = 0
        self._read_paused = False
        self._write_flow = WriteFlow(lambda: WSConnectionClosed(code=self.close_code))
        self._out: list[bytes] = []
        self._out_size = 0
        self._closing = False  # we sent (or are about to send) our Close
        self._lost = False  # the transport is gone
        self._close_task: asyncio.Task[bool] | None = None
        self._heartbeat = heartbeat
        self._heartbeat_timer: asyncio.TimerHandle | None = None
        self._awaiting_pong = False
        self._on_lost: Callable[[], None] | None = None

    # state ------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once a close began (ours or the peer's) or the connection dropped."""
        return self._closing or self._lost or self._ws.state is not _OPEN

    @property
    def writing_paused(self) -> bool:
        """True while the transport's buffer is above its high-water mark."""
        return self._write_flow.paused

    @property
    def write_buffer_size(self) -> int:
        """Bytes queued (by us or the transport) and not yet sent."""
        transport = self.transport
        queued = transport.get_write_buffer_size() if transport is not None else 0
        return queued + self._out_size

    # transport events (forwarded by the HTTP protocol) -------------------------------

    def on_connection_lost(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once, at the end of :meth:`connection_lost` (hand-over contract)."""
        self._on_lost = callback

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, so no isinstance here.
        self.transport = cast(asyncio.Transport, transport)
        if self._heartbeat:
            self._heartbeat_timer = self._loop.call_later(self._heartbeat, self._send_heartbeat)

    def data_received(self, data: bytes) -> None:
        self._awaiting_pong = False
        try:
            self._ws.receive_data(data)
        except LocalProtocolError:
            return  # the close handshake is complete: nothing more is read
        waiter = self._waiter
        if waiter is not None:
            message = self._pull()
            if message is not None:
                self._waiter = None
                if not waiter.done():
                    waiter.set_result(message)
            return
        if self._closing:
            self._pull()
            return
        self._unparsed += len(data)
        if self._unparsed > self._max_queue and not self._read_paused:
            self._read_paused = True
            if self.transport is not None:
                self.transport.pause_reading()

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        if self.close_code is None:
            self.close_code = WSCloseCode.ABNORMAL_CLOSURE
        if self._heartbeat_timer is not None:
            self._heartbeat_timer.cancel()
        self._wake(CLOSED_MESSAGE)
        close_waiter = self._close_waiter
        if close_waiter is not None and not close_waiter.done():
            close_waiter.set_result(None)
        self._write_flow.fail()
        on_lost, self._on_lost = self._on_lost, None
        if on_lost is not None:
            on_lost()

    def pause_writing(self) -> None:
        self._write_flow.pause()

    def resume_writing(self) -> None:
        self._write_flow.resume()

    def begin_shutdown(self) -> None:
        """Server shutdown: close with 1001 Going Away."""
        self.start_close(WSCloseCode.GOING_AWAY, "server shutdown")

    @property
    def close_pending(self) -> bool:
        """True when nobody has started our side of the closing handshake yet."""
        return not self._closing and not self._lost

    def handler_failed(self) -> None:
        """The handler raised: close with 1011 Internal Error."""
        self.start_close(WSCloseCode.INTERNAL_ERROR, "internal error")

    # parsing ------------------------------------------------------------------------

    def _pull(self) -> WSMessage | None:
        """Parse until a message for the handler comes out; ``None`` when out of bytes."""
        ws = self._ws
        for event in ws.events():
            kind = type(event)
            if kind is TextMessage or kind is BytesMessage:
                message = self._assembler.add(event)  # type: ignore[arg-type]
                if message is not None and not self._closing:
                    return message
            elif kind is Ping:
                if self._autoping:
                    if ws.state is _OPEN:  # after our Close, no pong (RFC 6455 section 5.5.1)
                        self._write(ws.send(event.response()))  # type: ignore[attr-defined]
                elif not self._closing:
                    return WSMessage(WSMsgType.PING, event.payload, None)  # type: ignore[attr-defined]
            elif kind is Pong:
                if not self._autoping and not self._closing:
                    return WSMessage(WSMsgType.PONG, event.payload, None)  # type: ignore[attr-defined]
            elif kind is CloseConnection:
                assert isinstance(event, CloseConnection)
                if ws.state is _OPEN:
                    # wsproto reports a violation as a CloseConnection it made up.
                    return self._fail(event.code, event.reason or "protocol error")
                return self._on_peer_close(event)
        self._unparsed = 0
        if self._read_paused and not self._lost:
            self._read_paused = False
            if self.transport is not None:
                self.transport.resume_reading()
        return None

    def _on_peer_close(self, event: CloseConnection) -> WSMessage | None:
        if self.close_code in (None, WSCloseCode.ABNORMAL_CLOSURE):
            # (1006 may have been set by connection_lost before this buffered Close was read.)
            self.close_code = event.code
            self.close_reason = event.reason
        if self._closing:
            # The answer to our Close: the handshake is complete (RFC 6455 section 7.1.1).
            self._close_transport()
            close_waiter = self._close_waiter
            if close_waiter is not None and not close_waiter.done():
                close_waiter.set_result(None)
            return None
        if self._autoclose:
            self._closing = True
            self._write(self._ws.send(event.response()))
            self._close_transport()
        return WSMessage(WSMsgType.CLOSE, event.code, event.reason)

    def _fail(self, code: int, reason: str) -> WSMessage:
        """Fail the connection (RFC 6455 section 7.1.7): send Close ``code``, drop TCP."""
        logger.debug("failing WebSocket with %d: %s", code, reason)
        self.close_code = code
        self.close_reason = reason
        self.exception = WebSocketError(code, reason)
        if self._ws.state is _OPEN:
            self._write(self._ws.send(CloseConnection(code=code, reason=reason[:60])))
        self._closing = True
        self._close_transport()
        return WSMessage(WSMsgType.ERROR, self.exception, None)

    # receiving (the handler) -----------------------------------------------------------

    async def receive(self, timeout: float | None = None) -> WSMessage:
        """The next message; CLOSED once the connection is over. One reader at a time."""
        if self._waiter is not None:
            raise RuntimeError("another coroutine is already waiting in receive()")
        while True:
            message = self._pull()
            if message is not None:
                return message
            if self._closing or self._lost:
                if self._close_task is not None and not self._lost:
                    return CLOSING_MESSAGE
                return CLOSED_MESSAGE
            waiter: asyncio.Future[WSMessage | None] = self._loop.create_future()
            self._waiter = waiter
            timer = None
            if timeout is not None:
                timer = self._loop.call_later(timeout, _expire, waiter)
            try:
                message = await waiter
            finally:
                self._waiter = None
                if timer is not None:
                    timer.cancel()
            if message is not None:
                return message

    def _wake(self, message: WSMessage | None) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(message)

    # sending (the handler) -------------------------------------------------------------

    def _check_open(self) -> None:
        if self.closed:
            raise WSConnectionClosed(code=self.close_code)

    async def send_message(self, data: str | bytes, compress: bool | None = None) -> None:
        """Send one TEXT (str) or BINARY (bytes) message; waits while the peer reads slowly."""
        self._check_open()
        event = TextMessage(data=data) if isinstance(data, str) else BytesMessage(data=data)
        extension = self._extension
        if compress is False and extension is not None:
            extension.compress_next = False
            try:
                frame = self._ws.send(event)
            finally:
                extension.compress_next = True
        else:
            frame = self._ws.send(event)
        self._write(frame)
        if self._write_flow.paused:
            await self.drain()

    async def send_frame(self, frame: bytes) -> None:
        """Send an already encoded frame (see :class:`~tidewire.ws.prepared.PreparedMessage`)."""
        self.send_frame_nowait(frame)
        if self._write_flow.paused:
            await self.drain()

    def send_frame_nowait(self, frame: bytes) -> None:
        """Queue an already encoded frame; the caller bounds what it queues."""
        self._check_open()
        self._write(frame)

    async def send_control(self, kind: type[Ping] | type[Pong], payload: bytes) -> None:
        """Send a ping or a pong with ``payload`` (at most 125 bytes)."""
        self._check_open()
        if len(payload) > 125:
            raise ValueError("control frame payload is limited to 125 bytes")
        self._write(self._ws.send(kind(payload=payload)))
        if self._write_flow.paused:
            await self.drain()

    async def drain(self) -> None:
        """Wait until the transport's buffer is below its low-water mark."""
        await self._write_flow.drain()

    def _write(self, data: bytes) -> None:
        """Queue ``data``; everything queued in one loop iteration goes out in one write.

        One ``send()`` per burst instead of one per frame: a handler answering a
        read full of messages, or a broadcast, costs one system call. Past
        :data:`_FLUSH_SIZE` bytes the queue is written at once.
        """
        if not self._out:
            self._loop.call_soon(self._flush)
        self._out.append(data)
        self._out_size += len(data)
        if self._out_size >= _FLUSH_SIZE:
            self._flush()

    def _flush(self) -> None:
        out = self._out
        if not out:
            return
        self._out = []
        self._out_size = 0
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(out[0] if len(out) == 1 else b"".join(out))

    # closing --------------------------------------------------------------------------

    def start_close(self, code: int, reason: str) -> None:
        """Begin :meth:`close` in the background (for shutdown; no-op when closing)."""
        if self._close_task is None and not self.closed:
            self._close_task = self._loop.create_task(self.close(code, reason))
            self._wake(None)

    async def close(self, code: int = WSCloseCode.OK, reason: str = "") -> bool:
        """Run the closing handshake; True if this call closed the connection.

        Sends our Close (or answers the peer's), waits up to ``close_timeout`` for
        the peer's Close, then closes the transport (aborts it on timeout).
        """
        ws = self._ws
        if self._lost or ws.state is ConnectionState.CLOSED:
            self._close_transport()
            return False
        if self._closing and ws.state is not ConnectionState.REMOTE_CLOSING:
            if self._close_waiter is not None:
                with contextlib.suppress(asyncio.TimeoutError):  # the first close() handles it
                    await asyncio.shield(self._close_waiter)
            return False
        self._closing = True
        self._write(ws.send(CloseConnection(code=code, reason=reason or None)))
        if self._answered_peer_close():
            self._close_transport()
            return True
        self.close_code = None
        waiter = self._close_waiter = self._loop.create_future()
        self._wake(CLOSING_MESSAGE)
        self._pull()  # the peer's Close may be buffered already
        if not waiter.done():
            timer = self._loop.call_later(self._close_timeout, _expire, waiter)
            try:
                await asyncio.shield(waiter)
            except asyncio.TimeoutError:
                self.close_code = WSCloseCode.ABNORMAL_CLOSURE
                if self.transport is not None:
                    self.transport.abort()
            finally:
                timer.cancel()
        if self.close_code is None:
            self.close_code = code
        self._close_transport()
        return True

    def _answered_peer_close(self) -> bool:
        return self._ws.state is ConnectionState.CLOSED

    def _close_transport(self) -> None:
        self._flush()
        if self._heartbeat_timer is not None:
            self._heartbeat_timer.cancel()
            self._heartbeat_timer = None
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.close()

    # heartbeat -------------------------------------------------------------------------

    def _send_heartbeat(self) -> None:
        assert self._heartbeat is not None
        if self.closed:
            return
        self._awaiting_pong = True
        self._write(self._ws.send(Ping(payload=b"tidewire")))
        self._heartbeat_timer = self._loop.call_later(self._heartbeat / 2, self._check_pong)

    def _check_pong(self) -> None:
        assert self._heartbeat is not None
        if self.closed:
            return
        if self._awaiting_pong and not self._read_paused:
            # (while we paused reading, the peer's pong may be waiting in the socket)
            logger.debug("no pong within %.1fs: dropping the connection", self._heartbeat / 2)
            self.close_code = WSCloseCode.ABNORMAL_CLOSURE
            self.exception = asyncio.TimeoutError("no pong received in time")
            if self.transport is not None:
                self.transport.abort()
            return
        self._heartbeat_timer = self._loop.call_later(self._heartbeat / 2, self._send_heartbeat)


def _expire(waiter: asyncio.Future[Any]) -> None:
    if not waiter.done():
        waiter.set_exception(asyncio.TimeoutError())
