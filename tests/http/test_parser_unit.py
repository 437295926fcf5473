"""Sans-I/O unit tests: RequestReader, encode_response_head, form parsers, BodyStream.

No sockets and no event loop unless a test says so: bytes go in, calls come out.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tidewire.http.config import ServerConfig
from tidewire.http.forms import FormError, parse_urlencoded
from tidewire.http.parser import BadRequest, HttpVersion, RequestHead, RequestReader
from tidewire.http.serialize import encode_response_head, reason_phrase
from tidewire.http.streams import BodyStream


class Sink:
    """Collects every RequestSink call in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def on_head(self, head: RequestHead) -> None:
        self.events.append(("head", head))

    def on_body(self, chunk: bytes) -> None:
        assert isinstance(chunk, bytes)
        self.events.append(("body", chunk))

    def on_message_complete(self) -> None:
        self.events.append(("complete", None))

    @property
    def heads(self) -> list[RequestHead]:
        return [value for kind, value in self.events if kind == "head"]

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.events]

    def bodies(self) -> list[bytes]:
        """The body of each request, in order (chunks joined)."""
        out: list[bytes] = []
        current: bytearray | None = None
        for kind, value in self.events:
            if kind == "head":
                current = bytearray()
            elif kind == "body":
                assert current is not None
                current += value
            elif kind == "complete":
                assert current is not None
                out.append(bytes(current))
                current = None
        return out


def make(**config: Any) -> tuple[RequestReader, Sink]:
    sink = Sink()
    return RequestReader(sink, ServerConfig(**config)), sink


def feed_bytewise(reader: RequestReader, data: bytes) -> None:
    for i in range(len(data)):
        assert reader.feed(data[i : i + 1]) is None


# heads ------------------------------------------------------------------------------


SIMPLE = (
    b"GET /a/b%20c?x=1&x=2 HTTP/1.1\r\n"
    b"Host: example.com\r\n"
    b"X-Multi: one\r\n"
    b"x-multi: two\r\n"
    b"Accept:   text/html\r\n"
    b"\r\n"
)


def test_simple_head_fields() -> None:
    reader, sink = make()
    assert reader.feed(SIMPLE) is None
    assert sink.kinds() == ["head", "complete"]
    (head,) = sink.heads
    assert head.method == "GET"
    assert head.raw_path == "/a/b%20c?x=1&x=2"
    assert head.version == HttpVersion(1, 1)
    assert head.version >= (1, 1)
    assert head.headers["host"] == "example.com"
    assert head.headers.getall("X-MULTI") == ["one", "two"]
    assert head.headers["Accept"] == "text/html"  # leading whitespace stripped
    assert head.raw_headers == (
        (b"Host", b"example.com"),
        (b"X-Multi", b"one"),
        (b"x-multi", b"two"),
        (b"Accept", b"text/html"),
    )
    assert head.keep_alive is True
    assert head.upgrade is False
    assert head.chunked is False
    assert head.content_length is None
    assert head.has_body is False
    assert reader.in_head is False


@pytest.mark.parametrize("value", [b"text/html  ", b" \t text/html\t", b"text/html \t "])
def test_optional_whitespace_around_a_field_value_is_not_part_of_it(value: bytes) -> None:
    # RFC 9112 section 5: OWS before and after the value is excluded from it.
    reader, sink = make()
    reader.feed(b"GET / HTTP/1.1\r\nHost: x\r\nAccept:" + value + b"\r\n\r\n")
    assert sink.heads[0].headers["Accept"] == "text/html"


def test_head_fed_one_byte_at_a_time_is_identical() -> None:
    whole_reader, whole = make()
    whole_reader.feed(SIMPLE)
    reader, sink = make()
    feed_bytewise(reader, SIMPLE)
    assert sink.kinds() == ["head", "complete"]
    assert sink.heads[0] == whole.heads[0]


