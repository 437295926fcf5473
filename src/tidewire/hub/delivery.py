"""Writing a hub's messages to one WebSocket without letting it slow the others.

A subscriber that keeps up gets each frame written to its transport at once, by
the publishing coroutine itself: no task, no queue. A subscriber whose transport
buffer is filling up gets an :class:`~tidewire.hub.outbox.Outbox` and one drain
task that writes the queued frames as the peer reads them; when the outbox is
full the hub's :class:`~tidewire.hub.outbox.SlowPolicy` applies. Once the backlog
is written the task ends and the subscriber is fast again.

Memory per subscriber is therefore bounded, whatever the publishing rate: the
outbox limits, plus what the WebSocket layer holds before it pauses writing (the
transport's high-water mark and one batch of coalesced writes).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from ..ws.messages import WSCloseCode, WSConnectionClosed
from ..ws.prepared import PreparedMessage
from .outbox import Outbox, SlowPolicy

__all__ = ["Counters", "Delivery", "DeliveryLimits", "HubSocket"]

logger = logging.getLogger("tidewire.hub")


class HubSocket(Protocol):
    """What the hub needs from a WebSocket (``WebSocketResponse`` has it all)."""

    @property
    def prepared(self) -> bool: ...

    @property
    def closed(self) -> bool: ...

    @property
    def writing_paused(self) -> bool: ...

    @property
    def write_buffer_size(self) -> int: ...

    async def send_prepared(self, message: PreparedMessage) -> None: ...

    def send_prepared_nowait(self, message: PreparedMessage) -> None: ...

    async def close(self, *, code: int = WSCloseCode.OK, message: bytes | str = b"") -> bool: ...


@dataclass(frozen=True, slots=True)
class DeliveryLimits:
    """Per-subscriber limits, shared by every subscriber of a hub.

    ``write_limit`` must not exceed the transport's write high-water mark (64 KiB
    for plain TCP and 512 KiB for TLS, in asyncio and uvloop alike; tidewire keeps
    the defaults): what the fast path queues with ``send_prepared_nowait`` then stays
    within what the transport takes without pausing.
    """

    write_limit: int
    max_queue: int
    max_queue_bytes: int
    policy: SlowPolicy
    close_code: int


class Counters:
    """What a hub did, counted since it was made."""

    __slots__ = ("closed", "delivered", "dropped", "published")

    def __init__(self) -> None:
        self.published = 0
        self.delivered = 0
        self.dropped = 0
        self.closed = 0


class Delivery:
    """Sends frames to one socket, in order, within the limits.

    The caller must call :meth:`send` for each frame, :meth:`stop` when the socket
    leaves the hub, and drop the delivery once :attr:`done` is True (closed socket,
    or closed by the ``CLOSE`` policy; ``on_closed`` is then called once).
    ``spawn`` runs a background coroutine (the policy's close) and keeps it alive.
    The hub holds :attr:`membership` while it changes the socket's subscriptions,
    so that a subscribe, an unsubscribe and the removal of a closed socket never
    interleave their backend calls.
    """

    __slots__ = (
        "_counters",
        "_done",
        "_limits",
        "_on_closed",
        "_outbox",
        "_sending",
        "_spawn",
        "_task",
        "membership",
        "ws",
    )

    def __init__(
        self,
        ws: HubSocket,
        limits: DeliveryLimits,
        counters: Counters,
        on_closed: Callable[[Delivery], None],
        spawn: Callable[[Coroutine[Any, Any, Any]], None],
    ) -> None:
        self.ws = ws
        self.membership = asyncio.Lock()
        self._limits = limits
        self._counters = counters
        self._on_closed = on_closed
        self._spawn = spawn
        self._outbox: Outbox[PreparedMessage] | None = None
        self._task: asyncio.Task[None] | None = None
        self._sending: PreparedMessage | None = None  # popped, being written by the drain task
        self._done = False

    @property
    def done(self) -> bool:
        """True once nothing more can be sent (the socket is closing or closed)."""
        return self._done or self.ws.closed

    @property
    def backlog(self) -> tuple[int, int]:
        """Messages and bytes waiting in the outbox (within its limits)."""
        outbox = self._outbox
        return (len(outbox), outbox.nbytes) if outbox is not None else (0, 0)

    @property
    def pending(self) -> tuple[int, int]:
        """Messages and bytes not written yet: the backlog, and the one being written."""
        messages, size = self.backlog
        sending = self._sending
        return (messages + 1, size + sending.size) if sending is not None else (messages, size)

    def send(self, message: PreparedMessage) -> None:
        """Write ``message`` now if the socket keeps up, else queue it (never waits).

        A message larger than ``write_limit`` (or ``max_queue_bytes``) is written
        at once to a socket with nothing buffered, or queued alone in an empty
        outbox: a big message reaches every subscriber that keeps up.
        """
        if self._done:
            return
        ws = self.ws
        if ws.closed:
            self._finish()
            return
        buffered = ws.write_buffer_size
        if (
            self._task is None
            and not ws.writing_paused
            and (buffered == 0 or buffered + message.size <= self._limits.write_limit)
        ):
            # The socket keeps up (no backlog, room in its buffer, or an empty buffer
            # whatever the message's size): write now, with no task and no queue.
            try:
                ws.send_prepared_nowait(message)
            except WSConnectionClosed:
                self._finish()
                return
            self._counters.delivered += 1
            return
        self._enqueue(message)

    def _enqueue(self, message: PreparedMessage) -> None:
        limits = self._limits
        outbox = self._outbox
        if outbox is None:
            outbox = self._outbox = Outbox(limits.max_queue, limits.max_queue_bytes, limits.policy)
        result = outbox.push(message)
        self._counters.dropped += result.dropped
        if result.must_close:
            self._close_slow()
        elif self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        """Write the backlog, waiting for the peer to read whenever the transport is full."""
        outbox = self._outbox
        assert outbox is not None
        try:
            while not self._done:
                message = outbox.pop()
                if message is None:
                    break
                if self.ws.closed:
                    self._finish()
                    break
                self._sending = message
                try:
                    await self.ws.send_prepared(message)
                finally:
                    self._sending = None
                self._counters.delivered += 1  # only once the transport took it
        except WSConnectionClosed:
            self._finish()
        finally:
            if self._task is asyncio.current_task():
                self._task = None

    def _close_slow(self) -> None:
        """The ``CLOSE`` policy: stop sending, close the socket in the background."""
        logger.info("closing a slow subscriber with %d", self._limits.close_code)
        self._counters.closed += 1
        self._finish()
        self._spawn(self.ws.close(code=self._limits.close_code, message="slow consumer"))

    def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        self.stop()
        self._on_closed(self)

    def stop(self) -> None:
        """Discard the backlog and stop the drain task (the socket left the hub)."""
        if self._outbox is not None:
            self._outbox.clear()
        task = self._task
        self._task = None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
