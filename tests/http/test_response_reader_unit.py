"""tidewire.http.response_reader without sockets: framing, limits, byte-at-a-time feeding."""

from __future__ import annotations

import pytest

from tidewire.http.config import ServerConfig
from tidewire.http.response_reader import BadResponse, ResponseReader


def feed_bytewise(reader: ResponseReader, data: bytes) -> None:
    for i in range(len(data)):
        reader.feed(data[i : i + 1])


@pytest.mark.parametrize("bytewise", [False, True])
def test_content_length_and_chunked_bodies(bytewise: bool) -> None:
    for raw, body in [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A:  padded \r\n\r\nhello", b"hello"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
            b"abcde",
        ),
    ]:
        reader = ResponseReader()
        feed_bytewise(reader, raw) if bytewise else reader.feed(raw)
        assert reader.complete and reader.body == body
        head = reader.head
        assert head is not None and (head.status, head.reason, head.version) == (200, "OK", "1.1")
        assert head.keep_alive is True


def test_optional_whitespace_is_not_part_of_a_value() -> None:
    reader = ResponseReader()
    reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-A:  padded \r\n\r\n")
    assert reader.head is not None and reader.head.headers["X-A"] == "padded"


def test_body_until_close() -> None:
    reader = ResponseReader()
    reader.feed(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\npart one, ")
    reader.feed(b"part two")
    assert not reader.complete
    reader.feed_eof()
    assert reader.complete and reader.body == b"part one, part two"
    assert reader.head is not None and reader.head.keep_alive is False


def test_eof_too_early() -> None:
    reader = ResponseReader()
    reader.feed(b"HTTP/1.1 200 OK\r\nContent-Le")
    with pytest.raises(BadResponse, match="head"):
        reader.feed_eof()
    reader = ResponseReader()
    reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")
    with pytest.raises(BadResponse, match="body"):
        reader.feed_eof()


def test_head_only_and_upgrade() -> None:
    reader = ResponseReader(head_only=True)
    reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
    assert reader.complete and reader.body == b""
    reader = ResponseReader()
    rest = reader.feed(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
        b"\x81\x00"
    )
    assert rest == b"\x81\x00"
    assert reader.head is not None and reader.head.upgrade is True


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (b"HTTP/1.1 200 " + b"R" * 200 + b"\r\n\r\n", "status line"),
        (b"HTTP/1.1 200 OK\r\nX: " + b"v" * 200 + b"\r\n\r\n", "field too large"),
        (b"HTTP/1.1 200 OK\r\n" + b"X: v\r\n" * 11 + b"\r\n", "too many"),
        (
            b"HTTP/1.1 200 OK\r\n" + b"".join(b"X%d: %s\r\n" % (n, b"v" * 90) for n in range(3)),
            "too large",
        ),
        (b"NOT HTTP\r\n\r\n", "malformed"),
    ],
)
def test_limits_are_the_servers(raw: bytes, match: str) -> None:
    limits = ServerConfig(max_line_size=100, max_field_size=100, max_headers=10, max_head_size=200)
    with pytest.raises(BadResponse, match=match):
        ResponseReader(limits).feed(raw)


def test_body_limit() -> None:
    reader = ResponseReader(max_body=10)
    with pytest.raises(BadResponse, match="larger than 10"):
        reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n" + b"x" * 11)
