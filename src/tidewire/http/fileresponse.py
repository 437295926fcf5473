"""Serving a file: :class:`FileResponse`, aiohttp's ``web.FileResponse``.

The decisions (validators, preconditions, ranges, which precompressed sibling)
are pure functions in :mod:`.validators`; this module opens the file, sends the
head, and moves the bytes: with ``loop.sendfile`` (the kernel copies the file
to the socket) when the transport supports it, else in ``chunk_size`` reads
written with flow control (TLS, uvloop, or a response the handler asked to
compress). The file is closed whatever happens, a client that goes away
mid-file included.
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
import stat
from collections.abc import Iterable, Mapping
from typing import IO, TYPE_CHECKING

from .streamresponse import StreamResponse
from .validators import choose_precompressed, evaluate, last_modified_header, make_etag

if TYPE_CHECKING:
    from .request import BaseRequest

__all__ = ["FileResponse"]

_HeadersArg = Mapping[str, str] | Iterable[tuple[str, str]] | None
#: Set ``TIDEWIRE_NOSENDFILE=1`` to always use the chunked-read path (as aiohttp's
#: ``AIOHTTP_NOSENDFILE``).
NOSENDFILE = bool(os.environ.get("TIDEWIRE_NOSENDFILE"))

_Opened = tuple[IO[bytes], os.stat_result, "str | None", bool]


def _open_file(path: str, siblings: list[tuple[str, str]]) -> _Opened:
    """Open ``path``, or the first precompressed sibling in ``siblings`` that is a file.

    Returns the open file, its ``stat``, the content coding (``None`` for the
    file itself) and whether any sibling exists (so the answer varies with
    Accept-Encoding). Raises ``FileNotFoundError`` / ``PermissionError``; a
    path that is not a regular file raises ``PermissionError`` (aiohttp's 403).
    Runs in a worker thread.
    """
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise PermissionError(f"not a regular file: {path}")
    varies = any(os.path.isfile(path + suffix) for suffix, _ in _ALL_SIBLINGS)
    for suffix, coding in siblings:
        try:
            file = open(path + suffix, "rb")  # noqa: SIM115 (closed by the response)
        except OSError:
            continue
        info = os.fstat(file.fileno())
        if stat.S_ISREG(info.st_mode):
            return file, info, coding, varies
        file.close()
    file = open(path, "rb")  # noqa: SIM115 (closed by the response)
    info = os.fstat(file.fileno())
    if not stat.S_ISREG(info.st_mode):
        file.close()
        raise PermissionError(f"not a regular file: {path}")
    return file, info, None, varies


_ALL_SIBLINGS = choose_precompressed("*")


#: The media type of a compressed file itself (``x.tar.gz`` is sent as what it is: gzip).
_COMPRESSED_TYPES = {
    "gzip": "application/gzip",
    "br": "application/x-brotli",
    "bzip2": "application/x-bzip2",
    "compress": "application/x-compress",
    "xz": "application/x-xz",
}


def content_type_for(path: str) -> str:
    """The ``Content-Type`` of the file at ``path``, from its name (as aiohttp chooses it).

    A name whose last suffix is a compression (``.gz``, ``.br``, ``.bz2``, ``.Z``,
    ``.xz``) is that compression's type: the bytes are sent as they are stored,
    without a ``Content-Encoding`` that would make a client decode them.
    """
    media_type, encoding = mimetypes.guess_type(path)
    if encoding is not None:
        return _COMPRESSED_TYPES.get(encoding, "application/octet-stream")
    return media_type or "application/octet-stream"


def _close_opened(future: asyncio.Future[_Opened]) -> None:
    """Close the file a cancelled open produced (no descriptor outlives its request)."""
    if not future.cancelled() and future.exception() is None:
        future.result()[0].close()


class FileResponse(StreamResponse):
    """A response that sends the file at ``path`` (aiohttp's ``web.FileResponse``).

    On :meth:`prepare` it answers, from the request and the file:

    - 404 with no body when the file does not exist, 403 when it cannot be read
      or is not a regular file (as aiohttp documents);
    - ``ETag`` (``"<mtime_ns hex>-<size hex>"``) and ``Last-Modified`` on every answer;
    - 412 when ``If-Match`` / ``If-Unmodified-Since`` fail, 304 when
      ``If-None-Match`` / ``If-Modified-Since`` say the client's copy is current;
    - 206 with ``Content-Range`` for one satisfiable byte range (``If-Range``
      honoured), 416 with ``Content-Range: bytes */size`` for an unsatisfiable
      one; a request for several ranges gets the whole file (200), as RFC 9110
      section 14.2 allows;
    - the ``.br`` or ``.gz`` sibling (``Content-Encoding`` set, ``Content-Type``
      still from ``path``) when one exists and ``Accept-Encoding`` accepts it,
      with ``Vary: Accept-Encoding`` whenever a sibling exists;
    - ``Content-Type`` from the file name (``mimetypes``; ``application/octet-stream``
      when unknown) unless the caller set one; for HEAD, the head only.

    The body is sent with ``loop.sendfile`` when possible, else read in
    ``chunk_size`` pieces. The file is always closed when :meth:`prepare` returns
    or raises.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        chunk_size: int = 256 * 1024,
        status: int = 200,
        reason: str | None = None,
        headers: _HeadersArg = None,
    ) -> None:
        super().__init__(status=status, reason=reason, headers=headers)
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        self._path = os.fspath(path)
        self._chunk_size = chunk_size

    async def prepare(self, request: BaseRequest) -> None:
        """Answer ``request`` with the file (or a 304/404/403/412/416); sends the whole body.

        Calling it again does nothing. A client that disconnects mid-file raises
        ``ConnectionResetError`` (the server then closes the connection).
        """
        if self.prepared:
            return
        loop = asyncio.get_running_loop()
        siblings = choose_precompressed(request.headers.get("Accept-Encoding", ""))
        opening = loop.run_in_executor(None, _open_file, self._path, siblings)
        try:
            file, info, coding, varies = await asyncio.shield(opening)
        except asyncio.CancelledError:
            opening.add_done_callback(_close_opened)
            raise
        except PermissionError:
            await self._answer_empty(request, 403)
            return
        except OSError:
            await self._answer_empty(request, 404)
            return
        try:
            await self._answer_file(request, file, info, coding, varies)
        finally:
            file.close()

    async def _answer_empty(self, request: BaseRequest, status: int) -> None:
        self.set_status(status)
        self.content_length = 0
        await super().prepare(request)

    async def _answer_file(
        self,
        request: BaseRequest,
        file: IO[bytes],
        info: os.stat_result,
        coding: str | None,
        varies: bool,
    ) -> None:
        headers = self.headers
        size = info.st_size
        etag = make_etag(info.st_mtime_ns, size)
        headers["ETag"] = etag
        headers["Last-Modified"] = last_modified_header(info.st_mtime)
        if varies:
            headers.add("Vary", "Accept-Encoding")
        if coding is not None:
            headers["Content-Encoding"] = coding
            self._compression = False  # already encoded: never encode twice
        if "Content-Type" not in headers:
            headers["Content-Type"] = content_type_for(self._path)
        headers.setdefault("Accept-Ranges", "bytes")
        selection = evaluate(request.method, request.headers, etag, info.st_mtime, size)
        if selection.status in (304, 412, 416):
            self.set_status(selection.status)
            if selection.status == 416:
                headers["Content-Range"] = f"bytes */{size}"
            self.content_length = 0
            await super().prepare(request)
            return
        start, end = selection.start, selection.end
        if selection.status == 206:
            self.set_status(206)
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
        self.content_length = end - start
        await super().prepare(request)
        if request.method != "HEAD" and end > start:
            await self._send_file(request, file, start, end - start)
        await self.write_eof()

    async def _send_file(
        self, request: BaseRequest, file: IO[bytes], offset: int, count: int
    ) -> None:
        """Send ``count`` bytes of ``file`` from ``offset``: sendfile, else chunked reads.

        Either way the bytes count against the ``Content-Length`` promise
        (:meth:`StreamResponse._count_body`), as :meth:`write` counts them.
        """
        if not NOSENDFILE and not self.compression:
            self._count_body(count)
            if await request.channel.sendfile(file, offset, count):
                return
            self._uncount_body(count)  # nothing was sent: the chunks count as they go
        await self._send_chunks(file, offset, count)

    async def _send_chunks(self, file: IO[bytes], offset: int, count: int) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, file.seek, offset)
        remaining = count
        while remaining > 0:
            chunk = await loop.run_in_executor(None, file.read, min(self._chunk_size, remaining))
            if not chunk:
                # The file shrank under us: the promised Content-Length cannot be kept.
                raise ConnectionResetError("file ended before its announced length")
            remaining -= len(chunk)
            await self.write(chunk)

    def __repr__(self) -> str:
        return f"<FileResponse {self._path!r} {self.status}>"
