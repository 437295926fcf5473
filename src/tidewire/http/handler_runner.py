"""Running a request's handler: the one path from a handler's outcome to the client.

:class:`HandlerRunner` is a part of :class:`~.protocol.HTTPProtocol` (a mixin
that holds no state of its own): ``_handle`` awaits the handler for one request
and sends what it produced, and every failure of a handler is answered in
``_answer_failure``, nowhere else. The connection (reading, pipelining,
keep-alive) lives in :mod:`.protocol`, the upgrade hand-over in :mod:`.handover`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from .accesslog import AbstractAccessLogger
from .channel import ResponseChannel, UpgradedProtocol
from .config import ServerConfig
from .errorpages import failure_response, log_failure
from .exceptions import HTTPException
from .request import BaseRequest
from .response import Response, StreamResponse

__all__ = ["Handler", "HandlerRunner"]

server_logger = logging.getLogger("tidewire.server")

#: What serves a request: an async callable returning the response to send.
Handler = Callable[[BaseRequest], Awaitable[StreamResponse]]


class HandlerRunner:
    """Runs handlers on a connection; mixed into :class:`~.protocol.HTTPProtocol`.

    The connection must set up every attribute declared below in its
    ``__init__`` and provide ``_close()``; it awaits :meth:`_handle` once per
    request, in order, from its one task, and calls :meth:`_cancel_handler` to
    stop that task (a disconnect, the end of a shutdown).
    """

    # Connection state this part reads and writes (HTTPProtocol.__init__ sets it).
    _handler: Handler
    _config: ServerConfig
    _access_logger: AbstractAccessLogger | None
    _loop: asyncio.AbstractEventLoop
    _channel: ResponseChannel
    _current: BaseRequest | None
    _receiving: BaseRequest | None
    _error: tuple[int, str] | None
    _keep_alive: bool
    _closed: bool
    _cancelled: bool
    _upgraded: UpgradedProtocol | None
    _task: asyncio.Task[None] | None

    if TYPE_CHECKING:

        def _close(self) -> None: ...

    async def _handle(self, request: BaseRequest) -> None:
        """Run the handler for ``request`` and send what it produced.

        The one place that turns a handler's outcome into what the client gets
        (aiohttp's contract): an :class:`HTTPException` is sent as its response;
        any other exception, or a ``CancelledError`` nobody asked for, is logged
        and answered 500, or closes the connection when the response had already
        started. A cancellation of the connection's task (disconnect, shutdown)
        and ``KeyboardInterrupt``/``SystemExit`` close the connection and
        propagate. Sets ``_keep_alive`` to the verdict on the connection.
        """
        self._current = request
        self._keep_alive = False
        channel = self._channel
        channel.started = False
        if self._error is not None and request is self._receiving:
            channel.closing = True  # its body is broken: its response is the last
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
            if (
                type(response) is Response
                and not channel.started
                and not response.prepared
                and not response.streamed
            ):
                # The common case, without the two coroutines of prepare() and write_eof().
                if request.content.failed:
                    channel.closing = True  # the body cannot be read to its end: say so
                response.send_to(channel, request.head)
                if channel.writing_paused:
                    await channel.drain()
            else:
                response = await self._finish(request, response)
            self._keep_alive = response.keep_alive is True
        except ConnectionResetError as exc:
            server_logger.debug("connection ended while handling %r: %r", request, exc)
            self._close()
            return
        except asyncio.CancelledError as exc:
            if self._cancelled or self._closed:
                self._close()  # we were cancelled (disconnect, end of shutdown): stop here
                raise
            response = self._answer_failure(request, response, exc)
        except Exception as exc:
            response = self._answer_failure(request, response, exc)
        except BaseException:
            self._close()  # KeyboardInterrupt, SystemExit: leave no client waiting
            raise
        finally:
            self._current = None
        if logger is not None and response is not None:
            logger.log(request, response, self._loop.time() - started)

    async def _finish(self, request: BaseRequest, response: object) -> StreamResponse:
        """Send what a handler returned, unless it already did; the response sent."""
        if isinstance(response, HTTPException):
            response = response.to_response()
        if not isinstance(response, StreamResponse):
            raise TypeError(f"handler returned {type(response).__name__}, not a response")
        if not response.prepared:
            channel = self._channel
            if channel.started:
                raise RuntimeError("a response was already started for this request")
            if request.content.failed:
                channel.closing = True  # the body cannot be read to its end: say so
            await response.prepare(request)
        await response.write_eof()
        return response

    def _answer_failure(
        self, request: BaseRequest, response: StreamResponse | None, exc: BaseException
    ) -> StreamResponse | None:
        """Log a handler's failure; answer it if no response has started, else close.

        The answer is :func:`~.errorpages.failure_response`'s: 504 for a handler's
        ``TimeoutError``, else 500, as HTML when the client accepts it.
        """
        log_failure(self._config.logger, request, exc)
        if self._upgraded is not None:
            self._upgraded.handler_failed()
            return response
        if self._closed or self._channel.started:
            # Part of a response is out: the client can only learn of the failure
            # from the connection closing before the response is complete.
            self._close()
            return response
        failure = failure_response(request, exc, debug=self._config.debug)
        try:
            failure.send_to(self._channel, request.head)
        except ConnectionResetError:
            self._close()
            return None
        self._keep_alive = failure.keep_alive is True
        return failure

    def _cancel_handler(self) -> None:
        """Cancel the connection's task if it runs (the handler sees ``CancelledError``)."""
        task = self._task
        if task is not None and not task.done():
            self._cancelled = True
            task.cancel()
