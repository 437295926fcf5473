"""Form bodies: the urlencoded parser and the uploaded-file value.

``application/x-www-form-urlencoded`` is parsed here from the whole body,
already bounded by ``client_max_size``; ``multipart/form-data`` (RFC 7578) is
streamed by :mod:`.multipart`.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message
from typing import IO
from urllib.parse import parse_qsl

from multidict import CIMultiDictProxy, MultiDict

__all__ = ["FileField", "FormError", "TooManyFields", "parse_header_params", "parse_urlencoded"]


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
