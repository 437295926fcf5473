"""One HTTP/1.1 connection: an :class:`asyncio.Protocol` that moves bytes.

Parsing decisions live in :mod:`.parser`, head encoding in :mod:`.serialize`,
the request/response objects in their modules. This module only connects them
to the transport: it feeds the reader, runs the handler, writes what the
handler produced, and applies the deadlines.

One task per connection runs the handlers of its requests one after the other
(pipelined requests wait in a bounded queue, and are answered in order); no
task or queue hop is made per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Protocol, cast

from ..flow import WriteFlow
from .accesslog import AbstractAccessLogger
from .config import ServerConfig
from .deadline import Deadline
from .decodingstream import body_stream_type
from .errorpages import failure_response, log_failure
from .exceptions import HTTPException, HTTPRequestTimeout, exception_for_status
from .parser import BadRequest, RequestHead, RequestReader
from .request import BaseRequest
from .response import StreamResponse
from .serialize import encode_response_head, http_date, reason_phrase
from .streams import EMPTY_BODY, BodyStream

__all__ = ["ConnectionRegistry", "HTTPProtocol", "Handler", "UpgradedProtocol"]

server_logger = logging.getLogger("tidewire.server")

Handler = Callable[[BaseRequest], Awaitable[StreamResponse]]

# Why reading from the socket is paused (a bit each; reading resumes at zero).
_PAUSE_BODY = 1
_PAUSE_PIPELINE = 2
_PAUSE_UPGRADE = 4
_PAUSE_DONE = 8
# Reads are parsed in slices so that a full pipeline queue stops parsing within a slice.
_FEED_SLICE = 16 * 1024
# What the connection's single deadline currently guards.
_IDLE, _HEAD, _BUSY = "idle", "head", "busy"


class ConnectionRegistry(Protocol):
    """Where a connection announces itself (implemented by the server)."""

    def connection_made(self, connection: HTTPProtocol) -> None: ...

    def connection_lost(self, connection: HTTPProtocol) -> None: ...

    def task_started(self, task: asyncio.Task[None]) -> None: ...

    def make_request(
        self, head: RequestHead, content: BodyStream, protocol: HTTPProtocol, client_max_size: int
    ) -> BaseRequest: ...


class UpgradedProtocol(Protocol):
    """What takes over a connection after an upgrade (a WebSocket, say).

    It receives the transport's events from then on, as an asyncio protocol
    would, :meth:`begin_shutdown` when the server shuts down gracefully, and
    :meth:`handler_failed` when the handler that upgraded raised.
    """

    def connection_made(self, transport: asyncio.BaseTransport) -> None: ...

    def data_received(self, data: bytes) -> None: ...

    def eof_received(self) -> bool | None: ...

    def connection_lost(self, exc: Exception | None) -> None: ...

    def pause_writing(self) -> None: ...

    def resume_writing(self) -> None: ...

    def begin_shutdown(self) -> None: ...

    def handler_failed(self) -> None: ...


class HTTPProtocol(asyncio.Protocol):
    """Serves HTTP/1.1 requests on one connection with ``handler``."""

    def __init__(
        self,
        handler: Handler,
        config: ServerConfig,
        registry: ConnectionRegistry,
        access_logger: AbstractAccessLogger | None = None,
    ) -> None:
        self._handler = handler
        self._config = config
        self._registry = registry
        self._access_logger = access_logger
        self._loop = asyncio.get_running_loop()
        self._reader = RequestReader(self, config)
        self.transport: asyncio.Transport | None = None
        self.server_header = config.server_header
        #: Connection facts, learned once in ``connection_made``.
        self.secure = False
        self.remote: str | None = None
        self.local_host = "localhost"
        self._closed = False
        # requests
        self._receiving: BaseRequest | None = None
        self._current: BaseRequest | None = None
        self._queue: deque[BaseRequest] = deque()
        self._serving = False
        self._task: asyncio.Task[None] | None = None
        self._next_waiter: asyncio.Future[BaseRequest | None] | None = None
        self._discard_budget: int | None = None
        self._error: tuple[int, str] | None = None
        self._shutting_down = False
        self._peer_eof = False
        self._response_started = False
        # upgrade hand-over
        self._upgrade_tail: bytes | None = None
        self._stash = b""  # bytes received while the pipeline queue was full
        self._upgraded: UpgradedProtocol | None = None
        # flow control
        self._read_paused = 0
        self._write_flow = WriteFlow(lambda: ConnectionResetError("connection lost"))
        self._deadline = Deadline(self._loop, self._on_deadline)

    # connection state --------------------------------------------

    def _learn_connection(self, transport: asyncio.BaseTransport) -> None:
        self.secure = transport.get_extra_info("sslcontext") is not None
        peer = transport.get_extra_info("peername")
        if isinstance(peer, (tuple, list)):
            self.remote = str(peer[0])
        else:
            self.remote = str(peer) if peer else None
        sock = transport.get_extra_info("sockname")
        if isinstance(sock, (tuple, list)):
            self.local_host = f"{sock[0]}:{sock[1]}"

    @property
    def writing_paused(self) -> bool:
        """True while the transport's write buffer is above its high-water mark."""
        return self._write_flow.paused

    @property
    def idle(self) -> bool:
        """True when no request is being received or handled."""
        return not self._serving and not self._reader.in_head and self._receiving is None

    # asyncio.Protocol -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, so no isinstance here.
        self.transport = cast(asyncio.Transport, transport)
        self._learn_connection(transport)
        self._registry.connection_made(self)
        self._deadline.set(_HEAD, self._config.head_timeout)

    def data_received(self, data: bytes) -> None:
        if self._upgraded is not None:
            self._upgraded.data_received(data)
            return
        if self._upgrade_tail is not None:
            self._upgrade_tail += data
            return
        if self._error is not None or self._closed:
            return
        if self._stash:
            self._stash += data  # the pipeline is full; parsed once it drains
            return
        self._feed(data)

    def _feed(self, data: bytes) -> None:
        """Parse ``data`` in slices, stopping while the pipeline queue is full."""
        start, end = 0, len(data)
        while start < end:
            if self._read_paused & _PAUSE_PIPELINE:
                self._stash = data[start:]
                return
            chunk = data if start == 0 and end <= _FEED_SLICE else data[start : start + _FEED_SLICE]
            start += len(chunk)
            try:
                tail = self._reader.feed(chunk)
            except BadRequest as exc:
                self._fail(exc.status, exc.message)
                return
            if tail is not None:
                # The request just queued switches protocols: nothing after it is HTTP.
                self._upgrade_tail = tail + data[start:]
                self._pause_reading(_PAUSE_UPGRADE)
                return
        if self._reader.in_head and self._deadline.kind != _HEAD:
            # A head arrived in pieces (slowloris guard); most arrive whole in one read.
            self._deadline.set(_HEAD, self._config.head_timeout)

    def _feed_stash(self) -> None:
        """Parse what arrived while the pipeline queue was full."""
        if self._stash and not self._closed and self._error is None:
            stash, self._stash = self._stash, b""
            self._feed(stash)

    def eof_received(self) -> bool | None:
        if self._upgraded is not None:
            return self._upgraded.eof_received()
        self._peer_eof = True
        receiving = self._receiving
        if receiving is not None:
            receiving._content.set_exception(ConnectionResetError("client closed mid-body"))
        if not self._serving or self._config.handler_cancellation:
            self._close()  # nothing owed to a client that stopped sending; or a disconnect
            return None
        return True  # half-closed: keep the transport open to write the responses due

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._registry.connection_lost(self)
        self._deadline.cancel()
        if self._upgraded is not None:
            self._upgraded.connection_lost(exc)
        self._write_flow.fail()
        receiving = self._receiving
        if receiving is not None and not receiving._content.is_eof():
            receiving._content.set_exception(ConnectionResetError("connection lost"))
        self._queue.clear()
        waiter = self._next_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        elif self._task is not None and self._config.handler_cancellation and not self.upgraded:
            self._task.cancel()

    def pause_writing(self) -> None:
        self._write_flow.pause()
        if self._upgraded is not None:
            self._upgraded.pause_writing()

    def resume_writing(self) -> None:
        self._write_flow.resume()
        if self._upgraded is not None:
            self._upgraded.resume_writing()

    # writing (the ResponseChannel side) --------------------------------------------

    def send(self, data: bytes) -> None:
        """Write ``data`` to the transport; ``ConnectionResetError`` once it closed."""
        transport = self.transport
        if self._closed or transport is None or transport.is_closing():
            raise ConnectionResetError("cannot write: connection closed")
        self._response_started = True
        transport.write(data)

    async def drain(self) -> None:
        """Wait until the transport's buffer is below its low-water mark."""
        await self._write_flow.drain()

    # upgrade hand-over --------------------------------------------------------------

    def hand_over(self, receiver: UpgradedProtocol) -> None:
        """Give the connection to ``receiver`` after an upgrade response was sent.

        From then on ``receiver`` gets every transport event; the bytes that
        followed the upgrade request's head are passed to its ``data_received``
        right away. The HTTP side no longer reads or times anything.
        """
        if self._upgrade_tail is None or self.transport is None or self._closed:
            raise RuntimeError("this connection has no pending upgrade")
        tail, self._upgrade_tail = self._upgrade_tail, None
        self._upgraded = receiver
        self._deadline.set(_BUSY, None)
        receiver.connection_made(self.transport)
        if self._write_flow.paused:
            receiver.pause_writing()
        self._resume_reading(_PAUSE_UPGRADE)
        if tail:
            receiver.data_received(tail)
        if self._shutting_down:
            receiver.begin_shutdown()

    @property
    def upgraded(self) -> bool:
        """True once the connection was handed over to another protocol."""
        return self._upgraded is not None

    # RequestSink: called by the reader while it parses -------------------------------

    def on_message_begin(self) -> None:
        pass  # the head deadline is armed after a read, and only for an incomplete head

    def on_head(self, head: RequestHead) -> None:
        content = self._make_body_stream(head) if head.has_body else EMPTY_BODY
        request = self._registry.make_request(head, content, self, self._config.client_max_size)
        if head.upgrade or self._shutting_down:
            request.keep_alive = False
        if head.has_body:
            self._receiving = request
        if self._serving:
            self._queue.append(request)
            if len(self._queue) >= self._config.max_pipelined:
                self._pause_reading(_PAUSE_PIPELINE)
            return
        self._start(request)

    def on_body(self, chunk: bytes) -> None:
        budget = self._discard_budget
        if budget is None:
            assert self._receiving is not None
            self._receiving._content.feed_data(chunk)
            return
        budget -= len(chunk)
        self._discard_budget = budget
        if budget < 0:
            self._close()

    def on_message_complete(self) -> None:
        receiving = self._receiving
        if receiving is not None:
            receiving._content.feed_eof()
            self._receiving = None
        self._discard_budget = None

    def _make_body_stream(self, head: RequestHead) -> BodyStream:
        make = body_stream_type(head.headers) if self._config.auto_decompress else BodyStream
        return make(
            high_water=self._config.read_buffer_limit,
            pause_reading=self._pause_body,
            resume_reading=self._resume_body,
            on_first_read=self._send_continue if _expects_continue(head) else None,
            timeout=self._config.body_timeout,
            timeout_error=_body_timeout_error,
        )

    def _pause_body(self) -> None:
        self._pause_reading(_PAUSE_BODY)

    def _resume_body(self) -> None:
        self._resume_reading(_PAUSE_BODY)

    def _send_continue(self) -> None:
        transport = self.transport
        if (
            self._current is not None
            and not self._response_started
            and transport is not None
            and not transport.is_closing()
        ):
            transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # interim: not the response

    # serving requests ---------------------------------------------------------------

    def _start(self, request: BaseRequest) -> None:
        self._serving = True
        self._deadline.set(_BUSY, None)
        waiter = self._next_waiter
        if waiter is not None:
            self._next_waiter = None
            waiter.set_result(request)
        else:
            self._task = self._loop.create_task(self._serve(request))
            self._registry.task_started(self._task)

    async def _serve(self, request: BaseRequest | None) -> None:
        """The connection's task: handle requests in order until the connection ends."""
        while request is not None:
            await self._handle(request)
            if self._closed or self._upgraded is not None:
                return
            if not self._keep_going(request):
                self._close()
                return
            if self._queue:
                request = self._queue.popleft()
                if len(self._queue) < self._config.max_pipelined:
                    self._resume_reading(_PAUSE_PIPELINE)
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
        if not request.keep_alive or self._shutting_down:
            return False
        content = request._content
        if content.is_eof():
            content.discard()
            return True
        if request is not self._receiving or self._error is not None or content.failed:
            return False
        head = request._head
        if _expects_continue(head):
            return False  # the client may never send the body it was not invited to
        remaining = (
            head.content_length - content.total_bytes if head.content_length is not None else 0
        )
        if remaining > self._config.max_discard:
            return False
        self._discard_budget = self._config.max_discard
        content.discard()
        return True

    async def _handle(self, request: BaseRequest) -> None:
        """Run the handler for ``request`` and send what it produced. Never raises."""
        self._current = request
        self._response_started = False
        logger = self._access_logger
        if logger is not None and not logger.enabled:
            logger = None
        started = self._loop.time() if logger is not None else 0.0
        response: StreamResponse | None = None
        try:
            try:
                response = await self._handler(request)
            except HTTPException as exc:
                response = exc.to_response()
            if isinstance(response, HTTPException):
                response = response.to_response()
            if not isinstance(response, StreamResponse):
                raise TypeError(f"handler returned {type(response).__name__}, not a response")
            if self._response_started and not response.prepared:
                raise RuntimeError("a response was already started for this request")
            if not response.prepared:
                await response.prepare(request)
            await response.write_eof()
        except ConnectionResetError as exc:
            server_logger.debug("connection ended while handling %r: %r", request, exc)
            self._close()
            return
        except Exception as exc:
            response = self._answer_failure(request, response, exc)
        finally:
            self._current = None
        if response is not None and response.keep_alive is False:
            request.keep_alive = False
        if logger is not None and response is not None:
            logger.log(request, response, self._loop.time() - started)

    def _answer_failure(
        self, request: BaseRequest, response: StreamResponse | None, exc: Exception
    ) -> StreamResponse | None:
        """Log an unhandled exception and send a 500 (504) if the head is not out yet."""
        log_failure(self._config.logger, request, exc)
        if self._upgraded is not None:
            self._upgraded.handler_failed()
            return response
        if self._closed or self._response_started:
            # Part of a response is out: the client can only learn of the failure
            # from the connection closing before the response is complete.
            request.keep_alive = False
            self._close()
            return response if isinstance(response, StreamResponse) else None
        failure = failure_response(request, exc, debug=self._config.debug)
        try:
            failure._send_head(request, failure.body)
        except (ConnectionResetError, ValueError):
            self._close()
        return failure

    # errors and closing --------------------------------------------------------------

    def _fail(self, status: int, message: str) -> None:
        """A request could not be read: answer ``status`` once in order, then close."""
        self._error = (status, message)
        self._pause_reading(_PAUSE_DONE)
        receiving = self._receiving
        if receiving is not None and not receiving._content.is_eof():
            receiving.keep_alive = False
            receiving._content.set_exception(exception_for_status(status, message))
        if not self._serving:
            self._send_error(status, message)

    def _send_error(self, status: int, message: str) -> None:
        body = f"{status} {reason_phrase(status)}: {message}\n".encode()
        headers = [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Connection", "close"),
            ("Date", http_date()),
        ]
        if self.server_header:
            headers.append(("Server", self.server_header))
        with contextlib.suppress(ConnectionResetError):
            self.send(encode_response_head((1, 1), status, reason_phrase(status), headers) + body)
        self._close()

    def _close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def begin_shutdown(self) -> None:
        """Graceful shutdown: close when idle, else after the current response."""
        self._shutting_down = True
        if self._upgraded is not None:
            self._upgraded.begin_shutdown()
            return
        for request in (self._current, *self._queue):
            if request is not None:
                request.keep_alive = False
        self._queue.clear()
        if not self._serving:
            self._close()

    def abort(self) -> None:
        """Drop the connection now and cancel its handler (end of a shutdown's grace time)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        if self.transport is not None:
            self.transport.abort()

    @property
    def task(self) -> asyncio.Task[None] | None:
        """The task running this connection's handlers, if one was started."""
        return self._task

    # flow control --------------------------------------------------------

    def _pause_reading(self, reason: int) -> None:
        if not self._read_paused and self.transport is not None and not self._closed:
            self.transport.pause_reading()
        self._read_paused |= reason

    def _resume_reading(self, reason: int) -> None:
        if not self._read_paused & reason:
            return
        self._read_paused &= ~reason
        if not self._read_paused and self.transport is not None and not self._closed:
            self.transport.resume_reading()

    def _on_deadline(self, kind: str) -> None:
        if self._closed:
            return
        if kind == _HEAD and self._reader.in_head:
            self._fail(408, "Request head not received in time")
        elif not self._serving:
            self._close()


def _body_timeout_error() -> HTTPException:
    return HTTPRequestTimeout(text="Request body not received in time")


def _expects_continue(head: RequestHead) -> bool:
    """True when the client waits for ``100 Continue`` before its body (RFC 9110 10.1.1)."""
    return head.version >= (1, 1) and head.headers.get("Expect", "").lower() == "100-continue"
