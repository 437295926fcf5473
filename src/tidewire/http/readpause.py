"""Why a connection's reading is paused: one bit per reason, resumed at zero.

Several parts of :class:`~.protocol.HTTPProtocol` stop the socket for their own
reason (a full body buffer, a full pipeline queue, an upgrade being decided, a
request that could not be read) and each lifts only its own: the transport
reads again once no reason is left. :class:`ReadPausing` is that bookkeeping,
a mixin of ``HTTPProtocol`` that holds no state of its own.
"""

from __future__ import annotations

import asyncio

__all__ = ["PAUSE_BODY", "PAUSE_DONE", "PAUSE_PIPELINE", "PAUSE_UPGRADE", "ReadPausing"]

#: The request body's buffer is above its high-water mark.
PAUSE_BODY = 1
#: The queue of pipelined requests is full.
PAUSE_PIPELINE = 2
#: An upgrade request's handler has not yet accepted or declined.
PAUSE_UPGRADE = 4
#: A request could not be read: nothing more is read on this connection.
PAUSE_DONE = 8


class ReadPausing:
    """Pauses and resumes the transport's reading by reason.

    The connection must set ``transport``, ``_closed`` and ``_read_paused``
    (zero: reading) in its ``__init__``, and pause or resume only through
    these two methods, which touch the transport only on a change to or from zero.
    """

    transport: asyncio.Transport | None
    _closed: bool
    _read_paused: int

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
