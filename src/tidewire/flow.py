"""Write-side flow control shared by every protocol: wait while the transport is full."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["WriteFlow"]


class WriteFlow:
    """Mirrors the transport's ``pause_writing``/``resume_writing`` for writers.

    The protocol must call :meth:`pause` and :meth:`resume` from those callbacks
    and :meth:`fail` from ``connection_lost``; writers await :meth:`drain` after
    writing, which returns at once unless the transport's buffer is above its
    high-water mark.
    """

    __slots__ = ("_error", "_make_error", "_waiters", "paused")

    def __init__(self, make_error: Callable[[], BaseException]) -> None:
        self.paused = False
        self._waiters: list[asyncio.Future[None]] = []
        self._error: BaseException | None = None
        self._make_error = make_error

    def pause(self) -> None:
        """The transport's buffer went above its high-water mark."""
        self.paused = True

    def resume(self) -> None:
        """The transport's buffer went below its low-water mark: release the writers."""
        self.paused = False
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def fail(self) -> None:
        """The connection is gone: waiting and later writers get the error."""
        self._error = self._make_error()
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_exception(self._make_error())

    async def drain(self) -> None:
        """Return when the transport can take more (raises once the connection is gone)."""
        if self._error is not None:
            raise self._make_error()
        if not self.paused:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        await waiter
