"""Per-topic history: positions, the in-memory ring, and the recovery decision.

Pure logic, no sockets and no event loop (the caller passes the clock). A topic
with history gives each publication an :class:`Position`: an ``offset`` that
increases by one per publication, within an ``epoch`` that changes whenever the
history may have been lost (a new process holding it, an expired or flushed
Redis key). A client that kept the last position it saw can ask for what it
missed; :func:`check_recovery` says whether the retained window still covers it.
"""

from __future__ import annotations

import uuid
from collections import deque
from dataclasses import dataclass, field

__all__ = [
    "HistoryOptions",
    "HistorySlice",
    "MemoryHistory",
    "Position",
    "Publication",
    "Recovery",
    "check_recovery",
    "new_epoch",
]


def new_epoch() -> str:
    """A fresh random epoch (12 hex digits)."""
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True, slots=True)
class Position:
    """Where a topic's stream was: ``offset`` (the last publication seen) in ``epoch``.

    Offsets start at 1; ``offset`` 0 means "before the first publication".
    """

    epoch: str
    offset: int


@dataclass(frozen=True, slots=True)
class Publication:
    """One publication of a topic with history: its position and its JSON text."""

    position: Position
    data: str


@dataclass(frozen=True, slots=True)
class HistoryOptions:
    """Keep the last ``size`` publications of a topic, for ``ttl`` seconds after the last one.

    ``ttl`` ``None`` keeps them as long as the backend lives (the memory backend:
    the process; Redis: until evicted or flushed). ``size`` must be at least 1.
    """

    size: int
    ttl: float | None = None

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError("history size must be at least 1")
        if self.ttl is not None and self.ttl <= 0:
            raise ValueError("history ttl must be positive (or None)")


@dataclass(frozen=True, slots=True)
class HistorySlice:
    """What a backend read from a topic's history, all at one instant.

    ``epoch`` is ``None`` when the topic has no history (never published, or
    lost); ``top`` is the offset of its last publication; ``first`` the offset
    of the oldest one retained (``None`` when none is); ``publications`` are in
    offset order.
    """

    epoch: str | None
    top: int
    first: int | None
    publications: list[Publication] = field(default_factory=list)

    @property
    def position(self) -> Position | None:
        """The stream's position when it was read (``None`` without history)."""
        return Position(self.epoch, self.top) if self.epoch is not None else None


@dataclass(frozen=True, slots=True)
class Recovery:
    """What :meth:`Hub.subscribe` did for a topic with history.

    ``recovered`` is True when every publication after ``since`` was (or will be)
    delivered, with no gap: ``missed`` of them came from the history. When False,
    ``reason`` says why (``"epoch"``: the history was lost since, ``"window"``:
    the missed publications are no longer retained, ``"position"``: ``since`` is
    ahead of the stream) and the application must reload its state (from its
    database) instead; ``replayed`` recent publications may then have been sent
    if it asked for them. ``position`` is where the stream stood when the
    subscription took over (``None`` while the topic has no history): every
    later publication reaches the socket live.
    """

    recovered: bool
    position: Position | None
    missed: int = 0
    replayed: int = 0
    reason: str | None = None


def check_recovery(since: Position, history: HistorySlice) -> str | None:
    """``None`` when ``history`` holds everything after ``since``, else the reason it does not.

    ``history`` must have been read from offset ``since.offset + 1`` on.
    """
    if history.epoch is None or history.epoch != since.epoch:
        return "epoch"
    if since.offset > history.top or since.offset < 0:
        return "position"
    if since.offset == history.top:
        return None
    publications = history.publications
    if not publications or publications[0].position.offset != since.offset + 1:
        return "window"
    return None


class _Ring:
    """One topic's retained publications."""

    __slots__ = ("epoch", "expires", "items", "top")

    def __init__(self, size: int) -> None:
        self.epoch = new_epoch()
        self.top = 0
        self.items: deque[Publication] = deque(maxlen=size)
        self.expires: float | None = None


class MemoryHistory:
    """Bounded rings of publications, one per topic, in this process.

    The caller must pass a monotonic clock reading as ``now``, and call
    :meth:`expire` from time to time so that topics past their ``ttl`` free
    their memory (a read or an append also notices an expired topic). Memory is
    bounded by ``size`` publications per topic and ``max_topics`` topics: past
    that, the topic published to least recently loses its history (its next
    publication starts a new epoch, so recovering from it fails cleanly).
    """

    def __init__(self, max_topics: int = 10_000) -> None:
        if max_topics < 1:
            raise ValueError("max_topics must be at least 1")
        self.max_topics = max_topics
        self._rings: dict[str, _Ring] = {}

    def append(self, topic: str, data: str, options: HistoryOptions, now: float) -> Publication:
        """Store ``data`` as the next publication of ``topic`` and return it."""
        ring = self._live(topic, now)
        if ring is None or ring.items.maxlen != options.size:
            ring = self._resize(topic, ring, options.size)
        else:  # most recently published last: the first one is the one to evict
            del self._rings[topic]
            self._rings[topic] = ring
        ring.top += 1
        publication = Publication(Position(ring.epoch, ring.top), data)
        ring.items.append(publication)
        ring.expires = now + options.ttl if options.ttl is not None else None
        return publication

    def read(self, topic: str, after: int | None, limit: int, now: float) -> HistorySlice:
        """Publications after offset ``after`` (at most ``limit``), or the last ``limit``."""
        ring = self._live(topic, now)
        if ring is None:
            return HistorySlice(None, 0, None)
        items = ring.items
        first = items[0].position.offset if items else None
        if after is None:
            selected = list(items)[-limit:] if limit > 0 else []
        else:
            start = max(0, after + 1 - first) if first is not None else 0
            selected = [items[index] for index in range(start, min(len(items), start + limit))]
        return HistorySlice(ring.epoch, ring.top, first, selected)

    def expire(self, now: float) -> None:
        """Forget the topics whose ``ttl`` passed."""
        for topic in [t for t, ring in self._rings.items() if _expired(ring, now)]:
            del self._rings[topic]

    def clear(self) -> None:
        """Forget everything (the next publications start new epochs)."""
        self._rings.clear()

    def _live(self, topic: str, now: float) -> _Ring | None:
        ring = self._rings.get(topic)
        if ring is not None and _expired(ring, now):
            del self._rings[topic]
            return None
        return ring

    def _resize(self, topic: str, ring: _Ring | None, size: int) -> _Ring:
        new = _Ring(size)
        if ring is not None:  # same stream, same epoch: keep the newest items
            new.epoch, new.top = ring.epoch, ring.top
            new.items.extend(ring.items)
            del self._rings[topic]
        elif len(self._rings) >= self.max_topics:
            del self._rings[next(iter(self._rings))]
        self._rings[topic] = new
        return new


def _expired(ring: _Ring, now: float) -> bool:
    return ring.expires is not None and now >= ring.expires
