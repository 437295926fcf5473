"""Streaming ``multipart/*`` bodies (RFC 2046 section 5.1, RFC 7578): aiohttp's reader API.

:class:`MultipartReader` hands out the parts of a body one at a time, and each
:class:`BodyPartReader` its content in chunks, so that an upload of any size
can go to disk without being held in memory. The byte-level parsing is
python-multipart's ``MultipartParser`` (a push parser); this module turns its
callbacks into a pull API: the reader reads at most ``chunk_size`` bytes from
the body at a time and parses them only when the application asks for more.

Limits: part headers are bounded by the parser (count and size per part);
:func:`~.forms.read_form` (what ``request.post()`` uses) bounds the number of
fields and the total size. The reader itself bounds nothing in total: the caller
streaming an upload decides where it goes and how much it accepts.
"""

from __future__ import annotations

import base64
import binascii
import json
import quopri
import re
from collections import deque
from collections.abc import AsyncIterator, Mapping
from email.message import Message
from email.utils import collapse_rfc2231_value
from typing import Any, Protocol
from urllib.parse import parse_qsl

from multidict import CIMultiDict, CIMultiDictProxy
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser

from .decompress import DecodeError, decoder_for
from .exceptions import HTTPBadRequest

__all__ = ["BodyPartReader", "ByteSource", "MultipartReader"]

_HEADERS, _DATA, _PART_END, _END = range(4)
#: Most header fields in one part, and the longest header line (python-multipart's limits).
MAX_PART_HEADERS = 16
MAX_PART_HEADER_SIZE = 8192


class ByteSource(Protocol):
    """Where a reader takes body bytes from (``request.content``, or an enclosing part)."""

    async def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes; ``b""`` at the end."""


# ; name=value, the value a token or a quoted-string (RFC 9110 section 5.6.6)
_PARAM = re.compile(r';\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')
_QUOTED_PAIR = re.compile(r"\\(.)")


def _header_params(value: str) -> tuple[str, dict[str, str]]:
    """A header's value and parameters, RFC 2231 (``filename*=``) ones decoded."""
    main, sep, rest = value.partition(";")
    if "*=" in rest:  # RFC 2231 extended parameters: the email package knows them
        message = Message()
        message["x"] = value
        pairs = message.get_params(header="x", unquote=True) or []
        params = {key.lower(): collapse_rfc2231_value(val) for key, val in pairs[1:]}
        return main.strip().lower(), params
    params = {}
    for match in _PARAM.finditer(sep + rest):
        raw = match.group(2).strip()
        if len(raw) >= 2 and raw[0] == '"' and raw[-1] == '"':
            raw = raw[1:-1]
            if "\\" in raw:
                raw = _QUOTED_PAIR.sub(r"\1", raw)
        params[match.group(1).lower()] = raw
    return main.strip().lower(), params


class _Engine:
    """python-multipart's parser driven by pulls: events come out as the reader asks."""

    def __init__(self, source: ByteSource, boundary: str, chunk_size: int) -> None:
        if not boundary or len(boundary) > 70:  # RFC 2046 section 5.1.1
            raise HTTPBadRequest(text="Missing or invalid multipart boundary")
        self._source = source
        self._chunk_size = chunk_size
        self._events: deque[tuple[int, Any]] = deque()
        self._header_lines: list[tuple[str, str]] = []
        self._field = bytearray()
        self._value = bytearray()
        self._ended = False
        # Bytes before the first delimiter (RFC 2046 preamble), which the parser refuses.
        self._delimiter: bytes | None = b"--" + boundary.encode("latin-1")
        self._preamble = b""
        self._parser = MultipartParser(
            boundary.encode("latin-1"),
            {
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
                "on_end": self._on_end,
            },
            max_header_count=MAX_PART_HEADERS,
            max_header_size=MAX_PART_HEADER_SIZE,
        )

    # parser callbacks --------------------------------------------------------------

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _on_header_end(self) -> None:
        name = self._field.decode("latin-1").strip()
        value = self._value.decode("utf-8", "replace").strip()
        self._header_lines.append((name, value))
        self._field.clear()
        self._value.clear()

    def _on_headers_finished(self) -> None:
        headers = CIMultiDictProxy(CIMultiDict(self._header_lines))
        self._header_lines = []
        self._events.append((_HEADERS, headers))

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if end > start:
            self._events.append((_DATA, data[start:end]))

    def _on_part_end(self) -> None:
        self._events.append((_PART_END, None))

    def _on_end(self) -> None:
        self._ended = True
        self._events.append((_END, None))

    # pulling -----------------------------------------------------------------------

    async def next_event(self) -> tuple[int, Any]:
        """The next parse event, reading and parsing at most ``chunk_size`` bytes at a time."""
        events = self._events
        while not events:
            if self._ended:
                return _END, None
            data = await self._source.read(self._chunk_size)
            if not data:
                raise HTTPBadRequest(text="Multipart body ends before its closing boundary")
            if self._delimiter is not None:
                data = self._skip_preamble(data)
            try:
                if data:
                    self._parser.write(data)
            except FormParserError as exc:
                raise HTTPBadRequest(text=f"Malformed multipart body: {exc}") from exc
        return events.popleft()

    def _skip_preamble(self, data: bytes) -> bytes:
        """Drop what comes before the first delimiter line; return the rest (maybe ``b""``)."""
        delimiter = self._delimiter
        assert delimiter is not None
        buffer = self._preamble + data
        start = 0
        while (index := buffer.find(delimiter, start)) >= 0:
            if index == 0 or buffer[index - 2 : index] == b"\r\n":
                self._delimiter = None
                self._preamble = b""
                return buffer[index:]
            start = index + 1
        # keep only what could be the start of a delimiter line split across reads
        self._preamble = buffer[-(len(delimiter) + 2) :]
        return b""


