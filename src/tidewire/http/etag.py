"""Entity tags as aiohttp's API shows them: :class:`ETag` values (RFC 9110 section 8.8.3).

``request.if_match`` / ``if_none_match`` and ``response.etag`` use these; the
comparison rules for serving files live in :mod:`.validators`.
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = ["ETAG_ANY", "ETag", "format_etag", "parse_etag", "parse_etag_list"]

#: The ``*`` of ``If-Match: *`` / ``If-None-Match: *``.
ETAG_ANY = "*"
# etagc = %x21 / %x23-7E / obs-text (RFC 9110 section 8.8.3)
_ETAGC = r"[!#-}\x80-\xff]*"
_QUOTED = re.compile(rf'(W/)?"({_ETAGC})"')
_VALUE = re.compile(_ETAGC)


class ETag(NamedTuple):
    """An entity tag: its opaque ``value`` (without quotes) and whether it is weak."""

    value: str
    is_weak: bool = False


def parse_etag(header: str | None) -> ETag | None:
    """The single entity tag of an ``ETag`` header, or ``None`` when absent or malformed."""
    if not header:
        return None
    header = header.strip()
    if header == ETAG_ANY:
        return ETag(ETAG_ANY)
    match = _QUOTED.fullmatch(header)
    return ETag(match.group(2), bool(match.group(1))) if match else None


def parse_etag_list(header: str | None) -> tuple[ETag, ...] | None:
    """The entity tags of an ``If-Match`` / ``If-None-Match`` header (``None`` when absent).

    ``*`` gives ``(ETag("*"),)``; malformed members are skipped.
    """
    if header is None:
        return None
    if header.strip() == ETAG_ANY:
        return (ETag(ETAG_ANY),)
    tags = []
    for item in header.split(","):
        tag = parse_etag(item)
        if tag is not None and tag.value != ETAG_ANY:
            tags.append(tag)
    return tuple(tags)


def format_etag(value: ETag | str) -> str:
    """The ``ETag`` header value for ``value`` (a str is a strong tag's opaque value).

    ``ValueError`` for characters an entity tag cannot hold.
    """
    tag = value if isinstance(value, ETag) else ETag(value)
    if tag.value == ETAG_ANY:
        return ETAG_ANY
    if not _VALUE.fullmatch(tag.value):
        raise ValueError(f"invalid entity tag value: {tag.value!r}")
    return f'W/"{tag.value}"' if tag.is_weak else f'"{tag.value}"'
