"""A request's body on its way in: from the parser's chunks to the request's stream.

:class:`BodyIntake` is a part of :class:`~.protocol.HTTPProtocol` (a mixin that
holds no state of its own): it makes each request's :class:`~.streams.BodyStream`
with the server's limits, feeds it the body chunks the reader delivers
(``on_body``, ``on_message_complete`` of :class:`~.parser.RequestSink`), pauses
reading while the stream is full, sends ``100 Continue`` when the handler
first reads, and counts the bytes of a body being discarded after its
response. Making the request from its head and queueing it is
:mod:`.protocol`'s part.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from .channel import ResponseChannel
from .config import ServerConfig
from .decodingstream import body_stream_type
from .exceptions import HTTPException, exception_for_status
from .parser import RequestHead
from .readpause import PAUSE_BODY
from .request import BaseRequest
from .streams import BodyStream

__all__ = ["BodyIntake", "expects_continue"]


class BodyIntake:
    """Feeds request bodies; mixed into :class:`~.protocol.HTTPProtocol`.

    The connection must set up every attribute declared below in its
    ``__init__`` and provide ``_close()`` and the :class:`~.readpause.ReadPausing`
    methods. ``_receiving`` is the request whose body is being read;
    ``_discard_budget`` is ``None`` unless a body is being discarded (the
    connection closes when more than the budget arrives).
    """

    # Connection state this part reads and writes (HTTPProtocol.__init__ sets it).
    _config: ServerConfig
    _channel: ResponseChannel
    _current: BaseRequest | None
    _receiving: BaseRequest | None
    _discard_budget: int | None

    if TYPE_CHECKING:

        def _close(self) -> None: ...

        def _pause_reading(self, reason: int) -> None: ...

        def _resume_reading(self, reason: int) -> None: ...

    def on_body(self, chunk: bytes) -> None:
        budget = self._discard_budget
        if budget is None:
            assert self._receiving is not None
            self._receiving.content.feed_data(chunk)
            return
        budget -= len(chunk)
        self._discard_budget = budget
        if budget < 0:
            self._close()

    def on_message_complete(self) -> None:
        receiving = self._receiving
        if receiving is not None:
            receiving.content.feed_eof()
            self._receiving = None
        self._discard_budget = None

    def _make_body_stream(self, head: RequestHead) -> BodyStream:
        config = self._config
        make = body_stream_type(head.headers) if config.auto_decompress else BodyStream
        return make(
            high_water=config.read_buffer_limit,
            pause_reading=self._pause_body,
            resume_reading=self._resume_body,
            on_first_read=self._send_continue if expects_continue(head) else None,
            timeout=config.body_timeout,
            min_rate=config.min_body_rate,
            rate_grace=config.body_rate_grace,
            timeout_error=_body_timeout_error,
        )

    def _pause_body(self) -> None:
        self._pause_reading(PAUSE_BODY)

    def _resume_body(self) -> None:
        self._resume_reading(PAUSE_BODY)

    def _send_continue(self) -> None:
        channel = self._channel
        if self._current is not None and not channel.started:
            with contextlib.suppress(ConnectionResetError):
                channel.send(b"HTTP/1.1 100 Continue\r\n\r\n")  # interim: not the response
                channel.started = False


def _body_timeout_error(message: str) -> HTTPException:
    return exception_for_status(408, message)


def expects_continue(head: RequestHead) -> bool:
    """True when the client waits for ``100 Continue`` before its body (RFC 9110 10.1.1)."""
    return head.version >= (1, 1) and head.headers.get("Expect", "").lower() == "100-continue"
