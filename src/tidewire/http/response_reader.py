"""Sans-I/O response reading for tidewire's clients: bytes in, a response head and body out.

:class:`ResponseReader` wraps httptools' response parser (llhttp) and applies the
same head limits the server applies to requests (:class:`~tidewire.http.config.ServerConfig`:
``max_line_size`` for the status line, ``max_field_size``, ``max_headers``,
``max_head_size``), so a hostile server cannot make a tidewire client buffer an
unbounded head. It is used by the WebSocket client's opening handshake and by
the test kit's HTTP client; it knows nothing of sockets.
"""

from __future__ import annotations

import httptools
from multidict import CIMultiDict, CIMultiDictProxy

from .config import ServerConfig

__all__ = ["BadResponse", "ResponseHead", "ResponseReader"]

_DEFAULT_LIMITS = ServerConfig()
_OWS = b" \t"


class BadResponse(Exception):
    """The peer's response is malformed or passes a head limit; the caller must drop it."""


class ResponseHead:
    """A parsed status line and header section (treat it as read-only)."""

    __slots__ = ("headers", "keep_alive", "raw_headers", "reason", "status", "upgrade", "version")

    def __init__(
        self,
        status: int,
        reason: str,
        version: str,
        headers: CIMultiDictProxy[str],
        raw_headers: tuple[tuple[bytes, bytes], ...],
        keep_alive: bool,
        upgrade: bool,
    ) -> None:
        self.status = status
        self.reason = reason
        self.version = version
        self.headers = headers
        self.raw_headers = raw_headers
        self.keep_alive = keep_alive
        self.upgrade = upgrade

    def __repr__(self) -> str:
        return f"<ResponseHead {self.status} {self.reason}>"


class ResponseReader:
    """Turns the bytes of one response into a :class:`ResponseHead` and its body.

    The caller must pass every received byte to :meth:`feed` in order, and call
    :meth:`feed_eof` when the peer closes. :attr:`head` is set once the head is
    complete; :attr:`complete` once the whole message is (a body delimited by
    the connection's end completes at :meth:`feed_eof`). When the response
    switches protocols (101 with an upgrade), :meth:`feed` returns the bytes
    after the head, which belong to the new protocol, and the reader must not be
    fed again. With ``head_only`` (a response to HEAD), the message completes at
    the end of its head. ``max_body`` (0: none) bounds the body in bytes.
    Violations raise :class:`BadResponse`.
    """

    __slots__ = (
        "_body",
        "_body_size",
        "_fed_in_head",
        "_head_bytes",
        "_head_only",
        "_headers",
        "_limits",
        "_max_body",
        "_parser",
        "_reason",
        "complete",
        "head",
    )

    def __init__(
        self, limits: ServerConfig = _DEFAULT_LIMITS, *, head_only: bool = False, max_body: int = 0
    ) -> None:
        self._limits = limits
        self._max_body = max_body
        self._body_size = 0
        self._head_only = head_only
        self._parser = httptools.HttpResponseParser(self)
        self._headers: list[tuple[bytes, bytes]] = []
        self._reason = b""
        self._head_bytes = 0
        self._fed_in_head = 0
        self._body: list[bytes] = []
        self.head: ResponseHead | None = None
        self.complete = False

    @property
    def body(self) -> bytes:
        """The body received so far (chunked framing removed)."""
        return b"".join(self._body)

    def feed(self, data: bytes) -> bytes | None:
        """Parse ``data``; return the bytes after a protocol-switching head, else ``None``."""
        if self.complete:
            return None
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            return data[upgrade.args[0] :]
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            if isinstance(cause, BadResponse):
                raise cause from None
            raise BadResponse(f"malformed response: {exc}") from None
        except httptools.HttpParserError as exc:
            raise BadResponse(f"malformed response: {exc}") from None
        if self.head is None:
            # llhttp buffers a field it has not finished; bound the whole head.
            self._fed_in_head += len(data)
            if self._fed_in_head > self._limits.max_head_size:
                raise BadResponse("response head too large")
        return None

    def feed_eof(self) -> None:
        """The peer closed: end a body delimited by the close, or raise :class:`BadResponse`."""
        if self.complete:
            return
        head = self.head
        if head is None:
            raise BadResponse("connection closed before the response head was complete")
        headers = head.headers
        # RFC 9112 section 6.3 rule 8: no length and no chunking means "until close".
        if "Content-Length" in headers or "chunked" in headers.get("Transfer-Encoding", ""):
            raise BadResponse("connection closed before the response body was complete")
        self.complete = True

    # httptools callbacks --------------------------------------------------------

    def on_status(self, status: bytes) -> None:
        self._reason += status
        if len(self._reason) > self._limits.max_line_size:
            raise BadResponse("status line too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        limits = self._limits
        if len(name) > limits.max_field_size or len(value) > limits.max_field_size:
            raise BadResponse("response header field too large")
        if value and (value[-1] in _OWS or value[0] in _OWS):
            value = value.strip(b" \t")
        headers = self._headers
        headers.append((name, value))
        if len(headers) > limits.max_headers:
            raise BadResponse("too many response header fields")
        self._head_bytes += len(name) + len(value) + 4
        if self._head_bytes > limits.max_head_size:
            raise BadResponse("response head too large")

    def on_headers_complete(self) -> None:
        parser = self._parser
        raw = tuple(self._headers)
        headers = CIMultiDict([(n.decode("latin-1"), v.decode("latin-1")) for n, v in raw])
        self.head = ResponseHead(
            parser.get_status_code(),
            self._reason.decode("latin-1"),
            parser.get_http_version(),
            CIMultiDictProxy(headers),
            raw,
            parser.should_keep_alive(),
            parser.should_upgrade(),
        )
        if self._head_only:
            self.complete = True

    def on_body(self, body: bytes) -> None:
        if not self._head_only and body:
            self._body_size += len(body)
            if self._max_body and self._body_size > self._max_body:
                raise BadResponse(f"response body larger than {self._max_body} bytes")
            self._body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True
