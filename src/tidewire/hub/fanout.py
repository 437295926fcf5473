"""The publishing path of a hub: frame once, hand to every subscriber, let the loop breathe.

:class:`Fanout` turns published values into frames (once per publication and
process), hands them to each subscriber's :class:`~tidewire.hub.delivery.Delivery`,
holds the live publications of subscriptions that are still reading their
history (:class:`~tidewire.hub.recovery.Replays`), and applies the hub's
:class:`~tidewire.hub.pressure.Pressure` after each fan-out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ..ws.prepared import PreparedMessage
from .backend import Backend
from .delivery import Counters, Delivery
from .history import HistoryOptions, HistorySlice, Position, Publication, Recovery
from .pressure import Pressure
from .recovery import Replays
from .registry import TopicRegistry

__all__ = ["Envelope", "Fanout", "HistoryRule"]

logger = logging.getLogger("tidewire.hub")

#: Turns a publication of a topic with history into the message its subscribers get.
Envelope = Callable[[str, Publication], "str | bytes"]
#: Which topics keep history: one :class:`HistoryOptions` for all, or a function of the topic.
HistoryRule = HistoryOptions | Callable[[str], HistoryOptions | None]


class Fanout:
    """Publishing for one hub (the hub owns it; applications use :class:`Hub`).

    ``registry`` is the hub's; the caller must replace :attr:`registry` when it
    replaces its own. ``history`` and ``envelope`` are the hub's options of the
    same names, ``dumps`` its JSON encoder.
    """

    def __init__(
        self,
        registry: TopicRegistry[Delivery],
        pressure: Pressure,
        dumps: Callable[[Any], str],
        history: HistoryRule | None,
        envelope: Envelope,
    ) -> None:
        self.registry = registry
        self.pressure = pressure
        self.replays = Replays()
        self._dumps = dumps
        self._history = history
        self._envelope = envelope

    def prepare(self, data: Any) -> PreparedMessage:
        """Frame ``data`` once: str as TEXT, bytes as BINARY, anything else as JSON TEXT."""
        if isinstance(data, PreparedMessage):
            return data
        if isinstance(data, str):
            return PreparedMessage.encode(data)
        if isinstance(data, bytes | bytearray | memoryview):
            return PreparedMessage.encode(bytes(data))
        return PreparedMessage.encode(self._dumps(data))

    def options(self, topic: str) -> HistoryOptions | None:
        """The history options of ``topic`` (``None``: no history)."""
        rule = self._history
        if rule is None or isinstance(rule, HistoryOptions):
            return rule
        return rule(topic)

    def frame(self, topic: str, publication: Publication) -> PreparedMessage:
        """The frame of ``publication`` (the hub's envelope applied, framed once)."""
        return self.prepare(self._envelope(topic, publication))

    async def deliver(self, topic: str, message: PreparedMessage) -> None:
        """Hand ``message`` to this process' subscribers of ``topic``."""
        subscribers = self.registry.subscribers(topic)
        if not subscribers:
            return
        pressure = self.pressure
        pressure.start()
        for delivery in subscribers:
            delivery.send(message)
        pressure.handed(message.size * len(subscribers))
        if pressure.must_yield():
            await pressure.relieve()

    async def deliver_publication(self, topic: str, publication: Publication) -> None:
        """Hand ``publication`` to the subscribers of ``topic`` (held for those recovering)."""
        subscribers = self.registry.subscribers(topic)
        if not subscribers:
            return
        message = self.frame(topic, publication)
        pressure = self.pressure
        pressure.start()
        waiting = self.replays.waiting(topic)
        if waiting is None:
            for delivery in subscribers:
                delivery.send(message)
        else:
            for delivery in subscribers:
                held = waiting.get(delivery)
                if held is None:
                    delivery.send(message)
                else:
                    held.append((publication, message))
        pressure.handed(message.size * len(subscribers))
        if pressure.must_yield():
            await pressure.relieve()

    async def recover(
        self,
        backend: Backend,
        counters: Counters,
        delivery: Delivery,
        topic: str,
        options: HistoryOptions,
        since: Position | None,
        recent: int,
    ) -> Recovery:
        """Send the missed (or recent) publications, then those that arrived meanwhile.

        The caller must have called ``replays.begin(topic, delivery)`` before
        subscribing ``delivery`` (so nothing published meanwhile is lost); this
        ends it. ``counters`` counts the recovery served or failed.
        """
        replays = self.replays
        try:
            if since is not None:
                window = await backend.history(topic, since.offset, options.size)
                recovery = replays.recovery(since, window)
                if not recovery.recovered:
                    # Never the publications after a gap: the recent ones, or none.
                    window = (
                        await backend.history(topic, None, min(recent, options.size))
                        if recent > 0
                        else HistorySlice(window.epoch, window.top, window.first)
                    )
            else:
                window = await backend.history(topic, None, min(recent, options.size))
                recovery = Recovery(False, window.position, reason=None)
        except Exception:
            logger.exception("reading the history of %r failed", topic)
            window = None
            recovery = Recovery(False, None, reason="unavailable")
        after = since.offset if since is not None and recovery.recovered else -1
        sent = replays.finish(topic, delivery, window, self.frame, after)
        if since is not None:
            if recovery.recovered:
                counters.recoveries += 1
            else:
                counters.recovery_failures += 1
        if recovery.recovered or window is None:
            return recovery
        return Recovery(False, window.position, replayed=sent, reason=recovery.reason)
