"""Pure parsers for form bodies: ``application/x-www-form-urlencoded`` and
``multipart/form-data`` (RFC 7578). They take the whole body, already bounded
by ``client_max_size``, and return a multidict of fields.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from email.message import Message
from urllib.parse import parse_qsl

from multidict import CIMultiDict, CIMultiDictProxy, MultiDict

__all__ = ["FileField", "FormError", "parse_header_params", "parse_multipart", "parse_urlencoded"]


class FormError(ValueError):
    """The body does not follow its declared form encoding."""


@dataclass(frozen=True)
class FileField:
    """An uploaded file of a multipart form."""

    name: str
    filename: str
    file: io.BytesIO
    content_type: str
    headers: CIMultiDictProxy[str]


def parse_header_params(value: str) -> tuple[str, dict[str, str]]:
    """Split a header like ``form-data; name="a"`` into its value and parameters."""
    message = Message()
    message["x"] = value
    params = message.get_params(header="x") or []
    main = params[0][0].lower() if params else ""
    return main, {key.lower(): str(val) for key, val in params[1:]}


def parse_urlencoded(body: bytes, charset: str = "utf-8") -> MultiDict[str]:
    """Fields of an urlencoded body, in order, blank values kept."""
    try:
        text = body.decode(charset)
    except (UnicodeDecodeError, LookupError) as exc:
        raise FormError(f"form body is not valid {charset}") from exc
    return MultiDict(parse_qsl(text, keep_blank_values=True, encoding=charset))


def parse_multipart(
    body: bytes, boundary: str, charset: str = "utf-8"
) -> MultiDict[str | FileField]:
    """Fields of a multipart/form-data body: str for values, :class:`FileField` for files."""
    if not boundary or len(boundary) > 70:
        raise FormError("missing or invalid multipart boundary")
    delimiter = b"--" + boundary.encode("latin-1")
    # A preamble may come before the first delimiter (RFC 2046 section 5.1.1).
    if body.startswith(delimiter):
        start = len(delimiter)
    else:
        index = body.find(b"\r\n" + delimiter)
        if index < 0:
            raise FormError("multipart body has no opening boundary")
        start = index + 2 + len(delimiter)
    fields: MultiDict[str | FileField] = MultiDict()
    closed = False
    for section in body[start:].split(b"\r\n" + delimiter):
        if section.startswith(b"--"):
            closed = True
            break
        if not section.startswith(b"\r\n"):
            raise FormError("malformed multipart boundary line")
        name, value = _parse_part(section[2:], charset)
        fields.add(name, value)
    if not closed:
        raise FormError("multipart body is not terminated")
    return fields


def _parse_part(part: bytes, charset: str) -> tuple[str, str | FileField]:
    head, sep, content = part.partition(b"\r\n\r\n")
    if not sep:
        if not part.startswith(b"\r\n"):
            raise FormError("multipart part without header section end")
        head, content = b"", part[2:]
    headers: CIMultiDict[str] = CIMultiDict()
    for line in head.split(b"\r\n"):
        if not line:
            continue
        key, colon, value = line.decode("utf-8", "replace").partition(":")
        if not colon:
            raise FormError("malformed multipart header")
        headers.add(key.strip(), value.strip())
    disposition, params = parse_header_params(headers.get("Content-Disposition", ""))
    if disposition != "form-data" or "name" not in params:
        raise FormError("multipart part without form-data name")
    name = params["name"]
    content_type = headers.get("Content-Type", "text/plain")
    if "filename" in params:
        return name, FileField(
            name=name,
            filename=params["filename"],
            file=io.BytesIO(content),
            content_type=content_type,
            headers=CIMultiDictProxy(headers),
        )
    part_charset = parse_header_params(content_type)[1].get("charset", charset)
    try:
        return name, content.decode(part_charset)
    except (UnicodeDecodeError, LookupError) as exc:
        raise FormError(f"form field {name!r} is not valid {part_charset}") from exc
