"""What ``Response(body=...)`` accepts, and how a streamed body is sent.

:func:`plan_body` classifies a body, as aiohttp's ``Response`` accepts them:

- ``bytes``, ``bytearray``, ``memoryview``: in memory, ``application/octet-stream``;
- ``str``: encoded with the response charset (UTF-8 by default), ``text/plain``;
- a file object (anything with ``read``): streamed in chunks, never read
  whole; ``Content-Length`` is the bytes left from its position when that can
  be known (a real file, a seekable stream), else the body is chunked. A file
  with a name gets the ``Content-Type`` guessed from it and
  ``Content-Disposition: attachment; filename=...`` (aiohttp does the same).
  Text files are encoded with the charset. The response closes the file once
  sent;
- an async iterable of bytes: sent chunked as it yields,
  ``application/octet-stream``.

:func:`send_streamed` writes a streamed body through a prepared response.
"""

from __future__ import annotations

import asyncio
import io
import mimetypes
import os
from collections.abc import AsyncIterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .streamresponse import StreamResponse

__all__ = ["CHUNK_SIZE", "BodyPlan", "charset_param", "plan_body", "send_streamed"]

#: Bytes read from a file body at a time.
CHUNK_SIZE = 64 * 1024


@dataclass(frozen=True)
class BodyPlan:
    """A classified body: ``data`` in memory, or a ``stream`` (file or async iterable).

    ``content_type`` is the default type (``None``: none), ``length`` the
    streamed size when known, ``filename`` the name a file body carries.
    """

    data: bytes | None
    stream: Any = None
    length: int | None = None
    content_type: str | None = None
    filename: str | None = None
    text: bool = False


def charset_param(content_type: str) -> str | None:
    """The ``charset`` parameter of a ``Content-Type`` value, lower case, or ``None``."""
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip('"').lower() or None
    return None


def plan_body(body: object, charset: str) -> BodyPlan:
    """Classify ``body`` (see the module doc); ``TypeError`` for anything else."""
    if isinstance(body, bytes):
        return BodyPlan(body, content_type="application/octet-stream")
    if isinstance(body, bytearray | memoryview):
        return BodyPlan(bytes(body), content_type="application/octet-stream")
    if isinstance(body, str):
        return BodyPlan(body.encode(charset), content_type="text/plain", text=True)
    if hasattr(body, "read"):
        return _plan_file(body)
    if isinstance(body, AsyncIterable):
        return BodyPlan(None, body, None, "application/octet-stream")
    raise TypeError(
        "body must be str, bytes, bytearray, memoryview, a file object or an async "
        f"iterable of bytes, not {type(body).__name__}"
    )


def _plan_file(file: Any) -> BodyPlan:
    text = isinstance(file, io.TextIOBase)
    name = getattr(file, "name", None)
    filename = os.path.basename(name) if isinstance(name, str) and name else None
    content_type = "text/plain" if text else "application/octet-stream"
    if filename is not None:
        guessed, _ = mimetypes.guess_type(filename)
        content_type = guessed or content_type
    return BodyPlan(None, file, None if text else _remaining(file), content_type, filename, text)


def _remaining(file: Any) -> int | None:
    """Bytes left to read from a binary file, or ``None`` when that cannot be known."""
    try:
        position: int = file.tell()
        size: int
        try:
            size = os.fstat(file.fileno()).st_size
        except (AttributeError, OSError, io.UnsupportedOperation):
            if not file.seekable():
                return None
            size = file.seek(0, os.SEEK_END)
            file.seek(position)
        return max(0, size - position)
    except (AttributeError, OSError, ValueError):
        return None


def _has_descriptor(file: Any) -> bool:
    try:
        file.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        return False
    return True


async def send_streamed(
    response: StreamResponse, plan: BodyPlan, charset: str, send_body: bool
) -> None:
    """Write ``plan``'s stream through the prepared ``response``; closes a file body.

    With ``send_body`` False (HEAD, 204, 304) nothing is read. A body that ends
    before the announced ``length`` raises ``ConnectionResetError`` (the server
    then closes the connection, the only way to tell the client); one that is
    longer is cut at ``length``.
    """
    stream = plan.stream
    try:
        if not send_body:
            return
        if hasattr(stream, "read"):
            await _send_file(response, stream, plan.length, charset)
        else:
            async for chunk in stream:
                await response.write(chunk.encode(charset) if isinstance(chunk, str) else chunk)
    finally:
        close = getattr(stream, "close", None)
        if hasattr(stream, "read") and close is not None:
            close()


async def _send_file(response: StreamResponse, file: Any, length: int | None, charset: str) -> None:
    loop = asyncio.get_running_loop()
    # A real file may block on the disk: read it in a worker thread.
    threaded = _has_descriptor(file)
    remaining = length if length is not None else -1
    while remaining != 0:
        size = CHUNK_SIZE if remaining < 0 else min(CHUNK_SIZE, remaining)
        if threaded:
            chunk = await loop.run_in_executor(None, file.read, size)
        else:
            chunk = file.read(size)
        if not chunk:
            if remaining > 0:
                raise ConnectionResetError("file body ended before its Content-Length")
            return
        data = chunk.encode(charset) if isinstance(chunk, str) else chunk
        if remaining > 0:
            remaining -= len(data)
        await response.write(data)
