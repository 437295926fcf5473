"""Writing a hub's messages to one WebSocket without letting it slow the others.

A subscriber that keeps up gets each frame handed to its WebSocket at once, by
the publishing coroutine itself: no task, no queue. "Keeps up" means what it
says: the peer takes the bytes its transport was given, i.e. the transport has
not paused writing (its buffer is under its high-water mark). Bytes merely
coalesced by the WebSocket layer within one loop iteration do not count against
a subscriber: bounding those is the publisher's job
(:class:`~tidewire.hub.pressure.Pressure`).

A subscriber whose transport paused gets an :class:`~tidewire.hub.outbox.Outbox`
and one drain task that writes the queued frames as the peer reads them; when
the outbox is full the hub's :class:`~tidewire.hub.outbox.SlowPolicy` applies.
Once the backlog is written the task ends and the subscriber is fast again.

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
from .pressure import Pressure

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
    """Per-subscriber limits, shared by every subscriber of a hub."""

    max_queue: int
    max_queue_bytes: int
    policy: SlowPolicy
    close_code: int


class Counters:
    """What a hub did, counted since it was made."""

    __slots__ = (
        "bytes_out",
        "closed",
        "delivered",
        "dropped",
        "published",
        "recoveries",
        "recovery_failures",
    )

    def __init__(self) -> None:
        self.published = 0
        self.delivered = 0
        self.bytes_out = 0
        self.dropped = 0
        self.closed = 0
        self.recoveries = 0
        self.recovery_failures = 0


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
        "_drained",
        "_limits",
        "_nudged",
        "_on_closed",
        "_outbox",
        "_pressure",
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
        pressure: Pressure,
        on_closed: Callable[[Delivery], None],
        spawn: Callable[[Coroutine[Any, Any, Any]], None],
    ) -> None:
        self.ws = ws
        self.membership = asyncio.Lock()
        self._limits = limits
        self._counters = counters
        self._pressure = pressure
        self._on_closed = on_closed
        self._spawn = spawn
        self._outbox: Outbox[PreparedMessage] | None = None
        self._task: asyncio.Task[None] | None = None
        self._sending: PreparedMessage | None = None  # popped, being written by the drain task
        self._drained = 0  # messages the drain task wrote
        self._nudged = -1  # self._drained when the publisher was last asked to yield
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
        """Hand ``message`` to the socket now if it keeps up, else queue it (never waits).

        Keeping up: no backlog, and a transport that has not paused writing. Any
        message, however large, reaches every subscriber that keeps up.
        """
        if self._done:
            return
        ws = self.ws
        if self._task is None and not ws.writing_paused:
            try:
                ws.send_prepared_nowait(message)
            except WSConnectionClosed:
                self._finish()
                return
            counters = self._counters
            counters.delivered += 1
            counters.bytes_out += message.size
            return
        if ws.closed:
            self._finish()
            return
        self._enqueue(message)

    def _enqueue(self, message: PreparedMessage) -> None:
        limits = self._limits
        outbox = self._outbox
        if outbox is None:
            outbox = self._outbox = Outbox(limits.max_queue, limits.max_queue_bytes, limits.policy)
        before = outbox.nbytes
        if self._nudged != self._drained and (
            not before
            or 2 * len(outbox) >= limits.max_queue
            or 2 * before >= limits.max_queue_bytes
        ):
            # Backing up (first queued message), or half full while the peer still
            # reads: the publisher lets the loop run, so the drain task and the peer
            # get their turn. A reader stuck for good (no progress) asks only once.
            self._nudged = self._drained
            self._pressure.backing_up()
        result = outbox.push(message)
        self._pressure.queue(outbox.nbytes - before)
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
                self._pressure.dequeue(message.size)
                if self.ws.closed:
                    self._finish()
                    break
                self._sending = message
                try:
                    await self.ws.send_prepared(message)
                finally:
                    self._sending = None
                self._counters.delivered += 1  # only once the transport took it
                self._counters.bytes_out += message.size
                self._drained += 1
                self._pressure.progress()
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
        outbox = self._outbox
        if outbox is not None:
            self._pressure.dequeue(outbox.nbytes)
            outbox.clear()
        task = self._task
        self._task = None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
