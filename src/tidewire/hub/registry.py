"""Who is subscribed to what, in one process: topics, subscriptions and presence counts.

Pure logic: subscribers are any hashable handle (the hub uses its per-connection
delivery object), so tests need no sockets. The hub keeps one
:class:`TopicRegistry`; the in-memory backend keeps one :class:`PresenceTable`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["PresenceTable", "Subscription", "TopicChange", "TopicRegistry"]

SubT = TypeVar("SubT", bound=Hashable)


@dataclass(frozen=True, slots=True)
class Subscription(Generic[SubT]):
    """``subscriber`` receives ``topic``; with a ``member`` name it counts in presence.

    ``entry`` is unique in the registry: backends use it to tell two presence
    entries with the same member name apart (one person, two tabs).
    """

    subscriber: SubT
    topic: str
    member: str | None
    entry: str


@dataclass(frozen=True, slots=True)
class TopicChange(Generic[SubT]):
    """One subscription added (``added``) or removed.

    ``edge`` is True when the topic went from no local subscriber to one (on add)
    or from one to none (on remove): the caller must then start or stop listening
    to the topic in its backend.
    """

    subscription: Subscription[SubT]
    added: bool
    edge: bool


class TopicRegistry(Generic[SubT]):
    """Subscriptions by topic and by subscriber.

    The caller must apply every returned :class:`TopicChange` to its backend (watch
    or unwatch the topic on ``edge``, add or remove the presence entry when
    ``subscription.member`` is set), in the order the changes are returned.
    """

    def __init__(self) -> None:
        self._by_topic: dict[str, dict[SubT, Subscription[SubT]]] = {}
        self._by_subscriber: dict[SubT, dict[str, Subscription[SubT]]] = {}
        self._fanout: dict[str, tuple[SubT, ...]] = {}
        self._next_entry = 0

    def add(self, subscriber: SubT, topic: str, member: str | None) -> list[TopicChange[SubT]]:
        """Subscribe ``subscriber`` to ``topic``.

        Subscribing again to the same topic replaces the member name: the result
        then holds the removal of the old subscription before the new one.
        Returns an empty list when nothing changed (same topic, same member).
        """
        changes: list[TopicChange[SubT]] = []
        current = self._by_subscriber.get(subscriber, {}).get(topic)
        if current is not None:
            if current.member == member:
                return changes
            changes.append(self._discard(current))
        self._next_entry += 1
        subscription = Subscription(subscriber, topic, member, f"{self._next_entry:x}")
        subscribers = self._by_topic.setdefault(topic, {})
        edge = not subscribers
        subscribers[subscriber] = subscription
        self._by_subscriber.setdefault(subscriber, {})[topic] = subscription
        self._fanout.pop(topic, None)
        changes.append(TopicChange(subscription, True, edge))
        return changes

    def remove(self, subscriber: SubT, topic: str) -> TopicChange[SubT] | None:
        """Unsubscribe ``subscriber`` from ``topic``; ``None`` if it was not subscribed."""
        current = self._by_subscriber.get(subscriber, {}).get(topic)
        return self._discard(current) if current is not None else None

    def remove_all(self, subscriber: SubT) -> list[TopicChange[SubT]]:
        """Unsubscribe ``subscriber`` from every topic (its connection is gone)."""
        subscriptions = list(self._by_subscriber.get(subscriber, {}).values())
        return [self._discard(subscription) for subscription in subscriptions]

    def _discard(self, subscription: Subscription[SubT]) -> TopicChange[SubT]:
        topic, subscriber = subscription.topic, subscription.subscriber
        subscribers = self._by_topic[topic]
        del subscribers[subscriber]
        edge = not subscribers
        if edge:
            del self._by_topic[topic]
        mine = self._by_subscriber[subscriber]
        del mine[topic]
        if not mine:
            del self._by_subscriber[subscriber]
        self._fanout.pop(topic, None)
        return TopicChange(subscription, False, edge)

    def subscribers(self, topic: str) -> tuple[SubT, ...]:
        """The subscribers of ``topic`` (a snapshot, cached until the topic changes).

        Only topics with subscribers are cached: publishing to any number of
        empty topics costs no memory.
        """
        fanout = self._fanout.get(topic)
        if fanout is None:
            subscribers = self._by_topic.get(topic)
            if subscribers is None:
                return ()
            fanout = self._fanout[topic] = tuple(subscribers)
        return fanout

    def subscriptions_of(self, subscriber: SubT) -> list[Subscription[SubT]]:
        """The subscriptions of ``subscriber``."""
        return list(self._by_subscriber.get(subscriber, {}).values())

    def topics(self) -> list[str]:
        """Topics with at least one subscriber."""
        return list(self._by_topic)

    def __contains__(self, subscriber: object) -> bool:
        return subscriber in self._by_subscriber

    def __len__(self) -> int:
        """The number of subscribers."""
        return len(self._by_subscriber)


class PresenceTable:
    """Member names present in each topic, counted (one person may have several sockets).

    :meth:`add` and :meth:`remove` say whether the name appeared or disappeared,
    which is what join/leave notices need.
    """

    def __init__(self) -> None:
        self._counts: dict[str, Counter[str]] = {}

    def add(self, topic: str, member: str) -> bool:
        """Count one more entry for ``member``; True if it was not present before."""
        counts = self._counts.setdefault(topic, Counter())
        counts[member] += 1
        return counts[member] == 1

    def remove(self, topic: str, member: str) -> bool:
        """Count one entry less for ``member``; True if it is no longer present."""
        counts = self._counts.get(topic)
        if counts is None or counts[member] <= 0:
            return False
        counts[member] -= 1
        if counts[member]:
            return False
        del counts[member]
        if not counts:
            del self._counts[topic]
        return True

    def members(self, topic: str) -> list[str]:
        """The names present in ``topic``, sorted."""
        return sorted(self._counts.get(topic, ()))
