"""Pure helpers that turn response metadata into bytes (RFC 9112 section 4-5)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from email.utils import formatdate
from http import HTTPStatus

__all__ = ["REASON_PHRASES", "encode_response_head", "http_date", "reason_phrase"]

#: The standard reason phrase of each status (RFC 9110 section 15).
REASON_PHRASES = {status.value: status.phrase for status in HTTPStatus}
_date_cache: tuple[int, str] = (0, "")


def reason_phrase(status: int) -> str:
    """The standard reason phrase of ``status``, or ``""`` for an unknown code."""
    return REASON_PHRASES.get(status, "")


def http_date() -> str:
    """The current time as an IMF-fixdate, recomputed at most once a second."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True))
    return _date_cache[1]


def encode_response_head(
    version: tuple[int, int], status: int, reason: str, headers: Iterable[tuple[str, str]]
) -> bytes:
    """Serialize a status line and header section, ending with the empty line.

    Raises :class:`ValueError` when a reason, name or value holds CR, LF or NUL,
    so that no caller can split a response (RFC 9110 section 5.5). Nothing has
    been written when it raises.
    """
    if reason is REASON_PHRASES.get(status) and version == (1, 1):
        # The common case, cached (one entry per standard status at most).
        status_line = _status_lines.get(status)
        if status_line is None:
            status_line = _status_lines[status] = f"HTTP/1.1 {status} {reason}"
    else:
        status_line = f"HTTP/{version[0]}.{version[1]} {status} {reason}"
    lines = [status_line]
    lines += [f"{name}: {value}" for name, value in headers]
    lines.append("\r\n")
    head = "\r\n".join(lines)
    # Every CR and LF must be one we put there: one pair after each line.
    breaks = len(lines)
    if head.count("\n") != breaks or head.count("\r") != breaks or "\x00" in head:
        raise ValueError("CR, LF or NUL in a response status reason or header")
    return head.encode("utf-8")


# HTTP/1.1 status lines with the standard reason phrase, by status.
_status_lines: dict[int, str] = {}