def test_in_head_is_true_only_inside_a_head() -> None:
    reader, sink = make()
    assert reader.in_head is False
    reader.feed(b"GET / HTTP/1.1\r\nHo")
    assert reader.in_head is True
    assert sink.kinds() == []
    reader.feed(b"st: x\r\n\r\n")
    assert reader.in_head is False
    assert sink.kinds() == ["head", "complete"]


@pytest.mark.parametrize(
    ("request_bytes", "keep_alive", "version"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", True, (1, 1)),
        (b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", False, (1, 1)),
        (b"GET / HTTP/1.0\r\n\r\n", False, (1, 0)),
        (b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", True, (1, 0)),
    ],
)
def test_keep_alive_from_version_and_connection(
    request_bytes: bytes, keep_alive: bool, version: tuple[int, int]
) -> None:
    reader, sink = make()
    reader.feed(request_bytes)
    (head,) = sink.heads
    assert head.keep_alive is keep_alive
    assert head.version == version


def test_other_methods_and_absolute_target() -> None:
    reader, sink = make()
    reader.feed(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
    reader.feed(b"DELETE http://x/y?z HTTP/1.1\r\nHost: x\r\n\r\n")
    assert [(h.method, h.raw_path) for h in sink.heads] == [
        ("OPTIONS", "*"),
        ("DELETE", "http://x/y?z"),
    ]


# bodies -----------------------------------------------------------------------------


def test_content_length_body_split_across_feeds() -> None:
    reader, sink = make()
    reader.feed(b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhel")
    assert sink.kinds() == ["head", "body"]
    (head,) = sink.heads
    assert head.content_length == 11
    assert head.has_body is True
    assert head.chunked is False
    reader.feed(b"lo ")
    reader.feed(b"world")
    assert sink.bodies() == [b"hello world"]
    assert sink.kinds()[-1] == "complete"


def test_zero_content_length_has_no_body() -> None:
    reader, sink = make()
    reader.feed(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    (head,) = sink.heads
    assert head.content_length == 0
    assert head.has_body is False
    assert sink.bodies() == [b""]


def test_chunked_body_is_decoded_with_extensions_and_trailers() -> None:
    reader, sink = make()
    data = (
        b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n"
        b"1;ext=1\r\n \r\n"
        b"A\r\n0123456789\r\n"
        b"0\r\nX-Trailer: yes\r\n\r\n"
    )
    reader.feed(data)
    (head,) = sink.heads
    assert head.chunked is True
    assert head.content_length is None
    assert head.has_body is True
    assert sink.bodies() == [b"hello 0123456789"]


def test_chunked_body_fed_byte_by_byte() -> None:
    reader, sink = make()
    feed_bytewise(
        reader,
        b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
    )
    assert sink.bodies() == [b"abcde"]


def test_pipelined_requests_in_one_feed() -> None:
    reader, sink = make()
    reader.feed(
        b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"
        b"POST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
        b"PUT /3 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n"
        b"GET /4 HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    assert [h.raw_path for h in sink.heads] == ["/1", "/2", "/3", "/4"]
    assert [h.method for h in sink.heads] == ["GET", "POST", "PUT", "GET"]
    assert sink.bodies() == [b"", b"abc", b"de", b""]
    assert sink.kinds().count("head") == 4
    assert sink.kinds().count("complete") == 4


# limits -----------------------------------------------------------------------------


def test_request_line_at_limit_is_accepted_and_over_it_is_414() -> None:
    reader, sink = make(max_line_size=64)
    reader.feed(b"GET /" + b"a" * 63 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert len(sink.heads) == 1
    reader, sink = make(max_line_size=64)
    with pytest.raises(BadRequest) as info:
        reader.feed(b"GET /" + b"a" * 64 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert info.value.status == 414
    assert sink.heads == []


def test_request_line_too_long_when_fed_in_pieces() -> None:
    reader, _ = make(max_line_size=100)
    reader.feed(b"GET /")
    with pytest.raises(BadRequest) as info:
        for _ in range(20):
            reader.feed(b"x" * 10)
    assert info.value.status == 414


def test_header_value_too_large_is_431() -> None:
    reader, sink = make(max_field_size=50)
    reader.feed(b"GET / HTTP/1.1\r\nHost: x\r\nX-A: " + b"v" * 50 + b"\r\n\r\n")
    assert len(sink.heads) == 1
    reader, sink = make(max_field_size=50)
    with pytest.raises(BadRequest) as info:
        reader.feed(b"GET / HTTP/1.1\r\nHost: x\r\nX-A: " + b"v" * 51 + b"\r\n\r\n")
    assert info.value.status == 431
    assert sink.heads == []


def test_header_name_too_large_is_431() -> None:
    reader, _ = make(max_field_size=50)
    with pytest.raises(BadRequest) as info:
        reader.feed(b"GET / HTTP/1.1\r\nHost: x\r\n" + b"N" * 51 + b": v\r\n\r\n")
    assert info.value.status == 431


def test_too_many_headers_is_431() -> None:
    reader, sink = make(max_headers=3)
    reader.feed(b"GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\n\r\n")
    assert len(sink.heads) == 1
    reader, sink = make(max_headers=3)
    with pytest.raises(BadRequest) as info:
        reader.feed(b"GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n")
    assert info.value.status == 431
    assert sink.heads == []


def _big_head(fields: int, value_size: int) -> bytes:
    lines = b"".join(b"X-F%d: %s\r\n" % (i, b"v" * value_size) for i in range(fields))
    return b"GET / HTTP/1.1\r\nHost: x\r\n" + lines + b"\r\n"


def test_header_section_too_large_fed_in_pieces_is_431() -> None:
    # every field is under max_field_size and max_headers, the whole is not
    reader, sink = make(max_head_size=1024, max_field_size=200, max_headers=50)
    data = _big_head(20, 100)
    assert len(data) > 2 * 1024
    with pytest.raises(BadRequest) as info:
        for i in range(0, len(data), 100):
            reader.feed(data[i : i + 100])
    assert info.value.status == 431
    assert sink.heads == []


def test_header_section_too_large_in_one_feed_is_431() -> None:
    # The limit is on the head, not on how the bytes happen to be split by recv().
    reader, sink = make(max_head_size=1024, max_field_size=200, max_headers=50)
    with pytest.raises(BadRequest) as info:
        reader.feed(_big_head(20, 100))
    assert info.value.status == 431
    assert sink.heads == []


def test_head_limit_is_per_request_not_per_connection() -> None:
    # many small pipelined requests fed in pieces must never add up to a 431
    reader, sink = make(max_head_size=200)
    one = b"GET /x HTTP/1.1\r\nHost: example\r\nX-Pad: " + b"p" * 40 + b"\r\n\r\n"
    stream = one * 30
    for i in range(0, len(stream), 7):
        reader.feed(stream[i : i + 7])
    assert len(sink.heads) == 30


# malformed input: 400 (501 for an unknown transfer coding) ----------------------------

H = b"Host: x\r\n"  # every HTTP/1.1 request below is valid but for the one thing it tests
BAD_FRAMING = {400, 501}


@pytest.mark.parametrize(
    ("data", "statuses"),
    [
        pytest.param(b"GET\r\n\r\n", {400}, id="no-target"),
        pytest.param(b"GET / HTTP/1.1 extra\r\n" + H + b"\r\n", {400}, id="junk-after-version"),
        pytest.param(b"GET / HTTQ/1.1\r\n" + H + b"\r\n", {400}, id="bad-protocol"),
        pytest.param(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", {400}, id="tls-hello"),
        pytest.param(b"\x00\xff\xfe garbage \r\n\r\n", {400}, id="garbage"),
        pytest.param(b"get / HTTP/1.1\r\n" + H + b"\r\n", {400}, id="lower-case-method"),
        pytest.param(b"GET / HTTP/1.1\n" + H + b"\n", {400}, id="bare-lf"),
        pytest.param(
            b"GET / HTTP/1.1\r\n" + H + b"No colon here\r\n\r\n", {400}, id="header-without-colon"
        ),
        pytest.param(b"GET / HTTP/1.1\r\n" + H + b"Bad Name: v\r\n\r\n", {400}, id="space-in-name"),
        pytest.param(b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", {400}, id="space-before-colon"),
        pytest.param(b"GET / HTTP/1.1\r\n" + H + b"X-A: a\x00b\r\n\r\n", {400}, id="nul-in-value"),
        pytest.param(b"GET / HTTP/1.1\r\n" + H + b"X-A: one\r\n two\r\n\r\n", {400}, id="obs-fold"),
        pytest.param(b"GET / HTTP/1.1\r\n" + H + b"X-A: a\rb\r\n\r\n", {400}, id="bare-cr"),
        pytest.param(
            b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"0\r\n\r\n",
            {400},
            id="cl-and-te",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
            b"0\r\n\r\n",
            {400},
            id="te-and-cl",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
            {400},
            id="two-content-lengths",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
            {400},
            id="repeated-content-length",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\n" + H + b"Content-Length: -1\r\n\r\n", {400}, id="negative-cl"
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 1x\r\n\r\nab", {400}, id="non-numeric-cl"
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 99999999999999999999999\r\n\r\n",
            {400},
            id="cl-overflow",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip\r\n\r\nabc",
            BAD_FRAMING,
            id="te-not-chunked",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
            BAD_FRAMING,
            id="chunked-not-final",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
            b"zz\r\nabc\r\n0\r\n\r\n",
            {400},
            id="bad-chunk-size",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
            b"FFFFFFFFFFFFFFFFFFFF\r\nabc\r\n",
            {400},
            id="chunk-size-overflow",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabcXY0\r\n\r\n",
            {400},
            id="chunk-without-crlf",
        ),
    ],
)
def test_malformed_requests_are_refused(data: bytes, statuses: set[int]) -> None:
    reader, _ = make()
    with pytest.raises(BadRequest) as info:
        reader.feed(data)
    assert info.value.status in statuses
    assert info.value.message


@pytest.mark.parametrize(
    "head",
    [
        pytest.param(b"Transfer-Encoding: gzip\r\n", id="te-gzip"),
        pytest.param(b"Transfer-Encoding: identity\r\n", id="te-identity"),
        pytest.param(b"Transfer-Encoding: chunked, gzip\r\n", id="te-chunked-gzip"),
        pytest.param(b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n", id="cl-te"),
        pytest.param(b"Content-Length: 3\r\nContent-Length: 4\r\n", id="two-cl"),
    ],
)
def test_head_level_framing_errors_are_raised_before_the_head_is_delivered(head: bytes) -> None:
    # The framing is known to be invalid from the head alone: no request may be dispatched,
    # or a handler that never reads the body answers it as if it were fine.
    reader, sink = make()
    with pytest.raises(BadRequest) as info:
        reader.feed(b"POST / HTTP/1.1\r\nHost: x\r\n" + head + b"\r\n")
    assert info.value.status in (400, 501)
    assert sink.heads == []


def test_bad_request_after_a_good_one_keeps_the_good_one() -> None:
    reader, sink = make()
    with pytest.raises(BadRequest):
        reader.feed(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\nBROKEN\x00\r\n\r\n")
    assert [h.raw_path for h in sink.heads] == ["/ok"]


# upgrade ----------------------------------------------------------------------------


UPGRADE_HEAD = (
    b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
    b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
)


def test_upgrade_returns_the_bytes_after_the_head() -> None:
    reader, sink = make()
    tail = reader.feed(UPGRADE_HEAD + b"\x81\x85abcd frame bytes GET / HTTP/1.1\r\n\r\n")
    assert tail == b"\x81\x85abcd frame bytes GET / HTTP/1.1\r\n\r\n"
    (head,) = sink.heads
    assert head.upgrade is True
    assert head.raw_path == "/ws"


def test_upgrade_without_tail_returns_empty_bytes_not_none() -> None:
    reader, sink = make()
    tail = reader.feed(UPGRADE_HEAD)
    assert tail == b""
    assert sink.heads[0].upgrade is True


def test_upgrade_head_split_across_feeds() -> None:
    reader, sink = make()
    assert reader.feed(UPGRADE_HEAD[:30]) is None
    assert reader.feed(UPGRADE_HEAD[30:] + b"xyz") == b"xyz"
    assert sink.heads[0].upgrade is True


def test_upgrade_header_without_connection_upgrade_is_plain_http() -> None:
    reader, sink = make()
    tail = reader.feed(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n")
    assert tail is None
    assert sink.heads[0].upgrade is False


# encode_response_head -------------------------------------------------------------


def test_encode_response_head_exact_bytes() -> None:
    head = encode_response_head(
        (1, 1), 200, "OK", [("Content-Length", "2"), ("X-A", "1"), ("X-A", "2")]
    )
    assert head == b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: 1\r\nX-A: 2\r\n\r\n"


def test_encode_response_head_http10_and_no_headers() -> None:
    assert encode_response_head((1, 0), 404, "Not Found", []) == b"HTTP/1.0 404 Not Found\r\n\r\n"


@pytest.mark.parametrize(
    ("reason", "headers"),
    [
        ("OK\r\nX-Evil: 1", []),
        ("OK\n", []),
        ("O\x00K", []),
        ("OK", [("X-A", "v\r\nSet-Cookie: a=b")]),
        ("OK", [("X-A", "v\nx")]),
        ("OK", [("X-A", "v\rx")]),
        ("OK", [("X-A", "v\x00x")]),
        ("OK", [("X-A\r\nX-B", "v")]),
        ("OK", [("X-A\n", "v")]),
        ("OK", [("X\x00A", "v")]),
        ("OK", [("X-Good", "1"), ("X-A", "\r\n")]),
    ],
)
def test_encode_response_head_refuses_cr_lf_nul(
    reason: str, headers: list[tuple[str, str]]
) -> None:
    with pytest.raises(ValueError):
        encode_response_head((1, 1), 200, reason, headers)


def test_reason_phrase() -> None:
    assert reason_phrase(200) == "OK"
    assert reason_phrase(404) == "Not Found"
    assert reason_phrase(431) == "Request Header Fields Too Large"
    assert reason_phrase(799) == ""


# forms ----------------------------------------------------------------------------


def test_parse_urlencoded_repeated_blank_and_escapes() -> None:
    fields = parse_urlencoded(b"a=1&b=&a=2&c=x+y%26z&d=%C3%A9")
    assert fields.getall("a") == ["1", "2"]
    assert fields["b"] == ""
    assert fields["c"] == "x y&z"
    assert fields["d"] == "\u00e9"
    assert [key for key, _ in fields.items()] == ["a", "b", "a", "c", "d"]


def test_parse_urlencoded_empty_body() -> None:
    assert len(parse_urlencoded(b"")) == 0


def test_parse_urlencoded_other_charset() -> None:
    fields = parse_urlencoded(b"name=caf%E9", charset="latin-1")
    assert fields["name"] == "caf\u00e9"


@pytest.mark.parametrize(
    ("body", "charset"),
    [(b"a=\xff\xfe", "utf-8"), (b"a=1", "no-such-charset")],
)
def test_parse_urlencoded_bad_encoding_is_form_error(body: bytes, charset: str) -> None:
    with pytest.raises(FormError):
        parse_urlencoded(body, charset)


# BodyStream -----------------------------------------------------------------------


class FlowLog:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def pause(self) -> None:
        self.calls.append("pause")

    def resume(self) -> None:
        self.calls.append("resume")


def _stream(high_water: int = 100, **kwargs: Any) -> tuple[BodyStream, FlowLog]:
    log = FlowLog()
    stream = BodyStream(
        high_water=high_water, pause_reading=log.pause, resume_reading=log.resume, **kwargs
    )
    return stream, log


async def test_body_stream_pauses_above_high_water_and_resumes_below_half() -> None:
    stream, log = _stream(100)
    stream.feed_data(b"a" * 100)
    assert log.calls == []  # at high water, not above
    stream.feed_data(b"b" * 10)
    assert log.calls == ["pause"]
    stream.feed_data(b"c" * 50)
    assert log.calls == ["pause"]  # paused once only
    assert stream.unread_size() == 160
    await stream.read(100)
    assert stream.unread_size() == 60
    assert log.calls == ["pause"]  # 60 > 50
    await stream.read(10)
    assert log.calls == ["pause", "resume"]
    assert stream.unread_size() == 50
    assert stream.total_bytes == 160


async def test_body_stream_reads_in_order_and_ends_with_empty_bytes() -> None:
    stream, _ = _stream()
    stream.feed_data(b"line one\nline")
    stream.feed_data(b" two\n")
    stream.feed_data(b"tail")
    stream.feed_eof()
    assert stream.is_eof() is True
    assert stream.at_eof() is False
    assert await stream.readline() == b"line one\n"
    assert await stream.readexactly(5) == b"line "
    assert await stream.readline() == b"two\n"
    assert await stream.read(2) == b"ta"
    assert await stream.readany() == b"il"
    assert stream.at_eof() is True
    assert await stream.read() == b""
    assert await stream.readany() == b""
    assert await stream.readline() == b""


async def test_body_stream_waits_for_data_and_eof() -> None:
    stream, _ = _stream()

    async def produce() -> None:
        for piece in (b"ab", b"cd", b"ef"):
            await asyncio.sleep(0)
            stream.feed_data(piece)
        stream.feed_eof()

    producer = asyncio.create_task(produce())
    assert await stream.read() == b"abcdef"
    await producer


async def test_body_stream_iterators() -> None:
    stream, _ = _stream()
    stream.feed_data(b"a\nbb\n")
    stream.feed_data(b"ccc")
    stream.feed_eof()
    assert [line async for line in stream] == [b"a\n", b"bb\n", b"ccc"]

    stream, _ = _stream()
    stream.feed_data(b"0123456789")
    stream.feed_eof()
    assert [c async for c in stream.iter_chunked(4)] == [b"0123", b"4567", b"89"]


async def test_body_stream_readexactly_short_body() -> None:
    stream, _ = _stream()
    stream.feed_data(b"abc")
    stream.feed_eof()
    with pytest.raises(asyncio.IncompleteReadError) as info:
        await stream.readexactly(5)
    assert info.value.partial == b"abc"


async def test_body_stream_readline_limit() -> None:
    stream, _ = _stream()
    stream.feed_data(b"x" * 50 + b"\n")
    stream.feed_eof()
    with pytest.raises(ValueError):
        await stream.readline(max_line_size=10)


async def test_body_stream_exception_wakes_a_waiting_reader() -> None:
    stream, _ = _stream()
    reader = asyncio.create_task(stream.read())
    await asyncio.sleep(0)
    assert not reader.done()  # it waits for data
    stream.set_exception(ConnectionResetError("gone"))
    with pytest.raises(ConnectionResetError):
        await reader
    with pytest.raises(ConnectionResetError):
        await stream.readany()


async def test_body_stream_first_read_callback_runs_once_before_waiting() -> None:
    calls: list[str] = []
    stream, _ = _stream(on_first_read=lambda: calls.append("first"))
    stream.feed_data(b"x")
    assert calls == []
    assert await stream.readany() == b"x"  # data buffered: no wait, no callback
    assert calls == []
    reader = asyncio.create_task(stream.readany())
    await asyncio.sleep(0)
    assert calls == ["first"]
    stream.feed_data(b"y")
    assert await reader == b"y"
    stream.feed_eof()
    assert await stream.read() == b""
    assert calls == ["first"]


async def test_body_stream_discard_drops_buffer_and_resumes() -> None:
    stream, log = _stream(10)
    stream.feed_data(b"x" * 30)
    assert log.calls == ["pause"]
    stream.discard()
    assert stream.unread_size() == 0
    assert log.calls == ["pause", "resume"]