class BodyPartReader:
    """One part of a multipart body (aiohttp's ``BodyPartReader``).

    Read its content with :meth:`read_chunk` (streaming), :meth:`read`,
    :meth:`text`, :meth:`json` or :meth:`form`; the caller must read or
    :meth:`release` a part before the next one can be read (``reader.next()``
    releases it for you).
    """

    def __init__(self, headers: CIMultiDictProxy[str], engine: _Engine, chunk_size: int) -> None:
        self.headers = headers
        self._engine = engine
        self._chunk_size = chunk_size
        self._pending = b""
        self._at_eof = False
        disposition, params = _header_params(headers.get("Content-Disposition", ""))
        self._disposition = disposition
        self._params = params

    @property
    def disposition(self) -> str:
        """The ``Content-Disposition`` type, lower case (``"form-data"``; ``""`` when absent)."""
        return self._disposition

    @property
    def name(self) -> str | None:
        """The ``name`` parameter of ``Content-Disposition`` (the form field's name)."""
        return self._params.get("name")

    @property
    def filename(self) -> str | None:
        """The ``filename`` parameter of ``Content-Disposition`` (``filename*`` decoded)."""
        return self._params.get("filename")

    def at_eof(self) -> bool:
        """True once the part's content was read to its end."""
        return self._at_eof

    async def read_chunk(self, size: int = 8192) -> bytes:
        """Up to ``size`` bytes of the content (``b""`` at its end), as they arrive."""
        if self._at_eof:
            return b""
        if not self._pending:
            kind, value = await self._engine.next_event()
            if kind != _DATA:
                self._at_eof = True  # _PART_END (an _END here cannot happen mid-part)
                return b""
            self._pending = value
        data = self._pending
        if len(data) > size:
            self._pending = data[size:]
            return data[:size]
        self._pending = b""
        return data

    async def read(self, *, decode: bool = False) -> bytes:
        """The whole content (no size limit: use :meth:`read_chunk` for large parts).

        With ``decode=True``, ``Content-Transfer-Encoding`` (base64,
        quoted-printable) and ``Content-Encoding`` are undone (see :meth:`decode`).
        """
        parts = []
        while chunk := await self.read_chunk(self._chunk_size):
            parts.append(chunk)
        data = b"".join(parts)
        return self.decode(data) if decode else data

    def decode(self, data: bytes) -> bytes:
        """Undo the part's ``Content-Transfer-Encoding`` then ``Content-Encoding``; 400 if bad."""
        transfer = self.headers.get("Content-Transfer-Encoding", "").strip().lower()
        try:
            if transfer == "base64":
                data = base64.b64decode(data)
            elif transfer == "quoted-printable":
                data = quopri.decodestring(data)
        except (binascii.Error, ValueError) as exc:
            raise HTTPBadRequest(text=f"Part does not decode: {exc}") from exc
        decoder = decoder_for(self.headers.get("Content-Encoding", ""))
        if decoder is None:
            return data
        out = [decoder.decode(data, 1 << 62)] if data else []
        try:
            while not decoder.needs_input:
                out.append(decoder.decode(b"", 1 << 62))
            decoder.finish()
        except DecodeError as exc:
            raise HTTPBadRequest(text=f"Part does not decode: {exc}") from exc
        return b"".join(out)

    def get_charset(self, default: str) -> str:
        """The ``charset`` of the part's ``Content-Type``, else ``default``."""
        content_type = self.headers.get("Content-Type")
        if not content_type:
            return default
        return _header_params(content_type)[1].get("charset", default)

    async def text(self, *, encoding: str | None = None) -> str:
        """The content decoded with ``encoding`` (else its charset, else UTF-8); 400 if bad."""
        data = await self.read(decode=True)
        charset = encoding or self.get_charset("utf-8")
        try:
            return data.decode(charset)
        except (UnicodeDecodeError, LookupError) as exc:
            raise HTTPBadRequest(text=f"Part {self.name!r} is not valid {charset}") from exc

    async def json(self, *, encoding: str | None = None) -> Any:
        """The content parsed as JSON (``None`` when empty); 400 if it is not JSON."""
        text = await self.text(encoding=encoding)
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError as exc:
            raise HTTPBadRequest(text=f"Part {self.name!r} is not JSON") from exc

    async def form(self, *, encoding: str | None = None) -> list[tuple[str, str]]:
        """The content parsed as ``application/x-www-form-urlencoded``."""
        text = await self.text(encoding=encoding)
        return parse_qsl(text, keep_blank_values=True, encoding=encoding or "utf-8")

    async def release(self) -> None:
        """Read and drop the rest of the content."""
        while await self.read_chunk(self._chunk_size):
            pass

    def __aiter__(self) -> AsyncIterator[bytes]:
        """Iterate over the content in chunks."""
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        while chunk := await self.read_chunk(self._chunk_size):
            yield chunk

    def __repr__(self) -> str:
        return f"<BodyPartReader name={self.name!r} filename={self.filename!r}>"


