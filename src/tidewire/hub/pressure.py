"""How many bytes the hub has handed out that the event loop has not written yet.

A publisher that never yields (``for ...: await hub.publish(...)`` with the memory
backend) would otherwise keep every frame it makes in per-connection buffers: the
WebSocket layer writes the frames queued in one loop iteration at the end of that
iteration. Two numbers decide when the fan-out must let the loop run:

- ``unflushed``: bytes handed to sockets since the loop last ran. Above
  ``high_water``, or older than ``max_delay`` seconds, the fan-out yields once, so
  the connections write them (one ``send()`` per socket for the whole batch) and
  readers in this process get to read. So does a fan-out during which a
  subscriber that still reads is backing up (see :meth:`Pressure.backing_up`).
  The first fan-out of a burst yields at
  once: the first frames leave after one fan-out, the later ones in batches at
  most ``max_delay`` old. A burst starts when the publisher had let the loop
  flush by itself (not through this rule) at least ``max_delay`` earlier.
- ``queued``: bytes in the outboxes of subscribers whose transport is full. Above
  ``high_water``, the fan-out also waits (at most ``max_wait`` seconds) until the
  drain tasks bring them under ``high_water / 2``. A wait that timed out with no
  drain progress is not repeated until some outbox drains again: readers that
  are stuck for good (their backlogs bounded by the slow-consumer policy) do
  not slow every publication down.

The caller must call :meth:`start` before and :meth:`handed` after each
fan-out, keep :attr:`queued` up to date (:meth:`queue`/:meth:`dequeue`), and
``await relieve()`` when :meth:`must_yield` says so.
"""

from __future__ import annotations

import asyncio

__all__ = ["Pressure"]


class Pressure:
    """Outgoing bytes of one hub, and the rule that bounds them (see the module doc).

    ``high_water`` (bytes), ``max_delay`` and ``max_wait`` (seconds) are the
    hub's ``publish_high_water``, ``max_delay`` and ``publish_max_wait`` options.
    """

    __slots__ = (
        "_backing_up",
        "_eager",
        "_flushed_at",
        "_loop",
        "_natural",
        "_relieving",
        "_reset_pending",
        "_since",
        "_stalled",
        "_waiter",
        "_wake_on_progress",
        "high_water",
        "max_delay",
        "max_wait",
        "queued",
        "unflushed",
        "waits",
    )

    def __init__(self, high_water: int, max_delay: float, max_wait: float) -> None:
        if high_water < 1 or max_delay < 0 or max_wait < 0:
            raise ValueError("high_water must be positive, max_delay and max_wait not negative")
        self.high_water = high_water
        self.max_delay = max_delay
        self.max_wait = max_wait
        self.unflushed = 0
        self.queued = 0
        self.waits = 0  # fan-outs that had to wait for slow subscribers' backlogs
        self._since = 0.0
        self._flushed_at = float("-inf")
        self._eager = False
        self._backing_up = False
        self._natural = True  # the last batch was flushed without relieve()
        self._relieving = False
        self._stalled = False
        self._wake_on_progress = False
        self._reset_pending = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiter: asyncio.Future[None] | None = None

    def start(self) -> None:
        """Call before a fan-out: the first one since the loop last ran starts the clock."""
        if not self._reset_pending:
            loop = self._loop
            if loop is None:
                loop = self._loop = asyncio.get_running_loop()
            now = self._since = loop.time()
            self._eager = self._natural and now - self._flushed_at >= self.max_delay
            self._reset_pending = True
            # Runs in the next loop iteration, with the connections' own flushes.
            loop.call_soon(self._flushed)

    def handed(self, nbytes: int) -> None:
        """Count ``nbytes`` handed to sockets by one fan-out (written or queued)."""
        self.unflushed += nbytes

    def _flushed(self) -> None:
        self.unflushed = 0
        self._reset_pending = False
        self._backing_up = False
        self._natural = not self._relieving
        loop = self._loop
        if loop is not None:
            self._flushed_at = loop.time()

    def must_yield(self) -> bool:
        """True when the fan-out must ``await relieve()`` before returning."""
        if self.queued >= self.high_water and not self._stalled:
            return True
        if not self.unflushed:
            return False
        if self.unflushed >= self.high_water or self._eager or self._backing_up:
            return True
        loop = self._loop
        return loop is not None and loop.time() - self._since >= self.max_delay

    def queue(self, nbytes: int) -> None:
        """``nbytes`` more (or, negative, fewer) in the slow subscribers' outboxes."""
        self.queued += nbytes

    def backing_up(self) -> None:
        """A subscriber is backing up: its transport paused (its outbox got its first
        item), or its outbox is half full while its peer still reads.

        The fan-out then lets the loop run at once, so that the peer's reads and
        the drain task get their turn before the backlog fills up.
        """
        self._backing_up = True

    def dequeue(self, nbytes: int) -> None:
        """``nbytes`` left an outbox; wakes a waiting fan-out below half ``high_water``."""
        self.queued -= nbytes
        self._stalled = False
        waiter = self._waiter
        if waiter is not None and self.queued < self.high_water // 2 and not waiter.done():
            waiter.set_result(None)

    def progress(self) -> None:
        """A drain task wrote a message: its peer reads (wakes a fan-out waiting for that)."""
        self._stalled = False
        waiter = self._waiter
        if waiter is not None and self._wake_on_progress and not waiter.done():
            waiter.set_result(None)

    async def relieve(self) -> None:
        """Let the loop write what was handed out; wait (bounded) for backlogs.

        One loop iteration always; then, while the outboxes hold at least
        ``high_water`` bytes (until they fall under half of it) or when a
        subscriber is backing up (until a drain task wrote a message, see
        :meth:`progress`), up to ``max_wait`` seconds more.
        """
        nudged = self._backing_up
        self._relieving = True
        try:
            await asyncio.sleep(0)
        finally:
            self._relieving = False
        if self.max_wait <= 0 or self._stalled:
            return
        if self.queued < self.high_water and not nudged:
            return
        self._wake_on_progress = nudged
        loop = asyncio.get_running_loop()
        waiter = self._waiter
        if waiter is None or waiter.done():
            waiter = self._waiter = loop.create_future()
        self.waits += 1
        try:
            await asyncio.wait_for(asyncio.shield(waiter), self.max_wait)
        except asyncio.TimeoutError:
            self._stalled = True  # no drain brought it down: wait again only after one does
        finally:
            self._wake_on_progress = False
            if self._waiter is waiter and waiter.done():
                self._waiter = None
