"""The seam between a topic's history and its live publications, for one subscription.

A subscription that recovers is registered (it receives live publications)
*before* the history is read, so nothing published meanwhile can fall between
the two. Until the history has been sent, its live publications wait in a list;
then :meth:`Replays.finish` sends the history, and of the waiting publications
only those after the history's last offset: no gap, no duplicate.

Pure bookkeeping: the hub does the I/O and calls these methods in order
(:meth:`~Replays.begin`, the fan-out consults :meth:`~Replays.waiting`, then
:meth:`~Replays.finish` or :meth:`~Replays.end`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable
from typing import Protocol

from ..ws.prepared import PreparedMessage
from .history import HistorySlice, Position, Publication, Recovery, check_recovery

__all__ = ["Replays", "json_envelope"]


def json_envelope(topic: str, publication: Publication) -> str:
    """The default message of a topic with history (JSON text; ``data`` is the published value).

    ``{"topic": "...", "epoch": "...", "offset": 12, "data": ...}``: a client keeps
    the last ``epoch``/``offset`` it saw and sends them back when it reconnects.
    """
    position = publication.position
    return (
        f'{{"topic":{json.dumps(topic, ensure_ascii=False)},"epoch":{json.dumps(position.epoch)},'
        f'"offset":{position.offset},"data":{publication.data}}}'
    )


class Sender(Hashable, Protocol):
    """A subscriber, as the seam sees it: something that sends frames in order."""

    def send(self, message: PreparedMessage) -> None: ...


Held = list[tuple[Publication, PreparedMessage]]


class Replays:
    """Subscriptions whose history is being read, with their waiting live publications."""

    def __init__(self) -> None:
        self._waiting: dict[str, dict[Sender, Held]] = {}

    def begin(self, topic: str, subscriber: Sender) -> None:
        """From now on, hold ``subscriber``'s live publications of ``topic``."""
        self._waiting.setdefault(topic, {})[subscriber] = []

    def waiting(self, topic: str) -> dict[Sender, Held] | None:
        """The subscribers of ``topic`` whose publications must be held (fan-out calls it)."""
        return self._waiting.get(topic)

    def end(self, topic: str, subscriber: Sender) -> Held:
        """Stop holding; returns what was held (the caller decides what to send)."""
        waiting = self._waiting.get(topic)
        if waiting is None:
            return []
        held = waiting.pop(subscriber, [])
        if not waiting:
            del self._waiting[topic]
        return held

    @staticmethod
    def recovery(since: Position, window: HistorySlice) -> Recovery:
        """Whether ``window`` (read after ``since.offset``) covers what was missed."""
        reason = check_recovery(since, window)
        if reason is not None:
            return Recovery(False, window.position, reason=reason)
        return Recovery(True, window.position, missed=len(window.publications))

    def finish(
        self,
        topic: str,
        subscriber: Sender,
        window: HistorySlice | None,
        frame: Callable[[str, Publication], PreparedMessage],
        after: int = -1,
    ) -> int:
        """Send ``window``'s publications, then the held ones that follow; stop holding.

        A held publication is sent unless it is of the window's epoch and not
        after the last one sent (or ``after``, the offset the client already
        has): each publication reaches the subscriber once. With no ``window``
        (the read failed) every held publication is sent. Returns how many came
        from ``window``.
        """
        held = self.end(topic, subscriber)
        epoch, last = None, after
        if window is not None:
            epoch = window.epoch
            for publication in window.publications:
                subscriber.send(frame(topic, publication))
            if window.publications:
                last = max(last, window.publications[-1].position.offset)
        for publication, message in held:
            position = publication.position
            if position.epoch != epoch or position.offset > last:
                subscriber.send(message)
        return len(window.publications) if window is not None else 0