class _PartSource:
    """An enclosing part as the byte source of a nested multipart reader."""

    def __init__(self, part: BodyPartReader) -> None:
        self.part = part

    async def read(self, n: int = -1) -> bytes:
        return await self.part.read_chunk(n if n > 0 else 65536)


class MultipartReader:
    """The parts of a ``multipart/*`` body, one at a time (aiohttp's ``MultipartReader``).

    ``headers`` are those of the message (its ``Content-Type`` names the
    boundary), ``content`` the body stream. ``await reader.next()`` or
    ``async for part in reader`` give :class:`BodyPartReader` objects, or a
    nested :class:`MultipartReader` for a ``multipart/*`` part. A malformed
    body raises :class:`HTTPBadRequest` when reached.
    """

    def __init__(
        self, headers: Mapping[str, str], content: ByteSource, *, chunk_size: int = 65536
    ) -> None:
        self.headers = headers
        media_type, params = _header_params(headers.get("Content-Type", ""))
        if not media_type.startswith("multipart/"):
            raise HTTPBadRequest(text=f"Not a multipart body: {media_type or 'no Content-Type'}")
        self._chunk_size = chunk_size
        self._engine = _Engine(content, params.get("boundary", ""), chunk_size)
        self._current: BodyPartReader | None = None
        self._nested: MultipartReader | None = None
        self._at_eof = False

    def at_eof(self) -> bool:
        """True once the closing boundary was read."""
        return self._at_eof

    async def next(self) -> BodyPartReader | MultipartReader | None:
        """The next part (``None`` after the last); releases the current part first."""
        if self._at_eof:
            return None
        await self._release_current()
        kind, value = await self._engine.next_event()
        if kind == _END:
            self._at_eof = True
            return None
        part = BodyPartReader(value, self._engine, self._chunk_size)
        self._current = part
        if value.get("Content-Type", "").lower().lstrip().startswith("multipart/"):
            self._nested = MultipartReader(value, _PartSource(part), chunk_size=self._chunk_size)
            return self._nested
        return part

    async def _release_current(self) -> None:
        if self._nested is not None:
            await self._nested.release()
            self._nested = None
        if self._current is not None:
            await self._current.release()
            self._current = None

    async def release(self) -> None:
        """Read and drop every remaining part."""
        while await self.next() is not None:
            pass

    def __aiter__(self) -> AsyncIterator[BodyPartReader | MultipartReader]:
        """Iterate over the parts."""
        return self._parts()

    async def _parts(self) -> AsyncIterator[BodyPartReader | MultipartReader]:
        while (part := await self.next()) is not None:
            yield part
