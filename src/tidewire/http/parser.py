"""Sans-I/O request reading: bytes in, request heads and body chunks out.

:class:`RequestReader` wraps httptools (llhttp) and adds what llhttp leaves to
its caller: size limits on the request line, on each header and on the whole
head. llhttp itself rejects the framing attacks of RFC 9112 section 6.3 (a
Transfer-Encoding together with a Content-Length, two Content-Length values,
a transfer coding other than a final ``chunked``, bad chunk sizes), obsolete
line folding and control characters in fields; all of those become a
:class:`BadRequest` with status 400.

It knows nothing of sockets or asyncio: the caller feeds bytes and receives
calls on a :class:`RequestSink`.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

import httptools
from multidict import CIMultiDict, CIMultiDictProxy

from .config import ServerConfig

__all__ = ["BadRequest", "HttpVersion", "RequestHead", "RequestReader", "RequestSink"]


class HttpVersion(NamedTuple):
    """An HTTP version, compared as a tuple: ``HttpVersion(1, 1) >= (1, 0)``."""

    major: int
    minor: int


HTTP10 = HttpVersion(1, 0)
HTTP11 = HttpVersion(1, 1)
_VERSIONS = {"1.1": HTTP11, "1.0": HTTP10}
# RequestHead slots that hold a form of raw_headers (compared through raw_headers).
_DERIVED_SLOTS = frozenset(("_headers", "_packed", "_raw_headers"))


class BadRequest(Exception):
    """A request the server must refuse: answer ``status`` and close the connection."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class RequestHead:
    """A parsed request line and header section (treat it as read-only).

    ``keep_alive`` is llhttp's verdict from the version and ``Connection``;
    ``upgrade`` is true when the request asks to switch protocols, in which case
    the bytes after the head belong to the new protocol. ``chunked`` and
    ``content_length`` describe the body framing llhttp accepted.
    """

    __slots__ = (
        "_headers",
        "_packed",
        "_raw_headers",
        "chunked",
        "content_length",
        "has_body",
        "keep_alive",
        "method",
        "raw_path",
        "upgrade",
        "version",
    )

    # raw_headers packed by compact(), set only while _raw_headers is None (not in __init__:
    # a plain request never pays for it).
    _packed: bytes

    def __init__(
        self,
        method: str,
        raw_path: str,
        version: HttpVersion,
        raw_headers: tuple[tuple[bytes, bytes], ...],
        keep_alive: bool,
        upgrade: bool,
        chunked: bool,
        content_length: int | None,
    ) -> None:
        self.method = method
        self.raw_path = raw_path
        self.version = version
        self._raw_headers: tuple[tuple[bytes, bytes], ...] | None = raw_headers
        self.keep_alive = keep_alive
        self.upgrade = upgrade
        self.chunked = chunked
        self.content_length = content_length
        #: True when the request announced a body (RFC 9112 section 6.3).
        self.has_body = chunked or bool(content_length)
        self._headers: CIMultiDictProxy[str] | None = None

    @property
    def raw_headers(self) -> tuple[tuple[bytes, bytes], ...]:
        """The header fields as received (name case kept, surrounding whitespace not)."""
        raw = self._raw_headers
        if raw is None:  # compact() packed them
            lines = self._packed.split(b"\n")
            raw = self._raw_headers = tuple(
                (name, value) for name, _, value in (line.partition(b":") for line in lines)
            )
            del self._packed
        return raw

    @property
    def headers(self) -> CIMultiDictProxy[str]:
        """The header fields, case-insensitive (decoded as Latin-1 on first use)."""
        headers = self._headers
        if headers is None:
            raw = self._raw_headers
            if raw is None:
                raw = self.raw_headers
            headers = self._headers = CIMultiDictProxy(
                CIMultiDict([(n.decode("latin-1"), v.decode("latin-1")) for n, v in raw])
            )
        return headers

    def compact(self) -> None:
        """Keep the header section in its smallest form; both views are rebuilt on use.

        For a request that lives long after its head was read (an upgraded
        connection's, which may idle for hours): the decoded :attr:`headers` are
        dropped, and :attr:`raw_headers` is packed into one ``name:value`` line
        per field. The packing is lossless because a field name is a token (no
        ``:``, RFC 9110 section 5.1) and a value holds no LF (RFC 9110 section
        5.5); a head that breaks either rule (a lenient parser's) stays unpacked.
        Costs nothing until called, so plain requests never pay for it.
        """
        self._headers = None
        raw = self._raw_headers
        if not raw or any(b":" in name or b"\n" in value for name, value in raw):
            return
        self._packed = b"\n".join([name + b":" + value for name, value in raw])
        self._raw_headers = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RequestHead):
            return NotImplemented
        return self.raw_headers == other.raw_headers and all(
            getattr(self, name) == getattr(other, name)
            for name in self.__slots__
            if name not in _DERIVED_SLOTS
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"<RequestHead {self.method} {self.raw_path} HTTP/{self.version[0]}.{self.version[1]}>"
        )


