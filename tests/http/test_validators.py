"""The pure decisions behind FileResponse (RFC 9110 sections 8.8, 13.2.2, 14), as tables."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from tidewire.http.validators import (
    choose_precompressed,
    evaluate,
    http_date_seconds,
    last_modified_header,
    make_etag,
    parse_range,
)

ETAG = make_etag(1_700_000_000_123_456_789, 1000)
MTIME = 1_700_000_000.5
LAST_MOD = last_modified_header(MTIME)
EARLIER = last_modified_header(MTIME - 10)
LATER = last_modified_header(MTIME + 10)


def test_etag_is_mtime_and_size_in_hex() -> None:
    assert make_etag(0x1A2B, 0x3C) == '"1a2b-3c"'


def test_last_modified_round_trips_to_whole_seconds() -> None:
    assert http_date_seconds(LAST_MOD) == int(MTIME)
    assert http_date_seconds("not a date") is None
    assert http_date_seconds(None) is None


@pytest.mark.parametrize(
    ("value", "size", "expected"),
    [
        ("bytes=0-0", 10, (0, 1)),
        ("bytes=2-5", 10, (2, 6)),
        ("bytes=2-", 10, (2, 10)),
        ("bytes=5-100", 10, (5, 10)),  # last-pos past the end is clamped (14.1.2)
        ("bytes=-3", 10, (7, 10)),  # suffix range
        ("bytes=-30", 10, (0, 10)),
        ("BYTES = 1-2", 10, (1, 3)),
        ("bytes=10-", 10, False),  # first-pos at or past the end: unsatisfiable
        ("bytes=-0", 10, False),
        ("bytes=0-", 0, False),
        ("bytes=5-2", 10, None),  # invalid: ignored
        ("bytes=0-1,3-4", 10, None),  # several ranges: we send the whole file
        ("items=0-1", 10, None),
        ("bytes=a-b", 10, None),
        ("bytes=-", 10, None),
        ("bytes", 10, None),
    ],
)
def test_parse_range(value: str, size: int, expected: object) -> None:
    assert parse_range(value, size) == expected


@pytest.mark.parametrize(
    ("method", "headers", "status", "span"),
    [
        ("GET", {}, 200, (0, 1000)),
        ("GET", {"If-None-Match": ETAG}, 304, None),
        ("GET", {"If-None-Match": f'"x", W/{ETAG}'}, 304, None),  # weak comparison
        ("GET", {"If-None-Match": "*"}, 304, None),
        ("GET", {"If-None-Match": '"other"'}, 200, (0, 1000)),
        ("HEAD", {"If-None-Match": ETAG}, 304, None),
        ("POST", {"If-None-Match": ETAG}, 412, None),
        ("GET", {"If-Modified-Since": LAST_MOD}, 304, None),
        ("GET", {"If-Modified-Since": LATER}, 304, None),
        ("GET", {"If-Modified-Since": EARLIER}, 200, (0, 1000)),
        ("GET", {"If-Modified-Since": "garbage"}, 200, (0, 1000)),
        # If-None-Match wins over If-Modified-Since (13.1.3)
        ("GET", {"If-None-Match": '"other"', "If-Modified-Since": LATER}, 200, (0, 1000)),
        ("POST", {"If-Modified-Since": LATER}, 200, (0, 1000)),
        ("GET", {"If-Match": ETAG}, 200, (0, 1000)),
        ("GET", {"If-Match": "*"}, 200, (0, 1000)),
        ("GET", {"If-Match": '"other"'}, 412, None),
        ("GET", {"If-Match": f"W/{ETAG}"}, 412, None),  # strong comparison (13.1.1)
        ("GET", {"If-Unmodified-Since": EARLIER}, 412, None),
        ("GET", {"If-Unmodified-Since": LAST_MOD}, 200, (0, 1000)),
        # If-Match wins over If-Unmodified-Since (13.1.4)
        ("GET", {"If-Match": ETAG, "If-Unmodified-Since": EARLIER}, 200, (0, 1000)),
        ("GET", {"Range": "bytes=10-19"}, 206, (10, 20)),
        ("HEAD", {"Range": "bytes=10-19"}, 200, (0, 1000)),  # Range is for GET (14.2)
        ("GET", {"Range": "bytes=1000-"}, 416, None),
        ("GET", {"Range": "bytes=0-1,5-6"}, 200, (0, 1000)),
        ("GET", {"Range": "bytes=10-19", "If-Range": ETAG}, 206, (10, 20)),
        ("GET", {"Range": "bytes=10-19", "If-Range": '"old"'}, 200, (0, 1000)),
        ("GET", {"Range": "bytes=10-19", "If-Range": f"W/{ETAG}"}, 200, (0, 1000)),
        ("GET", {"Range": "bytes=10-19", "If-Range": LAST_MOD}, 206, (10, 20)),
        ("GET", {"Range": "bytes=10-19", "If-Range": EARLIER}, 200, (0, 1000)),
        ("GET", {"Range": "bytes=1000-", "If-Range": '"old"'}, 200, (0, 1000)),
        # a 304 comes before the range
        ("GET", {"Range": "bytes=10-19", "If-None-Match": ETAG}, 304, None),
    ],
)
def test_evaluate(
    method: str, headers: dict[str, str], status: int, span: tuple[int, int] | None
) -> None:
    selection = evaluate(method, CIMultiDict(headers), ETAG, MTIME, 1000)
    assert selection.status == status
    if span is not None:
        assert (selection.start, selection.end) == span


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("", []),
        ("gzip", [(".gz", "gzip")]),
        ("gzip, deflate, br", [(".br", "br"), (".gz", "gzip")]),
        ("br;q=0, gzip", [(".gz", "gzip")]),
        ("*", [(".br", "br"), (".gz", "gzip")]),
        ("*;q=0, identity", []),
        ("gzip;q=0.5, *;q=0", [(".gz", "gzip")]),
        ("identity", []),
    ],
)
def test_choose_precompressed(accept: str, expected: list[tuple[str, str]]) -> None:
    assert choose_precompressed(accept) == expected
