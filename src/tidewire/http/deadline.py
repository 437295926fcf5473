"""One deadline per connection, re-armed lazily so moving it costs no timer churn."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["Deadline"]

_INF = float("inf")


class Deadline:
    """Calls ``on_expire(kind)`` once the deadline set last passes.

    :meth:`set` is cheap enough for every request: moving the deadline later
    only updates a float, and the single pending timer re-arms itself when it
    fires early. Only moving it earlier replaces the timer.
    """

    __slots__ = ("_loop", "_on_expire", "_timer", "_when", "kind")

    def __init__(self, loop: asyncio.AbstractEventLoop, on_expire: Callable[[str], None]) -> None:
        self._loop = loop
        self._on_expire = on_expire
        self._timer: asyncio.TimerHandle | None = None
        self._when = _INF
        self.kind = ""

    def set(self, kind: str, seconds: float | None) -> None:
        """Expire ``seconds`` from now with ``kind`` (``None``: never)."""
        self.kind = kind
        if seconds is None:
            self._when = _INF
            return
        when = self._when = self._loop.time() + seconds
        timer = self._timer
        if timer is not None:
            if timer.when() <= when:
                return  # fires first, then re-arms for the later deadline
            timer.cancel()
        self._timer = self._loop.call_at(when, self._fire)

    def cancel(self) -> None:
        """Never expire (the connection is gone)."""
        self._when = _INF
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fire(self) -> None:
        self._timer = None
        if self._when == _INF:
            return
        if self._loop.time() < self._when:
            self._timer = self._loop.call_at(self._when, self._fire)
            return
        self._when = _INF
        self._on_expire(self.kind)