class RequestSink(Protocol):
    """What a :class:`RequestReader` calls while it parses."""

    def on_head(self, head: RequestHead) -> None:
        """A request head is complete; its body (if any) follows."""

    def on_body(self, chunk: bytes) -> None:
        """A piece of the current request's body (chunked framing removed)."""

    def on_message_complete(self) -> None:
        """The current request's body is complete."""


class RequestReader:
    """Turns bytes into :class:`RequestSink` calls, enforcing the head limits.

    The caller must pass every received byte to :meth:`feed` in order. When
    :meth:`feed` raises :class:`BadRequest` the caller must answer with its status
    and close the connection. When it returns bytes, the request just parsed is
    an upgrade without a body: the returned bytes follow its head, and the
    caller must either give them to the new protocol (and never feed the reader
    again) or, when the upgrade is declined, feed them back as HTTP.

    An upgrade request *with* a body is read like any other request, body
    included: it cannot be handed over (its body's end is where a smuggled
    request would start), so the bytes after it are HTTP.
    """

    __slots__ = (
        "_coding",
        "_config",
        "_continuing",
        "_fed_in_head",
        "_feeding",
        "_head_bytes",
        "_hosts",
        "_in_head",
        "_last_head",
        "_length",
        "_parser",
        "_raw",
        "_sink",
        "_skip_complete",
        "_url",
    )

    def __init__(self, sink: RequestSink, config: ServerConfig) -> None:
        self._sink = sink
        self._config = config
        self._parser = httptools.HttpRequestParser(self)
        self._url = b""
        self._raw: list[tuple[bytes, bytes]] = []
        self._hosts = 0
        self._length: bytes | None = None
        self._coding: bytes | None = None
        self._in_head = False
        self._head_bytes = 0
        self._fed_in_head = 0
        self._feeding = 0
        self._continuing = False
        self._skip_complete = False
        self._last_head: RequestHead | None = None

    @property
    def in_head(self) -> bool:
        """True between the first byte of a request and the end of its head."""
        return self._in_head

    def feed(self, data: bytes | memoryview) -> bytes | None:
        """Parse ``data``; return the bytes after an upgrade head, else ``None``."""
        self._feeding = len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            tail = bytes(data[upgrade.args[0] :])
            head = self._last_head
            if head is None or not head.has_body:
                return tail
            self._read_upgrade_body(head)
            return self.feed(tail) if tail else None
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            if isinstance(cause, BadRequest):
                raise cause from None
            raise
        except httptools.HttpParserError as exc:
            raise BadRequest(400, f"Bad request: {exc}") from None
        if self._in_head:
            # llhttp buffers a header it has not finished; bound what it may hold.
            self._fed_in_head += len(data)
            if self._fed_in_head > self._config.max_head_size:
                raise BadRequest(431, "Request header section too large")
        return None

    def _read_upgrade_body(self, head: RequestHead) -> None:
        """Make the parser read the body of an upgrade request it skipped.

        httptools tells llhttp to skip the body of any upgrade request and stops
        after the head. A fresh parser is primed with a head that frames the same
        body (which the sink never sees) and parses the body and what follows.
        """
        self._parser = httptools.HttpRequestParser(self)
        framing = (
            b"Transfer-Encoding: chunked"
            if head.chunked
            else b"Content-Length: %d" % (head.content_length or 0)
        )
        self._continuing = True
        try:
            self._parser.feed_data(b"POST / HTTP/1.1\r\n" + framing + b"\r\n\r\n")
        finally:
            self._continuing = False

    # httptools callbacks ---------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._continuing:
            return
        self._in_head = True
        self._head_bytes = 0
        # This read's head bytes are counted exactly by on_url/on_header; later
        # reads are counted whole while the head is still incomplete.
        self._fed_in_head = -self._feeding
        self._url = b""
        self._raw = []
        self._hosts = 0
        self._length = None
        self._coding = None

    def on_url(self, url: bytes) -> None:
        if self._continuing:
            return
        self._url += url
        if len(self._url) > self._config.max_line_size:
            raise BadRequest(414, "Request line too long")
        self._head_bytes += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._continuing:
            return
        config = self._config
        if len(name) > config.max_field_size or len(value) > config.max_field_size:
            raise BadRequest(431, "Request header field too large")
        if value and (value[-1] in _OWS or value[0] in _OWS):
            value = value.strip(b" \t")  # optional whitespace is not part of the value
        raw = self._raw
        raw.append((name, value))
        if len(raw) > config.max_headers:
            raise BadRequest(431, "Too many request header fields")
        size = len(name)
        if size == 4 or size == 14 or size == 17:  # the fields the framing depends on
            lowered = name.lower()
            if lowered == b"host":
                self._hosts += 1
            elif lowered == b"content-length":
                self._length = value
            elif lowered == b"transfer-encoding":
                coding = self._coding
                self._coding = value if coding is None else coding + b", " + value
        self._head_bytes += len(name) + len(value) + 4
        if self._head_bytes > config.max_head_size:
            raise BadRequest(431, "Request header section too large")

    def on_headers_complete(self) -> None:
        if self._continuing:
            return
        parser = self._parser
        self._in_head = False
        version = parser.get_http_version()
        http_version = _VERSIONS.get(version)
        if http_version is None:
            if version < "1":
                # llhttp reads a request line without a version (HTTP/0.9's) as 0.9:
                # malformed for us (RFC 9112 section 3), a client error, not a 505.
                raise BadRequest(400, "Request line without a valid HTTP version")
            raise BadRequest(505, f"HTTP/{version} is not supported")
        hosts = self._hosts
        if hosts > 1 or (not hosts and http_version is HTTP11):
            # RFC 9112 section 3.2: exactly one Host in HTTP/1.1, at most one before.
            raise BadRequest(400, "A request needs exactly one Host header")
        coding = self._coding
        if coding is not None and coding.strip().lower() != b"chunked":
            # RFC 9112 section 6.1: we decode no transfer coding but chunked.
            shown = coding.decode("latin-1")
            raise BadRequest(501, f"Transfer-Encoding {shown!r} is not implemented")
        length = self._length
        method = parser.get_method()
        head = RequestHead(
            _METHODS.get(method) or method.decode("ascii"),
            self._url.decode("utf-8", "surrogateescape"),
            http_version,
            tuple(self._raw),
            parser.should_keep_alive(),
            parser.should_upgrade(),
            coding is not None,
            int(length) if length is not None else None,
        )
        self._last_head = head
        # llhttp ends an upgrade request at its head; one with a body is not over yet.
        self._skip_complete = head.upgrade and head.has_body
        self._sink.on_head(head)

    def on_body(self, body: bytes) -> None:
        self._sink.on_body(body)

    def on_message_complete(self) -> None:
        if self._skip_complete:
            self._skip_complete = False
            return
        self._sink.on_message_complete()


_OWS = b" \t"
_METHODS = {m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH")}
