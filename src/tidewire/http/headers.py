"""Pure helpers that read header values: comma-separated lists, ``Cookie``, HTTP dates."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from email.utils import parsedate_to_datetime

__all__ = ["accept_weights", "parse_cookie_header", "parse_http_date", "split_header_list"]


def split_header_list(values: str | Iterable[str]) -> list[str]:
    """The members of a comma-separated header list, stripped, empty ones dropped.

    ``values`` is one field value or every value of a repeated field (a
    recipient may combine repeated fields into one list, RFC 9110 section 5.3);
    empty members are allowed and ignored (RFC 9110 section 5.6.1). Members keep
    their parameters (``"gzip;q=0.5"``) and their case.
    """
    if isinstance(values, str):
        values = (values,)
    return [member for value in values for item in value.split(",") if (member := item.strip())]


def accept_weights(value: str) -> dict[str, float]:
    """The members of an ``Accept-Encoding``-style list with their weights, names lower case.

    A member without a ``q`` parameter weighs 1, one with an invalid ``q`` weighs 0,
    which refuses it (RFC 9110 section 12.4.2); the caller decides what ``*``
    stands for (RFC 9110 section 12.5.3: any coding not named).
    """
    weights: dict[str, float] = {}
    for item in split_header_list(value):
        name, _, params = item.partition(";")
        weight = 1.0
        for param in params.split(";"):
            key, _, number = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    weight = float(number)
                except ValueError:
                    weight = 0.0
        if name := name.strip():
            weights[name.lower()] = weight
    return weights


def parse_cookie_header(values: Iterable[str]) -> list[tuple[str, str]]:
    """The ``(name, value)`` pairs of ``Cookie`` header values, in order.

    The grammar is ``cookie-pair *( ";" SP cookie-pair )`` (RFC 6265 section
    4.2.1). Every name is a cookie name: unlike :class:`http.cookies.SimpleCookie`
    nothing is taken for a ``Set-Cookie`` attribute, so cookies named ``path`` or
    ``secure`` are kept. A value in double quotes loses its quotes; a pair
    without ``=`` or with an empty name is skipped (RFC 6265 section 5.2 step 2-3).
    """
    pairs: list[tuple[str, str]] = []
    for header in values:
        for item in header.split(";"):
            name, eq, value = item.partition("=")
            name = name.strip()
            if not eq or not name:
                continue
            value = value.strip()
            if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
                value = value[1:-1]
            pairs.append((name, value))
    return pairs


def parse_http_date(value: str | None) -> datetime.datetime | None:
    """An HTTP date header value as an aware UTC datetime, or ``None`` (absent or invalid).

    The three formats of RFC 9110 section 5.6.7 are all GMT: the two obsolete
    ones (RFC 850, asctime) carry no zone, and are read as UTC. A caller must
    ignore a conditional header whose date is invalid (RFC 9110 sections 13.1.3, 13.1.4).
    """
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed
