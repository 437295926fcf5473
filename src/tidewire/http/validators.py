"""Pure decisions for serving a stored representation: validators, preconditions, ranges.

Everything here takes plain values (the request method, its headers, a file's
size and modification time) and returns plain values, so that it is tested as
a table without sockets. :mod:`.fileresponse` does the I/O.

Rules come from RFC 9110: entity tags (section 8.8.3), ``Last-Modified``
(8.8.2), the order in which preconditions are evaluated (13.2.2) and range
requests (14).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import formatdate

from .etag import ETAG_ANY, parse_etag_list
from .headers import accept_weights, parse_http_date

__all__ = [
    "Selection",
    "choose_precompressed",
    "evaluate",
    "http_date_seconds",
    "last_modified_header",
    "make_etag",
    "parse_range",
]

#: Precompressed sibling files, in order of preference, with their content coding.
PRECOMPRESSED = ((".br", "br"), (".gz", "gzip"))


def make_etag(mtime_ns: int, size: int) -> str:
    """A strong entity tag from a file's modification time (ns) and size, both in hex.

    This is the form aiohttp documents for its ``FileResponse``: ``"<mtime>-<size>"``.
    """
    return f'"{mtime_ns:x}-{size:x}"'


def last_modified_header(mtime: float) -> str:
    """An IMF-fixdate for ``Last-Modified`` (whole seconds, RFC 9110 section 5.6.7)."""
    return formatdate(int(mtime), usegmt=True)


def http_date_seconds(value: str | None) -> int | None:
    """The POSIX time of an HTTP date, or ``None`` when absent or invalid.

    An invalid date makes the condition that carries it be ignored (RFC 9110 13.1.3, 13.1.4).
    """
    parsed = parse_http_date(value)
    return int(parsed.timestamp()) if parsed is not None else None


def _etag_matches(header: str, etag: str, *, weak: bool) -> bool:
    """Whether ``header`` (an If-Match / If-None-Match / If-Range value) lists ``etag``.

    ``etag`` is one of ours (:func:`make_etag`: strong, quoted). ``weak`` selects
    weak comparison (If-None-Match) rather than strong (If-Match, If-Range):
    RFC 9110 section 8.8.3.2. ``*`` matches any.
    """
    ours = etag[1:-1]
    return any(
        tag.value == ETAG_ANY or (tag.value == ours and (weak or not tag.is_weak))
        for tag in parse_etag_list(header) or ()
    )


def parse_range(value: str, size: int) -> tuple[int, int] | bool | None:
    """The single byte range ``Range: value`` selects in a representation of ``size`` bytes.

    Returns ``(start, end)`` with ``end`` exclusive; ``None`` when the header is
    to be ignored (not a ``bytes`` range, malformed, or several ranges: a server
    may ignore any Range header, RFC 9110 section 14.2); ``False`` when the
    range is valid but unsatisfiable (416, section 14.1.2 and 15.5.17).
    """
    unit, eq, spec = value.partition("=")
    if not eq or unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    first, last = first.strip(), last.strip()
    if not (first.isdigit() or not first) or not (last.isdigit() or not last):
        return None
    if not first:
        if not last:
            return None
        suffix = int(last)  # the last N bytes (section 14.1.2)
        if suffix == 0 or size == 0:
            return False
        return max(0, size - suffix), size
    start = int(first)
    end = int(last) + 1 if last else size
    if last and end <= start:
        return None  # first-pos after last-pos: invalid, so ignored
    if start >= size:
        return False
    return start, min(end, size)


@dataclass(frozen=True)
class Selection:
    """What to answer for a request on a stored representation.

    ``status`` is 200 (whole), 206 (``start``..``end``, end exclusive), 304, 412
    or 416. The caller sends ``end - start`` body bytes for 200 and 206 only.
    """

    status: int
    start: int = 0
    end: int = 0


def evaluate(
    method: str, headers: Mapping[str, str], etag: str, mtime: float, size: int
) -> Selection:
    """Evaluate the preconditions and the range of a request (RFC 9110 section 13.2.2).

    ``headers`` are the request headers (case-insensitive mapping), ``etag`` the
    representation's strong tag, ``mtime`` its modification time, ``size`` its
    length. The steps, in the RFC's order: If-Match (else If-Unmodified-Since)
    false gives 412; If-None-Match (else If-Modified-Since, GET and HEAD only)
    false gives 304 for GET/HEAD and 412 otherwise; then a GET's Range, honoured
    only when If-Range (if any) still matches.
    """
    modified = int(mtime)
    if_match = headers.get("If-Match")
    if if_match is not None:
        if not _etag_matches(if_match, etag, weak=False):
            return Selection(412)
    else:
        since = http_date_seconds(headers.get("If-Unmodified-Since"))
        if since is not None and modified > since:
            return Selection(412)
    get_or_head = method in ("GET", "HEAD")
    if_none_match = headers.get("If-None-Match")
    if if_none_match is not None:
        if _etag_matches(if_none_match, etag, weak=True):
            return Selection(304 if get_or_head else 412)
    elif get_or_head:
        since = http_date_seconds(headers.get("If-Modified-Since"))
        if since is not None and modified <= since:
            return Selection(304)
    range_header = headers.get("Range")
    if method != "GET" or range_header is None or not _if_range_holds(headers, etag, modified):
        return Selection(200, 0, size)
    chosen = parse_range(range_header, size)
    if chosen is None:
        return Selection(200, 0, size)
    if chosen is False:
        return Selection(416)
    assert chosen is not True
    return Selection(206, chosen[0], chosen[1])


def _if_range_holds(headers: Mapping[str, str], etag: str, modified: int) -> bool:
    """True when there is no If-Range, or it still names this representation (section 13.1.5)."""
    value = headers.get("If-Range")
    if value is None:
        return True
    value = value.strip()
    if value.startswith(('"', "W/")):
        return _etag_matches(value, etag, weak=False)  # strong comparison only
    return http_date_seconds(value) == modified  # an exact date match only


def choose_precompressed(accept_encoding: str) -> list[tuple[str, str]]:
    """The precompressed siblings (suffix, coding) the client accepts, best first.

    ``Accept-Encoding`` codings with ``q=0`` are refused; ``*`` stands for any
    coding not named (RFC 9110 section 12.5.3).
    """
    weights = accept_weights(accept_encoding)
    star = weights.get("*", 0.0)
    return [(suffix, coding) for suffix, coding in PRECOMPRESSED if weights.get(coding, star) > 0]
