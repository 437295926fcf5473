"""Pure helpers that read header values: comma-separated lists and the ``Cookie`` header."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["parse_cookie_header", "split_header_list"]


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
