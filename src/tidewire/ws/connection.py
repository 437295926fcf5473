"""The asyncio side of one WebSocket: the transport, futures, timers, flow control.

Every protocol decision is :class:`~tidewire.ws.protocol.WebSocketProtocol`'s;
this module moves its bytes, wakes the reader, runs the heartbeat and the close
timeout, pauses reading above ``max_queue`` unread bytes, and coalesces writes.

After the 101 the HTTP core makes a :class:`WebSocketConnection` the
transport's protocol (``transport.set_protocol``), so transport events reach
it directly.

Parsing is *pulled*: frames are parsed when the handler asks for a message
(or is already waiting for one), so the protocol advances exactly as far as
the handler has read (see :mod:`tidewire.ws.protocol`).

Writes are coalesced: frames queued in one loop iteration go out in one
``transport.write`` at its end. Every path that closes or aborts the
transport, or sees its end, writes what is queued first, so a frame whose
``send`` returned is never lost to a close.

The end of the TCP connection depends on the protocol's side (RFC 6455
section 7.1.1): once the WebSocket is over, a server closes it at once; a
client waits for the server to close it, and closes it itself only after
``close_timeout``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, cast

from ..flow import WriteFlow
from .engine import Side
from .messages import CLOSED_MESSAGE, CLOSING_MESSAGE, WSCloseCode, WSConnectionClosed, WSMessage
from .protocol import State, WebSocketProtocol

__all__ = ["WebSocketConnection"]

logger = logging.getLogger("tidewire.ws")

_OPEN = State.OPEN
_CLOSING = State.CLOSING
_CLOSED = State.CLOSED
#: Queued outgoing bytes written at once instead of at the end of the loop iteration.
_FLUSH_SIZE = 64 * 1024
_HEARTBEAT_PAYLOAD = b"tidewire"


class WebSocketConnection(asyncio.Protocol):
    """One upgraded connection: the transport's protocol after the hand-over.

    ``max_queue`` bounds the bytes received and not yet read by the handler
    (reading pauses above it); ``close_timeout`` is how long our Close waits
    for the peer's; ``heartbeat`` (seconds, or ``None``) sends a ping that
    long after the last ping and drops a peer silent for half of it.
    :class:`~tidewire.ws.response.WebSocketResponse` is the handler's view.
    """

    # One per open WebSocket, idle ones included: slots keep it small (no __dict__).
    __slots__ = (
        "_awaiting_pong",
        "_client",
        "_close_timeout",
        "_close_timer",
        "_close_waiter",
        "_flush_scheduled",
        "_heartbeat",
        "_heartbeat_timer",
        "_loop",
        "_lost",
        "_max_queue",
        "_on_lost",
        "_read_paused",
        "_tcp_timer",
        "_waiter",
        "_write_flow",
        "protocol",
        "transport",
    )

    def __init__(
        self,
        protocol: WebSocketProtocol,
        *,
        max_queue: int,
        close_timeout: float,
        heartbeat: float | None,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self.protocol = protocol
        self._max_queue = max_queue
        self._close_timeout = close_timeout
        self.transport: asyncio.Transport | None = None
        self._lost = False
        self._on_lost: Callable[[], None] | None = None
        self._waiter: asyncio.Future[WSMessage | None] | None = None
        self._close_waiter: asyncio.Future[None] | None = None
        self._close_timer: asyncio.TimerHandle | None = None
        # A client's wait for the server to end the TCP connection (section 7.1.1).
        self._client = protocol.side is Side.CLIENT
        self._tcp_timer: asyncio.TimerHandle | None = None
        self._read_paused = False
        self._flush_scheduled = False
        self._write_flow = WriteFlow(self._closed_error)
        self._heartbeat = heartbeat
        self._heartbeat_timer: asyncio.TimerHandle | None = None
        self._awaiting_pong = False

    def _closed_error(self) -> WSConnectionClosed:
        return WSConnectionClosed(code=self.protocol.close_code)

    # state ------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once a close began (ours or the peer's) or the connection dropped."""
        return self.protocol.state is not _OPEN

    @property
    def close_pending(self) -> bool:
        """True when nobody has started our side of the closing handshake yet."""
        state = self.protocol.state
        return state is _OPEN or state is State.REMOTE_CLOSING

    @property
    def writing_paused(self) -> bool:
        """True while the transport's buffer is above its high-water mark."""
        return self._write_flow.paused

    @property
    def write_buffer_size(self) -> int:
        """Bytes queued (by us or the transport) and not yet sent."""
        transport = self.transport
        queued = transport.get_write_buffer_size() if transport is not None else 0
        return queued + self.protocol.pending

    # hand-over from the HTTP core ----------------------------------------------------

    def on_connection_lost(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (once, with no argument) when the transport is lost.

        The HTTP core registers it before ``transport.set_protocol(self)``: it
        no longer sees the transport's events, and learns of the end here.
        """
        self._on_lost = callback

    def begin_shutdown(self) -> None:
        """Server shutdown: close with 1001 Going Away."""
        self.start_close(WSCloseCode.GOING_AWAY, "server shutdown")

    def handler_failed(self) -> None:
        """The handler raised: close with 1011 Internal Error."""
        self.start_close(WSCloseCode.INTERNAL_ERROR, "internal error")

    # asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, so no isinstance here.
        self.transport = cast(asyncio.Transport, transport)
        if self._heartbeat:
            self._heartbeat_timer = self._loop.call_later(self._heartbeat, self._send_heartbeat)

    def data_received(self, data: bytes) -> None:
        self._awaiting_pong = False
        protocol = self.protocol
        protocol.receive_data(data)
        waiter = self._waiter
        if waiter is not None:
            message = self._pull()
            if message is not None:
                self._waiter = None
                if not waiter.done():
                    waiter.set_result(message)
            return
        if protocol.state is _CLOSING:
            self._pull()  # looking for the answer to our Close
        elif protocol.buffered > self._max_queue and not self._read_paused:
            self._read_paused = True
            if self.transport is not None:
                self.transport.pause_reading()

    def eof_received(self) -> bool | None:
        self.protocol.receive_eof()
        self._flush()
        self._wake()
        return None  # asyncio closes the transport, after what it has buffered

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self.protocol.receive_eof()
        self._cancel_timers()
        tcp_timer, self._tcp_timer = self._tcp_timer, None
        if tcp_timer is not None:
            tcp_timer.cancel()
        self._wake()
        self._resolve_close_waiter()
        self._write_flow.fail()
        callback, self._on_lost = self._on_lost, None
        if callback is not None:
            callback()

    def pause_writing(self) -> None:
        self._write_flow.pause()

    def resume_writing(self) -> None:
        self._write_flow.resume()

    # receiving --------------------------------------------------------------------

    def _pull(self) -> WSMessage | None:
        """Pull one message from the protocol and act on what it queued or decided."""
        message = self.protocol.next_event()
        self._pulled(message)
        return message

    def _pulled(self, message: WSMessage | None) -> None:
        """Act on what the protocol queued or decided while ``message`` was pulled."""
        protocol = self.protocol
        if protocol.state is _CLOSED and not self._lost:
            self._close_transport()
        elif protocol.pending and not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)
        if message is None and self._read_paused:
            self._read_paused = False
            if self.transport is not None and not self._lost:
                self.transport.resume_reading()

    async def receive(self, timeout: float | None = None) -> WSMessage:
        """The next message; CLOSING while a close is under way, CLOSED once it is over.

        One reader at a time (else :class:`RuntimeError`); ``timeout`` raises
        :class:`asyncio.TimeoutError`.
        """
        if self._waiter is not None:
            raise RuntimeError("another coroutine is already waiting in receive()")
        protocol = self.protocol
        while True:
            message = protocol.next_event()
            # Per message, the common case (open, nothing new to write) needs nothing more.
            if (
                message is None
                or protocol.state is not _OPEN
                or (protocol.pending and not self._flush_scheduled)
            ):
                self._pulled(message)
            if message is not None:
                return message
            state = protocol.state
            if state is _CLOSED:
                return CLOSED_MESSAGE
            if state is not _OPEN:
                return CLOSING_MESSAGE
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

    def _wake(self) -> None:
        """Make a waiting reader look at the protocol again."""
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # sending ------------------------------------------------------------------------

    def _queued(self) -> None:
        """The protocol queued a frame: write it at the end of this loop iteration."""
        if self.protocol.pending >= _FLUSH_SIZE:
            self._flush()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    async def send_message(self, data: str | bytes, compress: bool | None = None) -> None:
        """Send one TEXT (str) or BINARY (bytes) message; waits while the peer reads slowly.

        Raises :class:`WSConnectionClosed` once closing started.
        """
        protocol = self.protocol
        if isinstance(data, str):
            protocol.send_text(data, compress is not False)
        else:
            protocol.send_binary(data, compress is not False)
        # (what _queued() does, inline: this runs once per message sent)
        if protocol.pending >= _FLUSH_SIZE:
            self._flush()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)
        if self._write_flow.paused:
            await self._write_flow.drain()

    async def send_frame(self, frame: bytes) -> None:
        """Send an already encoded frame (see :class:`~tidewire.ws.prepared.PreparedMessage`)."""
        self.send_frame_nowait(frame)
        if self._write_flow.paused:
            await self._write_flow.drain()

    def send_frame_nowait(self, frame: bytes) -> None:
        """Queue an already encoded frame; the caller bounds what it queues."""
        self.protocol.send_frame(frame)
        self._queued()

    async def send_ping(self, payload: bytes) -> None:
        """Send a ping (``payload`` at most 125 bytes, else :class:`ValueError`)."""
        self.protocol.send_ping(payload)
        self._queued()
        if self._write_flow.paused:
            await self._write_flow.drain()

    async def send_pong(self, payload: bytes) -> None:
        """Send an unsolicited pong (``payload`` at most 125 bytes)."""
        self.protocol.send_pong(payload)
        self._queued()
        if self._write_flow.paused:
            await self._write_flow.drain()

    async def drain(self) -> None:
        """Wait until the transport's buffer is below its low-water mark."""
        await self._write_flow.drain()

    def _flush(self) -> None:
        """Write everything the protocol queued, in one ``transport.write``."""
        self._flush_scheduled = False
        data = self.protocol.data_to_send()
        transport = self.transport
        if data and transport is not None and not transport.is_closing():
            transport.write(data)

    # closing --------------------------------------------------------------------------

    def start_close(self, code: int, reason: str) -> bool:
        """Send our Close now and arm the close timeout; no-op unless still open.

        Returns True if this call started (or completed) the closing handshake.
        """
        protocol = self.protocol
        if not self.close_pending or self._lost:
            return False
        protocol.send_close(code, reason)
        self._wake()
        if protocol.state is _CLOSING:
            self._flush()
            self._pull()  # the peer's Close may be buffered already
        if protocol.state is _CLOSED:
            self._close_transport()
        elif self._close_timer is None:
            self._close_timer = self._loop.call_later(self._close_timeout, self._close_timed_out)
        return True

    async def close(self, code: int = WSCloseCode.OK, reason: str = "") -> bool:
        """Run the closing handshake; True if this call closed the connection.

        Sends our Close (or answers the peer's), waits up to ``close_timeout``
        for the peer's Close, then closes the transport (aborts it on timeout).
        A second call waits for the first one's handshake and returns False.
        """
        started = self.start_close(code, reason)
        if self.protocol.state is _CLOSING and not self._lost:
            waiter = self._close_waiter
            if waiter is None:
                waiter = self._close_waiter = self._loop.create_future()
            await asyncio.shield(waiter)
        elif not started:
            self._close_transport()
        return started

    def _close_timed_out(self) -> None:
        self._close_timer = None
        if self.protocol.state is _CLOSING:
            logger.debug("no Close answer within %.1fs: aborting", self._close_timeout)
            self.protocol.receive_eof()  # the close code becomes 1006
            self._abort()

    def _resolve_close_waiter(self) -> None:
        waiter = self._close_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _cancel_timers(self) -> None:
        for timer in (self._heartbeat_timer, self._close_timer):
            if timer is not None:
                timer.cancel()
        self._heartbeat_timer = self._close_timer = None

    def _close_transport(self) -> None:
        """The WebSocket is over: end the TCP connection as our side must (section 7.1.1).

        What is queued is written first. A server closes the transport now; a
        client leaves that to the server and arms ``close_timeout`` to close it
        itself (:meth:`close` waits until one of the two happened).
        """
        self._flush()
        self._cancel_timers()
        transport = self.transport
        if self._client and not self._lost and transport is not None:
            if not transport.is_closing() and self._tcp_timer is None:
                self._tcp_timer = self._loop.call_later(self._close_timeout, self._end_tcp)
            if self._tcp_timer is not None:
                return
        self._end_tcp()

    def _end_tcp(self) -> None:
        """Close the transport (after the client's wait, if it is one) and wake :meth:`close`."""
        self._tcp_timer = None
        self._resolve_close_waiter()
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.close()

    def _abort(self) -> None:
        self._flush()  # (abort discards it with the transport's buffer, but in order)
        self._cancel_timers()
        self._resolve_close_waiter()
        if self.transport is not None:
            self.transport.abort()

    # heartbeat -------------------------------------------------------------------------

    def _send_heartbeat(self) -> None:
        assert self._heartbeat is not None
        if self.protocol.state is not _OPEN:
            return
        self._awaiting_pong = True
        self.protocol.send_ping(_HEARTBEAT_PAYLOAD)
        self._queued()
        self._heartbeat_timer = self._loop.call_later(self._heartbeat / 2, self._check_pong)

    def _check_pong(self) -> None:
        assert self._heartbeat is not None
        protocol = self.protocol
        if protocol.state is not _OPEN:
            return
        if self._awaiting_pong and not self._read_paused:
            # (while we paused reading, the peer's pong may be waiting in the socket)
            logger.debug("no pong within %.1fs: dropping the connection", self._heartbeat / 2)
            protocol.receive_eof()  # the close code becomes 1006
            protocol.exception = asyncio.TimeoutError("no pong received in time")
            self._abort()
            return
        self._heartbeat_timer = self._loop.call_later(self._heartbeat / 2, self._send_heartbeat)


def _expire(waiter: asyncio.Future[Any]) -> None:
    if not waiter.done():
        waiter.set_exception(asyncio.TimeoutError())
