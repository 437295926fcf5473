"""The request body as an async stream, with flow control back to the socket.

The protocol feeds a :class:`BodyStream` as body bytes arrive; the handler
reads it. Above ``high_water`` buffered bytes the stream asks the protocol to
stop reading from the socket, and below half of it to resume, so a client can
never make the server hold more unread body than ``high_water`` plus one socket
read (asyncio reads at most 256 KiB at a time).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable

__all__ = ["EMPTY_BODY", "BodyStream"]


class BodyStream:
    """Readable request body (aiohttp's ``request.content``).

    Reads raise what :meth:`set_exception` was given (a disconnect, a framing
    error), or ``timeout_error(message)`` when, while a reader waits, no byte
    arrived for ``timeout`` seconds or the body arrives slower than ``min_rate``
    bytes per second on average; at end of body they return ``b""``.

    The rate is measured from the first time a reader waits (bytes that arrived
    before count in the client's favour), after ``rate_grace`` seconds, and the
    time during which the server itself stopped reading (its buffer was full)
    does not count: the body must have reached ``min_rate * (t - rate_grace)``
    bytes at ``t`` seconds of reading. This bounds what a client that drips its
    body (R.U.D.Y.) costs, which ``timeout`` alone does not: it restarts with
    every byte.
    """

    def __init__(
        self,
        *,
        high_water: int = 256 * 1024,
        pause_reading: Callable[[], None] | None = None,
        resume_reading: Callable[[], None] | None = None,
        on_first_read: Callable[[], None] | None = None,
        timeout: float | None = None,
        min_rate: float | None = None,
        rate_grace: float = 0.0,
        timeout_error: Callable[[str], BaseException] | None = None,
    ) -> None:
        self._chunks: deque[bytes] = deque()
        self._size = 0
        self._eof = False
        self._exception: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._high_water = high_water
        self._pause_reading = pause_reading
        self._resume_reading = resume_reading
        self._on_first_read = on_first_read
        self._timeout = timeout
        self._timeout_error = timeout_error or asyncio.TimeoutError
        self._min_rate = min_rate
        self._rate_grace = rate_grace
        self._rate_start: float | None = None  # when a reader first waited, shifted by pauses
        self._paused_at = 0.0
        self._paused = False
        self.total_bytes = 0

    # feeding side (the protocol) ---------------------------------------------------

    def feed_data(self, data: bytes) -> None:
        """Append body bytes; may pause reading from the socket."""
        if not data:
            return
        self._chunks.append(data)
        self._size += len(data)
        self.total_bytes += len(data)
        self._wake()
        if self._size > self._high_water and not self._paused and self._pause_reading:
            self._pause()

    def _pause(self) -> None:
        self._paused = True
        if self._rate_start is not None:
            self._paused_at = asyncio.get_running_loop().time()
        if self._pause_reading is not None:
            self._pause_reading()

    def _resume(self) -> None:
        self._paused = False
        if self._rate_start is not None:
            # The client could not send while we did not read: stop its clock meanwhile.
            self._rate_start += asyncio.get_running_loop().time() - self._paused_at
        if self._resume_reading is not None:
            self._resume_reading()

    def feed_eof(self) -> None:
        """Mark the end of the body."""
        self._eof = True
        self._wake()

    def set_exception(self, exc: BaseException) -> None:
        """Make pending and later reads raise ``exc``."""
        self._exception = exc
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        self._waiter = None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # reading side (the handler) ----------------------------------------------------

    def at_eof(self) -> bool:
        """True when the body is complete and everything was read."""
        return self._eof and not self._chunks

    def is_eof(self) -> bool:
        """True when the whole body was received (maybe not read yet)."""
        return self._eof

    async def _wait(self) -> None:
        if self._exception is not None:
            raise self._exception
        if self._on_first_read is not None:
            callback, self._on_first_read = self._on_first_read, None
            callback()
        if self._chunks or self._eof:
            return
        loop = asyncio.get_running_loop()
        timeout = self._timeout
        message = "Request body not received in time"
        if self._min_rate is not None:
            now = loop.time()
            if self._rate_start is None:
                self._rate_start = now
            # When the bytes received so far stop being enough for the rate.
            due = self._rate_start + self._rate_grace + self.total_bytes / self._min_rate
            if due <= now:
                exc = self._timeout_error("Request body sent too slowly")
                self.set_exception(exc)
                raise exc
            if timeout is None or due - now < timeout:
                timeout = due - now
                message = "Request body sent too slowly"
        waiter = loop.create_future()
        self._waiter = waiter
        timer = None
        if timeout is not None:
            timer = loop.call_later(timeout, self._expire, waiter, message)
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()

    def _expire(self, waiter: asyncio.Future[None], message: str) -> None:
        if not waiter.done():
            self.set_exception(self._timeout_error(message))

    @property
    def failed(self) -> bool:
        """True once the body cannot be read to its end (timeout, disconnect, bad framing)."""
        return self._exception is not None

    def _take(self, limit: int) -> bytes:
        """Remove and return at most ``limit`` bytes (``-1``: everything buffered)."""
        chunks = self._chunks
        if limit < 0 or limit >= self._size:
            data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            chunks.clear()
        else:
            parts = []
            need = limit
            while need:
                chunk = chunks[0]
                if len(chunk) <= need:
                    parts.append(chunks.popleft())
                    need -= len(chunk)
                else:
                    parts.append(chunk[:need])
                    chunks[0] = chunk[need:]
                    need = 0
            data = b"".join(parts)
        self._size -= len(data)
        if self._paused and self._size <= self._high_water // 2:
            self._resume()
        return data

    async def readany(self) -> bytes:
        """Return whatever is buffered (waiting for at least one byte), ``b""`` at end."""
        while not self._chunks:
            if self._eof:
                return b""
            await self._wait()
        return self._take(-1)

    async def read(self, n: int = -1) -> bytes:
        """Read up to ``n`` bytes, or to the end of the body when ``n`` is negative."""
        if n < 0:
            parts: list[bytes] = []
            while True:
                chunk = await self.readany()
                if not chunk:
                    return b"".join(parts)
                parts.append(chunk)
        while not self._chunks:
            if self._eof or n == 0:
                return b""
            await self._wait()
        return self._take(n)

    async def readexactly(self, n: int) -> bytes:
        """Read exactly ``n`` bytes; raises ``asyncio.IncompleteReadError`` at an early end."""
        parts: list[bytes] = []
        got = 0
        while got < n:
            chunk = await self.read(n - got)
            if not chunk:
                raise asyncio.IncompleteReadError(b"".join(parts), n)
            parts.append(chunk)
            got += len(chunk)
        return b"".join(parts)

    async def readline(self, *, max_line_size: int = 65536) -> bytes:
        """Read up to and including ``\\n`` (or to the end); ``ValueError`` past the limit."""
        parts: list[bytes] = []
        size = 0
        while True:
            while not self._chunks:
                if self._eof:
                    return b"".join(parts)
                await self._wait()
            chunk = self._chunks[0]
            end = chunk.find(b"\n")
            piece = self._take(len(chunk) if end < 0 else end + 1)
            parts.append(piece)
            size += len(piece)
            if size > max_line_size:
                raise ValueError("line too long")
            if end >= 0:
                return b"".join(parts)

    async def iter_chunked(self, n: int) -> AsyncIterator[bytes]:
        """Yield pieces of at most ``n`` bytes until the end."""
        while chunk := await self.read(n):
            yield chunk

    async def iter_any(self) -> AsyncIterator[bytes]:
        """Yield what arrives, as it arrives, until the end."""
        while chunk := await self.readany():
            yield chunk

    def __aiter__(self) -> AsyncIterator[bytes]:
        """Iterate over lines, like aiohttp's ``async for line in request.content``."""
        return self._lines()

    async def _lines(self) -> AsyncIterator[bytes]:
        while line := await self.readline():
            yield line

    def unread_size(self) -> int:
        """Bytes buffered and not read yet."""
        return self._size

    def discard(self) -> None:
        """Drop everything buffered (the handler is done with the body)."""
        self._chunks.clear()
        self._size = 0
        if self._paused:
            self._resume()


def _empty() -> BodyStream:
    stream = BodyStream()
    stream.feed_eof()
    return stream


#: The stream of a request that has no body; shared, always at end.
EMPTY_BODY = _empty()
