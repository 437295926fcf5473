"""The bounded outgoing queue of one slow subscriber, and the policy applied when it is full.

Pure logic: no sockets, no event loop. The caller (the hub's delivery code) pushes
frames that could not be written to the transport right away, pops them when the
transport can take more, and acts on what :meth:`Outbox.push` reports.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum
from typing import Generic, Protocol, TypeVar

__all__ = ["Outbox", "PushResult", "Sized", "SlowPolicy"]


class SlowPolicy(str, Enum):
    """What the hub does to a subscriber whose outbox is full.

    - ``DROP_OLDEST``: discard the oldest queued messages to make room; the
      subscriber misses them but stays connected (fine for state that the next
      message supersedes: prices, positions, presence).
    - ``CLOSE``: close the connection (1013 "try again later" by default); the
      client reconnects and catches up from a snapshot (fine for chat logs, where
      a silent gap would mislead).
    """

    DROP_OLDEST = "drop_oldest"
    CLOSE = "close"


class Sized(Protocol):
    """Anything queued in an outbox: it tells its size in bytes."""

    @property
    def size(self) -> int: ...


ItemT = TypeVar("ItemT", bound=Sized)


@dataclass(frozen=True, slots=True)
class PushResult:
    """What :meth:`Outbox.push` did.

    ``queued`` is False when the pushed item itself was not kept; ``dropped`` counts
    the items discarded by this push (the pushed one included when it was not
    kept); ``must_close`` tells the caller to close the subscriber now (``CLOSE``
    policy): the outbox is already emptied.
    """

    queued: bool
    dropped: int = 0
    must_close: bool = False


_QUEUED = PushResult(True)


class Outbox(Generic[ItemT]):
    """A FIFO of at most ``max_messages`` items and ``max_bytes`` bytes (or one larger item).

    The caller must:

    - call :meth:`push` for every item the transport could not take right away,
      and keep writing through the outbox (never around it) until it is empty,
      so that order is kept;
    - when ``push`` returns ``must_close``, close the connection: nothing more is
      queued after that (every later push returns ``must_close`` too);
    - :meth:`pop` items in order while the transport accepts them.
    """

    __slots__ = ("_bytes", "_closed", "_items", "max_bytes", "max_messages", "policy")

    def __init__(self, max_messages: int, max_bytes: int, policy: SlowPolicy) -> None:
        if max_messages < 1 or max_bytes < 1:
            raise ValueError("outbox limits must be positive")
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self.policy = SlowPolicy(policy)
        self._items: deque[ItemT] = deque()
        self._bytes = 0
        self._closed = False

    def __len__(self) -> int:
        return len(self._items)

    @property
    def nbytes(self) -> int:
        """Bytes queued (the sum of the items' ``size``)."""
        return self._bytes

    @property
    def overflowed(self) -> bool:
        """True once the ``CLOSE`` policy was triggered."""
        return self._closed

    def push(self, item: ItemT) -> PushResult:
        """Queue ``item``, applying the policy if the limits would be exceeded.

        An empty outbox takes any one item, however large: the byte bound is then
        that one item, and a message bigger than ``max_bytes`` is still delivered
        to a subscriber that keeps up.
        """
        if self._closed:
            return PushResult(False, 1, True)
        size = item.size
        items = self._items
        if not items or (len(items) < self.max_messages and self._bytes + size <= self.max_bytes):
            items.append(item)
            self._bytes += size
            return _QUEUED
        if self.policy is SlowPolicy.CLOSE:
            dropped = len(items) + 1
            self.clear()
            self._closed = True
            return PushResult(False, dropped, True)
        dropped = 0
        while items and (len(items) >= self.max_messages or self._bytes + size > self.max_bytes):
            self._bytes -= items.popleft().size
            dropped += 1
        items.append(item)
        self._bytes += size
        return PushResult(True, dropped)

    def pop(self) -> ItemT | None:
        """The oldest item, removed; ``None`` when empty."""
        if not self._items:
            return None
        item = self._items.popleft()
        self._bytes -= item.size
        return item

    def clear(self) -> int:
        """Drop everything queued; returns how many items were dropped."""
        count = len(self._items)
        self._items.clear()
        self._bytes = 0
        return count
