"""Responses: :class:`StreamResponse` writes as it goes, :class:`Response` holds its body.

A handler returns either one. :meth:`StreamResponse.prepare` sends the head;
:meth:`StreamResponse.write` sends body bytes, waiting while the client reads
slower than the handler writes; :meth:`StreamResponse.write_eof` ends it. The
server calls ``prepare`` and ``write_eof`` itself for a returned response the
handler has not prepared.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterable, Mapping
from http.cookies import Morsel, SimpleCookie
from typing import TYPE_CHECKING, Any

from multidict import CIMultiDict, istr

from .bodies import BodyPlan, charset_param, plan_body, send_streamed
from .channel import ResponseChannel
from .framing import BodyFraming, decide_framing, status_has_body
from .headers import accept_weights, split_header_list
from .parser import HttpVersion, RequestHead
from .response_compat import ContentCoding, ResponseCompat
from .serialize import REASON_PHRASES, encode_response_head, http_date, reason_phrase

if TYPE_CHECKING:
    from .request import BaseRequest

__all__ = ["Response", "StreamResponse", "json_bytes_response", "json_response"]

_HTTP11 = HttpVersion(1, 1)
_NONE, _LENGTH = BodyFraming.NONE, BodyFraming.LENGTH
_CHUNKED, _CLOSE = BodyFraming.CHUNKED, BodyFraming.CLOSE
_HeadersArg = Mapping[str, str] | Iterable[tuple[str, str]] | None
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


class StreamResponse(ResponseCompat):
    """A response whose body the handler writes piece by piece.

    The caller must set status and headers before :meth:`prepare`, then call
    :meth:`write` any number of times and finally :meth:`write_eof`. Without a
    ``content_length`` an HTTP/1.1 body is sent chunked; an HTTP/1.0 one ends
    when the connection closes.
    """

    # Defaults that most responses keep, as class attributes: an instance sets only
    # what differs (a response is made per request).
    _cookies: SimpleCookie | None = None
    _chunked = False
    _compression = False
    _compression_force: str | None = None
    _force_close = False
    _keep_alive: bool | None = None
    _channel: ResponseChannel | None = None
    _compressor: Any = None
    _framing = _NONE
    _remaining: int | None = None
    _eof_sent = False
    _body_length = 0

    def __init__(
        self, *, status: int = 200, reason: str | None = None, headers: _HeadersArg = None
    ) -> None:
        self._status = status
        self._reason = reason if reason is not None else REASON_PHRASES.get(status, "")
        self._headers: CIMultiDict[str] = CIMultiDict(headers) if headers else CIMultiDict()

    # status and headers -----------------------------------------------------------

    @property
    def status(self) -> int:
        """The status code."""
        return self._status

    @property
    def reason(self) -> str:
        """The reason phrase."""
        return self._reason

    def set_status(self, status: int, reason: str | None = None) -> None:
        """Change status and reason; only before :meth:`prepare`."""
        self._check_not_prepared()
        self._status = status
        self._reason = reason if reason is not None else reason_phrase(status)

    @property
    def headers(self) -> CIMultiDict[str]:
        """The response headers, editable until :meth:`prepare`."""
        return self._headers

    @property
    def content_type(self) -> str:
        """The media type of ``Content-Type`` without parameters."""
        return self._headers.get("Content-Type", "application/octet-stream").split(";")[0].strip()

    @content_type.setter
    def content_type(self, value: str) -> None:
        self._set_content_type(value, self.charset)

    @property
    def charset(self) -> str | None:
        """The ``charset`` parameter of ``Content-Type``, or ``None``."""
        return charset_param(self._headers.get("Content-Type", ""))

    @charset.setter
    def charset(self, value: str | None) -> None:
        self._set_content_type(self.content_type, value)

    def _set_content_type(self, media_type: str, charset: str | None) -> None:
        value = f"{media_type}; charset={charset}" if charset else media_type
        self._headers["Content-Type"] = value

    @property
    def content_length(self) -> int | None:
        """The ``Content-Length`` header as an int, or ``None``."""
        value = self._headers.get("Content-Length")
        return int(value) if value is not None else None

    @content_length.setter
    def content_length(self, value: int | None) -> None:
        if value is None:
            self._headers.pop("Content-Length", None)
        elif self._chunked:
            raise RuntimeError("Content-Length cannot be set on a chunked response")
        else:
            self._headers["Content-Length"] = str(int(value))

    @property
    def cookies(self) -> SimpleCookie:
        """Cookies to send as ``Set-Cookie`` headers."""
        if self._cookies is None:
            self._cookies = SimpleCookie()
        return self._cookies

    def set_cookie(
        self,
        name: str,
        value: str,
        *,
        expires: str | None = None,
        domain: str | None = None,
        max_age: int | str | None = None,
        path: str = "/",
        secure: bool | None = None,
        httponly: bool | None = None,
        samesite: str | None = None,
    ) -> None:
        """Add a ``Set-Cookie`` for ``name`` with the given attributes."""
        self.cookies[name] = value
        morsel: Morsel[str] = self.cookies[name]
        attributes = {
            "expires": expires,
            "domain": domain,
            "max-age": max_age,
            "path": path,
            "secure": secure,
            "httponly": httponly,
            "samesite": samesite,
        }
        for key, val in attributes.items():
            if val is not None and val is not False:
                morsel[key] = str(val) if val is not True else True

    def del_cookie(self, name: str, *, domain: str | None = None, path: str = "/") -> None:
        """Tell the client to drop cookie ``name`` (an expired, empty cookie)."""
        self.cookies.pop(name, None)
        self.set_cookie(
            name, "", max_age=0, expires="Thu, 01 Jan 1970 00:00:00 GMT", domain=domain, path=path
        )

    # framing choices ----------------------------------------------------------------

    def enable_chunked_encoding(self) -> None:
        """Send the body with ``Transfer-Encoding: chunked`` (HTTP/1.1 only)."""
        if "Content-Length" in self._headers:
            raise RuntimeError("chunked encoding cannot be used with a Content-Length")
        self._chunked = True

    def enable_compression(self, force: str | ContentCoding | None = None) -> None:
        """Compress the body with gzip or deflate, as the request's Accept-Encoding allows.

        ``force`` (``"gzip"`` or ``"deflate"``, or a :class:`ContentCoding`)
        compresses regardless of the request.
        """
        if isinstance(force, ContentCoding):
            force = None if force is ContentCoding.identity else force.value
        if force not in (None, "gzip", "deflate"):
            raise ValueError("force must be 'gzip', 'deflate' or None")
        self._compression = True
        self._compression_force = force

    def force_close(self) -> None:
        """Close the connection after this response instead of keeping it alive."""
        self._force_close = True

    @property
    def keep_alive(self) -> bool | None:
        """Whether the connection stays open after this response (known after prepare)."""
        return self._keep_alive

    @property
    def chunked(self) -> bool:
        """True when the body is sent chunked."""
        return self._chunked

    @property
    def compression(self) -> bool:
        """True when compression was enabled."""
        return self._compression

    @property
    def prepared(self) -> bool:
        """True once the head was sent."""
        return self._channel is not None

    @property
    def body_length(self) -> int:
        """Body bytes written so far (before transfer coding)."""
        return self._body_length

    def _check_not_prepared(self) -> None:
        if self._channel is not None:
            raise RuntimeError("the response head was already sent")

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


class Response(StreamResponse):
    """A response with its whole body given up front.

    Give ``text`` (a str, sent as ``text/plain; charset=utf-8`` unless told
    otherwise) or ``body``: bytes-like (``application/octet-stream`` by
    default), a str (encoded with ``charset``, UTF-8 by default), a file object
    (streamed, never read whole) or an async iterable of bytes (sent chunked);
    see :mod:`.bodies` for each one's defaults.
    """

    _plan: BodyPlan | None = None  # a streamed body (file or async iterable)

    def __init__(
        self,
        *,
        body: Any = None,
        status: int = 200,
        reason: str | None = None,
        text: str | None = None,
        headers: _HeadersArg = None,
        content_type: str | None = None,
        charset: str | None = None,
    ) -> None:
        self._status = status
        self._reason = reason if reason is not None else REASON_PHRASES.get(status, "")
        self._headers: CIMultiDict[str] = CIMultiDict(headers) if headers else CIMultiDict()
        if body is not None and text is not None:
            raise ValueError("body and text are not allowed together")
        if content_type is not None and charset is not None and "charset" in content_type:
            raise ValueError("charset must not be in content_type when given separately")
        has_type = headers is not None and _CONTENT_TYPE in self._headers
        if has_type and (content_type is not None or charset is not None):
            raise ValueError("Content-Type header and content_type/charset are exclusive")
        if text is not None:
            if type(text) is not str and not isinstance(text, str):
                raise TypeError(f"text must be str, not {type(text).__name__}")
            if charset is None and content_type is None and not has_type:
                self._body: bytes = text.encode()
                self._headers[_CONTENT_TYPE] = "text/plain; charset=utf-8"
                return
            charset = charset or "utf-8"
            self._body = text.encode(charset)
            if not has_type:
                self._set_content_type(content_type or "text/plain", charset)
        elif body is None:
            self._body = b""
            if not has_type and content_type is not None:
                self._set_content_type(content_type, charset)
        else:
            if type(body) is bytes:  # the common case: no plan to make
                self._body = body
                if not has_type:
                    self._set_content_type(content_type or "application/octet-stream", charset)
                return
            self._take_body(body, None if has_type else content_type, charset)

    def _take_body(self, body: object, content_type: str | None, charset: str | None) -> None:
        """Classify ``body`` and, when ``content_type`` is not None or no type is set, type it."""
        given = charset_param(content_type) if content_type else None
        body_charset = charset or given or self.charset or "utf-8"
        plan = plan_body(body, body_charset)
        self._plan = plan if plan.data is None else None
        self._body = plan.data if plan.data is not None else b""
        if "Content-Type" not in self._headers or content_type is not None:
            if plan.text and charset is None and given is None:
                charset = body_charset
            self._set_content_type(content_type or plan.content_type or "", charset)
        if plan.filename is not None and "Content-Disposition" not in self._headers:
            self._headers["Content-Disposition"] = f'attachment; filename="{plan.filename}"'

    @property
    def body(self) -> Any:
        """The body: bytes when in memory, else the file or async iterable given."""
        return self._plan.stream if self._plan is not None else self._body

    @body.setter
    def body(self, value: Any) -> None:
        self._check_not_prepared()
        self._take_body(value, None, None)

    @property
    def text(self) -> str:
        """The body decoded with the response charset (UTF-8 by default)."""
        return self._body.decode(self.charset or "utf-8")

    @text.setter
    def text(self, value: str) -> None:
        self._check_not_prepared()
        self._plan = None
        self._body = value.encode(self.charset or "utf-8")

    async def prepare(self, request: BaseRequest) -> None:
        """Send head and body at once (a streamed body: the head, then the body piece by piece)."""
        if self._channel is not None:
            return
        channel = request.channel
        plan = self._plan
        if plan is not None:
            await self._send_streamed(channel, request.head, plan)
            return
        self.send_to(channel, request.head)
        if channel.writing_paused:
            await channel.drain()

    @property
    def streamed(self) -> bool:
        """True when the body is a file object or an async iterable, sent by :meth:`prepare`.

        Such a response cannot be sent by :meth:`send_to`, which sends a body in memory.
        """
        return self._plan is not None

    async def _send_streamed(
        self, channel: ResponseChannel, request: RequestHead, plan: BodyPlan
    ) -> None:
        """Send the head, then ``plan``'s stream through :meth:`write`, then end the body.

        A stream of known length (a file) is framed by ``Content-Length`` (a
        promise :meth:`write` enforces), any other is chunked (HTTP/1.1) or ends
        with the connection (HTTP/1.0): :func:`~.framing.decide_framing` decides.
        For HEAD and the statuses without a body nothing is read from the stream.
        """
        if plan.length is not None and not self._chunked and _CONTENT_LENGTH not in self._headers:
            self._headers[_CONTENT_LENGTH] = str(plan.length)
        self._send_head(channel, request, None)
        await send_streamed(self, plan, self.charset or "utf-8", self._framing is not _NONE)
        await StreamResponse.write_eof(self)

    def send_to(self, channel: ResponseChannel, request: RequestHead | None) -> None:
        """Send the whole response on ``channel`` now, for ``request``.

        ``request`` is ``None`` when answering a request that could not be read
        (the answer is then HTTP/1.1 and closes the connection). The server uses
        this for the responses it makes itself; a handler calls :meth:`prepare`.
        The body must be in memory (:attr:`streamed` is False).
        """
        self._send_head(channel, request, self._body)
        self._eof_sent = True

    async def write_eof(self, data: bytes = b"") -> None:
        """Nothing to do: :meth:`prepare` sent the whole body."""
        if data:
            raise RuntimeError("a Response sends its body from .body, not write_eof(data)")


def json_response(
    data: Any = None,
    *,
    text: str | None = None,
    body: bytes | None = None,
    status: int = 200,
    reason: str | None = None,
    headers: _HeadersArg = None,
    content_type: str = "application/json",
    dumps: Callable[[Any], str] = json.dumps,
) -> Response:
    """A :class:`Response` with ``data`` serialized by ``dumps`` as its JSON body."""
    if data is not None:
        if text is not None or body is not None:
            raise ValueError("only one of data, text or body may be given")
        text = dumps(data)
    return Response(
        text=text,
        body=body,
        status=status,
        reason=reason,
        headers=headers,
        content_type=content_type,
    )


def json_bytes_response(
    data: Any = None,
    *,
    dumps: Callable[[Any], bytes],
    body: bytes | None = None,
    status: int = 200,
    reason: str | None = None,
    headers: _HeadersArg = None,
    content_type: str = "application/json",
) -> Response:
    """A :class:`Response` with ``data`` serialized to bytes by ``dumps`` (orjson's style)."""
    if data is not None:
        if body is not None:
            raise ValueError("only one of data or body may be given")
        body = dumps(data)
    return Response(
        body=body, status=status, reason=reason, headers=headers, content_type=content_type
    )
