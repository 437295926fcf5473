"""Form bodies (what ``request.post()`` returns): urlencoded and multipart fields.

``application/x-www-form-urlencoded`` is parsed here from the whole body,
already bounded by ``client_max_size``; ``multipart/form-data`` (RFC 7578) is
read part by part through :mod:`.multipart`'s streaming reader.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from email.message import Message
from typing import IO
from urllib.parse import parse_qsl

from multidict import CIMultiDictProxy, MultiDict

from .exceptions import HTTPBadRequest, HTTPRequestEntityTooLarge
from .multipart import MultipartReader

__all__ = [
    "FileField",
    "FormError",
    "TooManyFields",
    "parse_header_params",
    "parse_urlencoded",
    "read_form",
    "too_many_fields",
]

#: Uploaded files of ``post()`` stay in memory up to this size, then spill to a temp file.
SPOOL_SIZE = 64 * 1024


class FormError(ValueError):
    """The body does not follow its declared form encoding."""


class TooManyFields(FormError):
    """The body has more fields than allowed."""


@dataclass(frozen=True)
class FileField:
    """An uploaded file of a multipart form; the caller may close ``file`` when done.

    ``file`` is in memory for small files and a temporary file past 64 KiB.
    """

    name: str
    filename: str
    file: IO[bytes]
    content_type: str
    headers: CIMultiDictProxy[str]


def parse_header_params(value: str) -> tuple[str, dict[str, str]]:
    """Split a header like ``form-data; name="a"`` into its value and parameters."""
    message = Message()
    message["x"] = value
    params = message.get_params(header="x") or []
    main = params[0][0].lower() if params else ""
    return main, {key.lower(): str(val) for key, val in params[1:]}


def parse_urlencoded(
    body: bytes, charset: str = "utf-8", max_fields: int | None = None
) -> MultiDict[str]:
    """Fields of an urlencoded body, in order, blank values kept; at most ``max_fields``."""
    try:
        text = body.decode(charset)
        pairs = parse_qsl(text, keep_blank_values=True, encoding=charset, max_num_fields=max_fields)
    except (UnicodeDecodeError, LookupError) as exc:
        raise FormError(f"form body is not valid {charset}") from exc
    except ValueError as exc:  # parse_qsl: "Max number of fields exceeded"
        raise TooManyFields(f"too many form fields (more than {max_fields})") from exc
    return MultiDict(pairs)


def too_many_fields(max_fields: int) -> HTTPRequestEntityTooLarge:
    """The 413 for a form with more than ``max_fields`` fields (aiohttp's answer)."""
    return HTTPRequestEntityTooLarge(
        max_size=max_fields,
        actual_size=max_fields + 1,
        text=f"Maximum number of form fields {max_fields} exceeded.",
    )


async def read_form(
    reader: MultipartReader, *, charset: str, max_size: int, max_fields: int
) -> MultiDict[str | FileField]:
    """All fields of a ``multipart/form-data`` body: str values, :class:`FileField` files.

    Files are spooled to a temporary file past :data:`SPOOL_SIZE`. More than
    ``max_fields`` parts or ``max_size`` bytes of content in total is answered
    413 (as aiohttp); a part that is not ``form-data`` with a name, 400.
    """
    fields: MultiDict[str | FileField] = MultiDict()
    try:
        await _read_fields(reader, fields, charset, max_size, max_fields)
    except BaseException:
        for value in fields.values():
            if isinstance(value, FileField):
                value.file.close()
        raise
    return fields


async def _read_fields(
    reader: MultipartReader,
    fields: MultiDict[str | FileField],
    charset: str,
    max_size: int,
    max_fields: int,
) -> None:
    size = 0
    async for part in reader:
        if len(fields) >= max_fields:
            raise too_many_fields(max_fields)
        if isinstance(part, MultipartReader) or part.disposition != "form-data" or not part.name:
            raise HTTPBadRequest(text="Malformed form body: part without form-data name")
        name = part.name
        if part.filename is None:
            data = bytearray()
            while chunk := await part.read_chunk(65536):
                size += len(chunk)
                if size > max_size:
                    raise HTTPRequestEntityTooLarge(max_size=max_size, actual_size=size)
                data += chunk
            part_charset = part.get_charset(charset)
            try:
                fields.add(name, part.decode(bytes(data)).decode(part_charset))
            except (UnicodeDecodeError, LookupError) as exc:
                raise HTTPBadRequest(
                    text=f"Form field {name!r} is not valid {part_charset}"
                ) from exc
            continue
        # The FileField's owner closes it (noqa: not a with-block on purpose).
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_SIZE)  # noqa: SIM115
        try:
            while chunk := await part.read_chunk(65536):
                size += len(chunk)
                if size > max_size:
                    raise HTTPRequestEntityTooLarge(max_size=max_size, actual_size=size)
                spool.write(chunk)
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        fields.add(
            name,
            FileField(
                name=name,
                filename=part.filename,
                file=spool,
                content_type=part.headers.get("Content-Type", "text/plain"),
                headers=part.headers,
            ),
        )
