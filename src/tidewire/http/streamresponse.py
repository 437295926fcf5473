"""Sending a response: :class:`StreamResponse` writes its body as it goes.

:meth:`StreamResponse.prepare` sends the head; :meth:`StreamResponse.write`
sends body bytes, waiting while the client reads slower than the handler
writes; :meth:`StreamResponse.write_eof` ends it. The server calls ``prepare``
and ``write_eof`` itself for a returned response the handler has not prepared.
``_send_head`` is the one place that fixes a response's framing (see
:mod:`.framing`) and serializes its head; the head's editable state lives in
:mod:`.response_head`, the whole-body :class:`~.response.Response` in
:mod:`.response`.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any

from multidict import istr

from .channel import ResponseChannel
from .framing import BodyFraming, decide_framing, status_has_body
from .headers import accept_weights, split_header_list
from .parser import HttpVersion, RequestHead
from .response_head import ResponseHead
from .serialize import encode_response_head, http_date

if TYPE_CHECKING:
    from .request import BaseRequest

__all__ = ["StreamResponse"]

_HTTP11 = HttpVersion(1, 1)
_NONE, _LENGTH = BodyFraming.NONE, BodyFraming.LENGTH
_CHUNKED, _CLOSE = BodyFraming.CHUNKED, BodyFraming.CLOSE
# Header names as istr: case-insensitive lookups then skip folding the name each time.
_CONTENT_LENGTH = istr("Content-Length")
_CONTENT_TYPE = istr("Content-Type")
_TRANSFER_ENCODING = istr("Transfer-Encoding")
_CONNECTION = istr("Connection")
_DATE = istr("Date")
_SERVER = istr("Server")


def choose_coding(accept_encoding: str) -> str | None:
    """``"gzip"`` or ``"deflate"`` if ``Accept-Encoding`` accepts it (q > 0), gzip first."""
    weights = accept_weights(accept_encoding)
    for coding in ("gzip", "deflate"):
        if weights.get(coding, weights.get("*", 0.0)) > 0:
            return coding
    return None


def _parse_length(value: str | None) -> int | None:
    """A declared ``Content-Length`` as an int; ``ValueError`` unless digits only."""
    if value is None:
        return None
    if not value.isdigit() or not value.isascii():
        raise ValueError(f"invalid Content-Length {value!r}")
    return int(value)


def _says_close(connection: str) -> bool:
    """True when a ``Connection`` value holds the ``close`` option (RFC 9112 section 9.6)."""
    return "close" in split_header_list(connection.lower())


class StreamResponse(ResponseHead):
    """A response whose body the handler writes piece by piece.

    The caller must set status and headers before :meth:`prepare`, then call
    :meth:`write` any number of times and finally :meth:`write_eof`. Without a
    ``content_length`` an HTTP/1.1 body is sent chunked; an HTTP/1.0 one ends
    when the connection closes.
    """

    # Sending state, as class-attribute defaults (see ResponseHead): set by _send_head.
    _compressor: Any = None
    _framing = _NONE
    _remaining: int | None = None
    _eof_sent = False
    _body_length = 0

    @property
    def body_length(self) -> int:
        """Body bytes written so far (before transfer coding)."""
        return self._body_length

    # sending ------------------------------------------------------------------------

    async def prepare(self, request: BaseRequest) -> None:
        """Send the status line and headers; the caller may then :meth:`write` the body.

        The framing is fixed here (see :mod:`.framing`): a ``Content-Length``
        set before is a promise the caller must keep with :meth:`write`.
        Calling it again does nothing.
        """
        if self._channel is None:
            self._send_head(request.channel, request.head, None)

    def _send_head(
        self, channel: ResponseChannel, request: RequestHead | None, body: bytes | None
    ) -> None:
        """Decide the framing, serialize the head and send it (with ``body`` when whole).

        ``request`` is ``None`` for an answer to a request that could not be read:
        it is then sent as HTTP/1.1 and closes the connection.
        """
        headers = self._headers
        status = self._status
        if request is not None:
            version = request.version
            keep_alive = request.keep_alive and not channel.closing and not self._force_close
            head_request = request.method == "HEAD"
        else:
            version, keep_alive, head_request = _HTTP11, False, False
        if self._compression and status_has_body(status):
            accept = request.headers.get("Accept-Encoding", "") if request is not None else ""
            body = self._start_compression(accept, body)
        declared = headers.get(_CONTENT_LENGTH)
        length = len(body) if body is not None else _parse_length(declared)
        connection = headers.get(_CONNECTION)
        http11 = version >= _HTTP11
        framing = decide_framing(
            status,
            head_request,
            http11,
            keep_alive,
            length,
            self._chunked,
            connection is not None and _says_close(connection),
        )
        kind, length, send_body, keep_alive = framing
        if declared is not None or _TRANSFER_ENCODING in headers:
            headers.popall(_CONTENT_LENGTH, None)
            headers.popall(_TRANSFER_ENCODING, None)
        if kind is _LENGTH:
            headers[_CONTENT_LENGTH] = str(length)
        elif kind is _CHUNKED:
            headers[_TRANSFER_ENCODING] = "chunked"
        elif not status_has_body(status):
            headers.popall(_CONTENT_TYPE, None)
        self._chunked = kind is _CHUNKED
        if not send_body:
            kind = _NONE
        headers.setdefault(_DATE, http_date())
        if channel.server_header:
            headers.setdefault(_SERVER, channel.server_header)
        if not keep_alive:
            if status != 101:
                headers[_CONNECTION] = "close"
        elif connection is None and not http11:
            headers[_CONNECTION] = "keep-alive"
        if self._cookies:
            for morsel in self._cookies.values():
                headers.add("Set-Cookie", morsel.OutputString())
        head = encode_response_head(version, status, self._reason, headers.items())
        self._keep_alive = keep_alive
        self._framing = kind
        self._channel = channel
        if kind is _LENGTH:
            self._remaining = length
        if body is not None:  # a whole body: the message is complete with this write
            self._body_length = len(body)
            if kind is _LENGTH:
                head += body
                self._remaining = 0
            elif kind is _CHUNKED:
                head += b"%x\r\n%b\r\n0\r\n\r\n" % (len(body), body) if body else b"0\r\n\r\n"
            elif kind is _CLOSE:
                head += body
        channel.send(head)

    def _start_compression(self, accept_encoding: str, body: bytes | None) -> bytes | None:
        coding = self._compression_force
        if coding is None:
            coding = choose_coding(accept_encoding)
        if coding is None:
            return body
        wbits = 16 + zlib.MAX_WBITS if coding == "gzip" else zlib.MAX_WBITS
        self._headers["Content-Encoding"] = coding
        self._headers.add("Vary", "Accept-Encoding")
        compressor = zlib.compressobj(wbits=wbits)
        if body is not None:
            return compressor.compress(body) + compressor.flush()
        self._headers.popall("Content-Length", None)
        self._compressor = compressor
        return None

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        """Send a piece of the body; waits while the client's socket buffer is full.

        The caller must have called :meth:`prepare` and not yet :meth:`write_eof`.
        With a ``Content-Length``, writing past it raises :class:`RuntimeError`
        and nothing of ``data`` is sent; the connection is then closed after
        the response rather than reused (RFC 9112 section 6.3).
        """
        channel = self._channel
        if channel is None:
            raise RuntimeError("call prepare() before write()")
        if self._eof_sent:
            raise RuntimeError("cannot write() after write_eof()")
        size = len(data)
        if not size:
            return
        self._count_body(size)
        kind = self._framing
        if kind is _NONE:
            return
        payload = data if type(data) is bytes else bytes(data)
        if self._compressor is not None:
            payload = self._compressor.compress(payload)
            if not payload:
                return
        if kind is _CHUNKED:
            channel.send(b"%x\r\n%b\r\n" % (len(payload), payload))
        else:
            channel.send(payload)
        if channel.writing_paused:
            await channel.drain()

    def _count_body(self, size: int) -> None:
        """Count ``size`` body bytes about to be sent; ``RuntimeError`` past ``Content-Length``.

        :meth:`write` calls it; a subclass that sends body bytes by another way
        (``FileResponse`` with sendfile) must call it first too. Past the promise
        nothing is counted and the connection will not be reused.
        """
        remaining = self._remaining
        if remaining is not None:
            if size > remaining:
                self._keep_alive = False
                raise RuntimeError(
                    f"write of {size} bytes exceeds Content-Length by {size - remaining}"
                )
            self._remaining = remaining - size
        self._body_length += size

    def _uncount_body(self, size: int) -> None:
        """Take back a :meth:`_count_body` whose bytes were not sent after all."""
        if self._remaining is not None:
            self._remaining += size
        self._body_length -= size

    async def write_eof(self, data: bytes = b"") -> None:
        """Send ``data`` (if any) and end the body. Calling it again does nothing.

        A body shorter than its ``Content-Length`` cannot be completed: the
        connection is then closed after the response, so the client sees the
        message end early instead of waiting or misreading the next response.
        """
        if self._eof_sent:
            return
        if data:
            await self.write(data)
        channel = self._channel
        if channel is None:
            raise RuntimeError("call prepare() before write_eof()")
        self._eof_sent = True
        if self._remaining:
            self._keep_alive = False
        kind = self._framing
        if kind is _NONE or kind is _LENGTH:  # a compressed stream has no length
            return
        tail = b""
        if self._compressor is not None:
            tail = self._compressor.flush()
            if tail and kind is _CHUNKED:
                tail = b"%x\r\n%b\r\n" % (len(tail), tail)
        if kind is _CHUNKED:
            tail += b"0\r\n\r\n"
        if tail:
            channel.send(tail)
        if channel.writing_paused:
            await channel.drain()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._status} {self._reason}>"
