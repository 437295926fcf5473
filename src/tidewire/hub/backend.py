"""What a hub backend does, and the in-memory backend (one process, nothing to install).

A backend carries published messages to the processes that have subscribers and
keeps the presence entries. The hub calls it; it calls the hub back through a
:class:`BackendSink`.
"""

from __future__ import annotations

import time
from typing import Protocol

from ..ws.prepared import PreparedMessage
from .history import HistoryOptions, HistorySlice, MemoryHistory, Position, Publication
from .registry import PresenceTable

__all__ = ["Backend", "BackendSink", "MemoryBackend"]


class BackendSink(Protocol):
    """The hub's side, called by the backend."""

    async def deliver(self, topic: str, message: PreparedMessage) -> None:
        """Write ``message`` to this process' subscribers of ``topic``."""

    async def deliver_publication(self, topic: str, publication: Publication) -> None:
        """Write ``publication`` (of a topic with history) to this process' subscribers.

        Must be called in offset order for each topic.
        """

    def presence_lost(self, topic: str, members: list[str]) -> None:
        """``members`` left ``topic`` because the process holding them died
        (or because the backend removed entries their process no longer holds)."""

    def presence_restored(self, topic: str, members: list[str]) -> None:
        """``members`` are back in ``topic`` after this process' presence had expired
        (other processes reported them gone; the backend wrote the entries again)."""


class Backend(Protocol):
    """Transport of messages and store of presence for a :class:`~tidewire.hub.Hub`.

    The hub calls :meth:`start` once before anything else and :meth:`close` once at
    the end. It calls :meth:`watch` before a topic's first local subscriber may
    receive and :meth:`unwatch` after its last one left (also when that
    subscriber's :meth:`leave` failed); :meth:`join` once per presence entry
    (``entry`` is unique in the process) and :meth:`leave` once for each
    successful join. One socket's calls never overlap; different sockets' calls
    may, so a backend must be safe for concurrent calls on different entries.
    """

    async def start(self, sink: BackendSink) -> None:
        """Connect; from now on deliver the watched topics' messages to ``sink``."""

    async def close(self) -> None:
        """Withdraw this process' presence entries and disconnect."""

    async def publish(self, topic: str, message: PreparedMessage) -> None:
        """Send ``message`` to every process watching ``topic`` (this one included)."""

    async def append(self, topic: str, data: str, options: HistoryOptions) -> Position:
        """Store ``data`` as ``topic``'s next publication and send it, as one atomic step.

        Every process receives the publications of a topic in offset order.
        """

    async def history(self, topic: str, after: int | None, limit: int) -> HistorySlice:
        """Read ``topic``'s history at one instant: at most ``limit`` publications
        after offset ``after``, or (``after`` None) the last ``limit`` ones."""

    async def watch(self, topic: str) -> None:
        """Receive ``topic``: when this returns, later publications reach this process.

        Called for every new subscription; must be cheap when already watching.
        """

    async def unwatch(self, topic: str) -> None:
        """Stop receiving ``topic``."""

    async def join(self, topic: str, entry: str, member: str) -> bool:
        """Add a presence entry; True if ``member`` was not present in ``topic`` before."""

    async def leave(self, topic: str, entry: str, member: str) -> bool:
        """Remove a presence entry; True if ``member`` is no longer present in ``topic``."""

    async def members(self, topic: str) -> list[str]:
        """Names present in ``topic`` (in every process), sorted."""


class MemoryBackend:
    """The default backend: one process, messages go straight to the local subscribers.

    History lives in bounded rings in this process, for at most
    ``history_topics`` topics (see :class:`~tidewire.hub.history.MemoryHistory`):
    a restart loses it, and the next publications start a new epoch.
    """

    def __init__(self, *, history_topics: int = 10_000) -> None:
        self._sink: BackendSink | None = None
        self._presence = PresenceTable()
        self._history = MemoryHistory(history_topics)

    async def start(self, sink: BackendSink) -> None:
        self._sink = sink

    async def close(self) -> None:
        self._sink = None
        self._presence = PresenceTable()
        self._history.clear()

    async def publish(self, topic: str, message: PreparedMessage) -> None:
        if self._sink is not None:
            await self._sink.deliver(topic, message)

    async def append(self, topic: str, data: str, options: HistoryOptions) -> Position:
        publication = self._history.append(topic, data, options, time.monotonic())
        if self._sink is not None:
            await self._sink.deliver_publication(topic, publication)
        return publication.position

    async def history(self, topic: str, after: int | None, limit: int) -> HistorySlice:
        return self._history.read(topic, after, limit, time.monotonic())

    def expire_history(self) -> None:
        """Free the rings of topics whose history ``ttl`` passed (the hub's sweeper calls it)."""
        self._history.expire(time.monotonic())

    async def watch(self, topic: str) -> None:
        return None

    async def unwatch(self, topic: str) -> None:
        return None

    async def join(self, topic: str, entry: str, member: str) -> bool:
        return self._presence.add(topic, member)

    async def leave(self, topic: str, entry: str, member: str) -> bool:
        return self._presence.remove(topic, member)

    async def members(self, topic: str) -> list[str]:
        return self._presence.members(topic)
