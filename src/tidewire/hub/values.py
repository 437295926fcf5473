"""Small values the hub hands to applications: presence changes, statistics, the JSON encoder."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["HubStats", "PresenceCallback", "PresenceChange", "compact_json"]


@dataclass(frozen=True, slots=True)
class PresenceChange:
    """Names that appeared in (``joined``) or disappeared from (``left``) a topic's presence."""

    topic: str
    joined: tuple[str, ...] = ()
    left: tuple[str, ...] = ()


PresenceCallback = Callable[[PresenceChange], Awaitable[None]]


def compact_json(value: Any) -> str:
    """JSON without spaces, non-ASCII kept as is (the hub's default ``dumps``)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class HubStats:
    """A snapshot of a hub's counters (this process only).

    ``published``: :meth:`Hub.publish` calls; ``delivered``/``bytes_out``: frames
    (and their bytes) handed to a transport; ``dropped``: frames
    discarded by the slow-consumer policy (``drop_oldest``, or the backlog of a
    subscriber closed by ``close``); ``closed``: subscribers closed by the
    ``close`` policy; ``slow``: subscribers with a backlog right now, holding
    ``queued_messages``/``queued_bytes`` (the frame being written included);
    ``recoveries``/``recovery_failures``: subscriptions with ``since`` that got
    every missed publication, or could not; ``publish_waits``: fan-outs that
    waited for slow subscribers' backlogs to shrink.
    """

    published: int
    delivered: int
    bytes_out: int
    dropped: int
    closed: int
    recoveries: int
    recovery_failures: int
    publish_waits: int
    subscribers: int
    topics: int
    slow: int
    queued_messages: int
    queued_bytes: int
