"""One HTTP/1.1 connection: an :class:`asyncio.Protocol` that moves bytes.

Parsing decisions live in :mod:`.parser`, response framing in :mod:`.framing`,
head encoding in :mod:`.serialize`, the request/response objects in their
modules. This module only connects them to the transport: it feeds the reader,
makes and queues the requests it parses and serves them in order, owns
keep-alive, holds an upgrade request's following bytes, and applies the
deadlines. :class:`HTTPProtocol`'s other parts are mixins that hold no state
of their own, each in its module: :mod:`.body_intake` (request bodies on
their way in), :mod:`.handler_runner` (running a handler, and the one path
that answers its failures), :mod:`.handover` (giving an accepted upgrade the
transport) and :mod:`.readpause` (why reading is paused).

One task per connection runs the handlers of its requests one after the other
(pipelined requests wait in a bounded queue, and are answered in order); no
task or queue hop is made per request.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Protocol, cast

from ..flow import WriteFlow
from .accesslog import AbstractAccessLogger
from .body_intake import BodyIntake, expects_continue
from .channel import ResponseChannel, UpgradedProtocol
from .config import ServerConfig
from .deadline import Deadline
from .exceptions import exception_for_status
from .handler_runner import Handler, HandlerRunner
from .handler_runner import server_logger as server_logger
from .handover import UpgradeHandOver
from .parser import BadRequest, RequestHead, RequestReader
from .readpause import PAUSE_DONE, PAUSE_PIPELINE, PAUSE_UPGRADE, ReadPausing
from .request import BaseRequest
from .streams import EMPTY_BODY, BodyStream

__all__ = ["ConnectionRegistry", "HTTPProtocol", "Handler", "new_read_buffer"]

# Reads are parsed in slices so that a full pipeline queue stops parsing within a slice.
_FEED_SLICE = 16 * 1024
# The most one read takes from the socket (asyncio's own default for a read).
READ_SIZE = 256 * 1024


def new_read_buffer() -> memoryview:
    """A buffer for :class:`HTTPProtocol` reads; one may serve every connection of a loop."""
    return memoryview(bytearray(READ_SIZE))


# What the connection's single deadline currently guards.
_IDLE, _HEAD, _BUSY = "idle", "head", "busy"


class ConnectionRegistry(Protocol):
    """Where a connection announces itself (implemented by the server)."""

    def connection_made(self, protocol: HTTPProtocol) -> None: ...

    def connection_lost(self, protocol: HTTPProtocol) -> None: ...

    def task_started(self, task: asyncio.Task[None]) -> None: ...

    def make_request(
        self, head: RequestHead, content: BodyStream, channel: ResponseChannel, client_max_size: int
    ) -> BaseRequest: ...


class HTTPProtocol(
    BodyIntake, HandlerRunner, UpgradeHandOver, ReadPausing, asyncio.BufferedProtocol
):
    """Serves HTTP/1.1 requests on one connection with ``handler``.

    The transport reads into ``read_buffer`` (:class:`asyncio.BufferedProtocol`),
    which every connection of a server may share: a read is parsed at once, and
    everything kept from it (body chunks, a stash, an upgrade's tail) is copied
    out, so no read allocates a fresh buffer (a 256 KiB allocation per read is
    what a plain :class:`asyncio.Protocol` costs, and large ones are mmapped).
    """

    def __init__(
        self,
        handler: Handler,
        config: ServerConfig,
        registry: ConnectionRegistry,
        access_logger: AbstractAccessLogger | None = None,
        read_buffer: memoryview | None = None,
    ) -> None:
        self._read_buffer = read_buffer if read_buffer is not None else new_read_buffer()
        self._handler = handler
        self._config = config
        self._registry = registry
        self._access_logger = access_logger
        self._loop = asyncio.get_running_loop()
        self._reader = RequestReader(self, config)
        self.transport: asyncio.Transport | None = None
        self._write_flow = WriteFlow(lambda: ConnectionResetError("connection lost"))
        self._channel = ResponseChannel(config.server_header, self._write_flow, self._hand_over)
        self._closed = False
        # requests
        self._receiving: BaseRequest | None = None
        self._current: BaseRequest | None = None
        self._queue: deque[BaseRequest] = deque()
        self._serving = False
        self._task: asyncio.Task[None] | None = None
        self._cancelled = False  # we cancelled the task (a CancelledError is ours)
        self._next_waiter: asyncio.Future[BaseRequest | None] | None = None
        self._keep_alive = False  # the verdict on the response just sent
        self._discard_budget: int | None = None
        self._error: tuple[int, str] | None = None
        self._shutting_down = False
        self._peer_eof = False
        # upgrade: the bodiless upgrade request parsed last, and the bytes after its head
        self._upgrade_request: BaseRequest | None = None
        self._upgrade_tail: bytes | None = None
        self._upgraded: UpgradedProtocol | None = None
        self._stash = b""  # bytes received while the pipeline queue was full
        # flow control
        self._read_paused = 0
        self._deadline = Deadline(self._loop, self._on_deadline)

    # asyncio.Protocol -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, so no isinstance here.
        self.transport = cast(asyncio.Transport, transport)
        self._channel.learn(self.transport)
        self._registry.connection_made(self)
        self._deadline.set(_HEAD, self._config.head_timeout)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._read_buffer

    def buffer_updated(self, nbytes: int) -> None:
        data = self._read_buffer[:nbytes]
        if (
            nbytes > _FEED_SLICE
            or self._upgrade_tail is not None
            or self._stash
            or self._read_paused
        ):
            self.data_received(data)
        elif self._error is None and not self._closed:
            self._feed_slice(data, b"")  # the common case: a small read, parsed whole

    def data_received(self, data: bytes | memoryview) -> None:
        """Parse ``data`` now; what must outlive this call is copied out of it."""
        if self._upgrade_tail is not None:
            self._upgrade_tail += data  # held until the handler accepts or declines
            return
        if self._error is not None or self._closed:
            return
        if self._stash:
            self._stash += data  # the pipeline is full; parsed once it drains
            return
        self._feed(data)

    def _feed(self, data: bytes | memoryview) -> None:
        """Parse ``data``, in slices when it is large, stopping while the pipeline is full.

        A slice is :data:`_FEED_SLICE` bytes plus, inside a body of known length, the
        rest of that body: a large body is parsed in one go, while a flood of small
        pipelined requests is still cut into slices the queue limit can stop.
        Slices are memoryviews: slicing copies nothing.
        """
        end = len(data)
        if end <= _FEED_SLICE and not self._read_paused & PAUSE_PIPELINE:
            self._feed_slice(data, b"")
            return
        view = memoryview(data)
        start = 0
        while start < end:
            if self._read_paused & PAUSE_PIPELINE:
                self._stash = bytes(view[start:])
                return
            step = _FEED_SLICE
            receiving = self._receiving
            if receiving is not None:
                length = receiving.head.content_length
                if length is not None:
                    step += length - receiving.content.total_bytes
            chunk = view[start : start + step]
            start += len(chunk)
            if not self._feed_slice(chunk, view[start:]):
                return

    def _feed_slice(self, chunk: bytes | memoryview, rest: bytes | memoryview) -> bool:
        """Parse one slice; False when parsing must stop (an error, or an upgrade)."""
        try:
            tail = self._reader.feed(chunk)
        except BadRequest as exc:
            self._fail(exc.status, exc.message)
            return False
        if tail is not None:
            # The request just parsed asks to switch protocols: what follows is
            # the new protocol's if its handler accepts, else the next request.
            self._upgrade_tail = tail + bytes(rest)
            self._pause_reading(PAUSE_UPGRADE)
            return False
        if self._reader.in_head and self._deadline.kind != _HEAD:
            # A head arrived in pieces (slowloris guard); most arrive whole in one read.
            self._deadline.set(_HEAD, self._config.head_timeout)
        return True

    def _feed_stash(self) -> None:
        """Parse what arrived while the pipeline queue was full."""
        if self._stash and not self._closed and self._error is None:
            stash, self._stash = self._stash, b""
            self._feed(stash)

    def eof_received(self) -> bool | None:
        self._peer_eof = True
        receiving = self._receiving
        if receiving is not None:
            receiving.content.set_exception(ConnectionResetError("client closed mid-body"))
        if not self._serving or self._config.handler_cancellation:
            self._close()  # nothing owed to a client that stopped sending; or a disconnect
            return None
        return True  # half-closed: keep the transport open to write the responses due

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._channel.transport = None
        self._registry.connection_lost(self)
        self._deadline.cancel()
        self._write_flow.fail()
        receiving = self._receiving
        if receiving is not None and not receiving.content.is_eof():
            receiving.content.set_exception(ConnectionResetError("connection lost"))
        self._queue.clear()
        waiter = self._next_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        elif self._config.handler_cancellation:
            self._cancel_handler()

    def pause_writing(self) -> None:
        self._write_flow.pause()

    def resume_writing(self) -> None:
        self._write_flow.resume()

    # upgrade: the hand-over itself is UpgradeHandOver._hand_over --------------------

    def _upgraded_lost(self) -> None:
        """The receiver's connection ended (it calls this once, from ``connection_lost``)."""
        self._closed = True
        self._channel.transport = None
        self._registry.connection_lost(self)
        self._write_flow.fail()
        if self._config.handler_cancellation and self._task is not None:
            # After the events the receiver just delivered were handled: a handler
            # that finished with the connection is not interrupted in its last step.
            self._loop.call_soon(self._cancel_handler)

    def _release_http_reading(self) -> None:
        """After a hand-over: drop the reader (its llhttp parser), the pipeline
        queue, the stash and the deadline, which only reading HTTP uses.

        Kept: the transport, the channel, the write flow, the handler's task and
        the flags that shutdown, ``handler_cancellation`` and the registry read
        after a hand-over (:meth:`_upgraded_lost`, :meth:`begin_shutdown`,
        :meth:`abort`). Nothing reads HTTP on this connection again: the
        transport calls the receiver, and :meth:`_serve` returns once upgraded.
        """
        del self._reader, self._queue, self._deadline
        self._stash = b""

    def _decline_upgrade(self) -> None:
        """The handler answered an upgrade request without taking the connection:
        what followed its head is HTTP again (pipelined requests included)."""
        tail = self._upgrade_tail
        self._upgrade_tail = self._upgrade_request = None
        self._resume_reading(PAUSE_UPGRADE)
        if tail:
            self._feed(tail)

    # RequestSink: called by the reader while it parses (the body: BodyIntake) ---------

    def on_head(self, head: RequestHead) -> None:
        content = self._make_body_stream(head) if head.has_body else EMPTY_BODY
        request = self._registry.make_request(
            head, content, self._channel, self._config.client_max_size
        )
        if head.has_body:
            self._receiving = request
        elif head.upgrade:
            self._upgrade_request = request
        if self._serving:
            self._queue.append(request)
            if len(self._queue) >= self._config.max_pipelined:
                self._pause_reading(PAUSE_PIPELINE)
            return
        self._start(request)

    # serving requests in order (the handler runs in HandlerRunner._handle) ------------

    def _start(self, request: BaseRequest) -> None:
        self._serving = True
        self._deadline.set(_BUSY, None)
        waiter = self._next_waiter
        if waiter is not None:
            self._next_waiter = None
            waiter.set_result(request)
        else:
            task = self._task = self._loop.create_task(self._serve(request))
            self._channel.task = task
            self._registry.task_started(task)

    async def _serve(self, request: BaseRequest | None) -> None:
        """The connection's task: handle requests in order until the connection ends."""
        while request is not None:
            await self._handle(request)
            if self._closed or self._upgraded is not None:
                return
            if not (self._keep_alive and request.content is EMPTY_BODY) and not self._keep_going(
                request
            ):
                self._close()
                return
            if request is self._upgrade_request:
                self._decline_upgrade()
            if self._queue:
                request = self._queue.popleft()
                if len(self._queue) < self._config.max_pipelined:
                    self._resume_reading(PAUSE_PIPELINE)
                    self._feed_stash()
                continue
            self._serving = False
            if self._error is not None:
                self._send_error(*self._error)
                return
            if self._shutting_down or self._peer_eof:
                self._close()
                return
            if self._reader.in_head:  # the next head is arriving in pieces
                self._deadline.set(_HEAD, self._config.head_timeout)
            else:
                self._deadline.set(_IDLE, self._config.keepalive_timeout)
            waiter: asyncio.Future[BaseRequest | None] = self._loop.create_future()
            self._next_waiter = waiter
            request = await waiter

    def _keep_going(self, request: BaseRequest) -> bool:
        """After a response: settle the request's unread body; may the connection go on?"""
        if not self._keep_alive or self._shutting_down:
            return False
        content = request.content
        if content is EMPTY_BODY:
            return True
        if content.is_eof():
            content.discard()
            return True
        if request is not self._receiving or self._error is not None or content.failed:
            return False
        head = request.head
        if expects_continue(head):
            return False  # the client may never send the body it was not invited to
        remaining = (
            head.content_length - content.total_bytes if head.content_length is not None else 0
        )
        if remaining > self._config.max_discard:
            return False
        self._discard_budget = self._config.max_discard
        content.discard()
        return True

    # errors and closing --------------------------------------------------------------

    def _fail(self, status: int, message: str) -> None:
        """A request could not be read: answer ``status`` once in order, then close."""
        self._error = (status, message)
        self._pause_reading(PAUSE_DONE)
        receiving = self._receiving
        if receiving is not None and not receiving.content.is_eof():
            if receiving is self._current:
                self._channel.closing = True  # its response is the connection's last
            receiving.content.set_exception(exception_for_status(status, message))
        if not self._serving:
            self._send_error(status, message)

    def _send_error(self, status: int, message: str) -> None:
        """Answer a request that could not be read with ``status``, and close."""
        response = exception_for_status(status, message).to_response()
        with contextlib.suppress(ConnectionResetError):
            response.send_to(self._channel, None)
        self._close()

    def _close(self) -> None:
        self._channel.closing = True
        transport = self.transport
        if transport is not None and not self._upgraded and not transport.is_closing():
            transport.close()

    def begin_shutdown(self) -> None:
        """Graceful shutdown: close when idle, else after the current response."""
        self._shutting_down = True
        self._channel.closing = True
        if self._upgraded is not None:
            self._upgraded.begin_shutdown()
            return
        self._queue.clear()
        if not self._serving:
            self._close()

    def abort(self) -> None:
        """Drop the connection now and cancel its handler (end of a shutdown's grace time)."""
        self._cancel_handler()
        if self.transport is not None:
            self.transport.abort()

    def _on_deadline(self, kind: str) -> None:
        if self._closed:
            return
        if kind == _HEAD and self._reader.in_head:
            self._fail(408, "Request head not received in time")
        elif not self._serving:
            self._close()
