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
from typing import TYPE_CHECKING, Any, Protocol

from multidict import CIMultiDict

from .bodies import BodyPlan, charset_param, plan_body, send_streamed
from .response_compat import ContentCoding, ResponseCompat
from .serialize import encode_response_head, http_date, reason_phrase

if TYPE_CHECKING:
    from .request import BaseRequest

__all__ = ["Response", "ResponseChannel", "StreamResponse", "json_bytes_response", "json_response"]

_NO_BODY = frozenset({204, 304})
_HeadersArg = Mapping[str, str] | Iterable[tuple[str, str]] | None


class ResponseChannel(Protocol):
    """The connection side a response writes to (implemented by the HTTP protocol)."""

    server_header: str

    def send(self, data: bytes) -> None:
        """Queue ``data`` on the transport; raises ``ConnectionResetError`` once it closed."""

    @property
    def writing_paused(self) -> bool:
        """True while the transport's buffer is above its high-water mark."""

    async def drain(self) -> None:
        """Wait until the transport's buffer is below its low-water mark."""


def choose_coding(accept_encoding: str) -> str | None:
    """``"gzip"`` or ``"deflate"`` if ``Accept-Encoding`` accepts it (q > 0), gzip first."""
    weights: dict[str, float] = {}
    for item in accept_encoding.split(","):
        coding, _, params = item.partition(";")
        weight = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        weights[coding.strip().lower()] = weight
    for coding in ("gzip", "deflate"):
        if weights.get(coding, weights.get("*", 0.0)) > 0:
            return coding
    return None


def _status_allows_body(status: int) -> bool:
    return status >= 200 and status not in _NO_BODY


class StreamResponse(ResponseCompat):
    """A response whose body the handler writes piece by piece.

    The caller must set status and headers before :meth:`prepare`, then call
    :meth:`write` any number of times and finally :meth:`write_eof`. Without a
    ``content_length`` an HTTP/1.1 body is sent chunked; an HTTP/1.0 one ends
    when the connection closes.
    """

    def __init__(
        self, *, status: int = 200, reason: str | None = None, headers: _HeadersArg = None
    ) -> None:
        self._status = status
        self._reason = reason if reason is not None else reason_phrase(status)
        self._headers: CIMultiDict[str] = CIMultiDict(headers) if headers else CIMultiDict()
        self._cookies: SimpleCookie | None = None
        self._chunked = False
        self._compression: bool = False
        self._compression_force: str | None = None
        self._force_close = False
        self._keep_alive: bool | None = None
        self._channel: ResponseChannel | None = None
        self._compressor: Any = None
        self._send_body = True
        self._eof_sent = False
        self._body_length = 0

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
        for param in self._headers.get("Content-Type", "").split(";")[1:]:
            key, _, val = param.partition("=")
            if key.strip().lower() == "charset":
                return val.strip().strip('"').lower()
        return None

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

        Calling it again does nothing.
        """
        if self._channel is None:
            self._send_head(request, None)

    def _send_head(self, request: BaseRequest, body: bytes | None) -> None:
        """Fix the framing, serialize the head and send it (with ``body`` when whole)."""
        channel = request._channel
        headers = self._headers
        status = self._status
        version = request.version
        keep_alive = request.keep_alive and not self._force_close
        has_body = _status_allows_body(status)
        if not has_body:
            headers.pop("Content-Length", None)
            headers.pop("Transfer-Encoding", None)
            self._chunked = False
        elif self._compression:
            body = self._start_compression(request, body)
        if has_body and body is None and "Content-Length" not in headers:
            if version >= (1, 1):
                self._chunked = True
            else:
                keep_alive = False
        if self._chunked:
            headers["Transfer-Encoding"] = "chunked"
        if body is not None and has_body:
            headers["Content-Length"] = str(len(body))
        if "Date" not in headers:
            headers["Date"] = http_date()
        if channel.server_header and "Server" not in headers:
            headers["Server"] = channel.server_header
        if "Connection" not in headers:
            if not keep_alive:
                headers["Connection"] = "close"
            elif version < (1, 1):
                headers["Connection"] = "keep-alive"
        elif headers["Connection"].lower() == "close":
            keep_alive = False
        if self._cookies:
            for morsel in self._cookies.values():
                headers.add("Set-Cookie", morsel.OutputString())
        head = encode_response_head(version, status, self._reason, headers.items())
        self._keep_alive = keep_alive
        self._send_body = has_body and request.method != "HEAD"
        self._channel = channel
        if body and self._send_body:
            channel.send(head + body)
            self._body_length = len(body)
        else:
            channel.send(head)

    def _start_compression(self, request: BaseRequest, body: bytes | None) -> bytes | None:
        coding = self._compression_force
        if coding is None:
            coding = choose_coding(request.headers.get("Accept-Encoding", ""))
        if coding is None:
            return body
        wbits = 16 + zlib.MAX_WBITS if coding == "gzip" else zlib.MAX_WBITS
        self._headers["Content-Encoding"] = coding
        self._headers.add("Vary", "Accept-Encoding")
        compressor = zlib.compressobj(wbits=wbits)
        if body is not None:
            return compressor.compress(body) + compressor.flush()
        self._headers.pop("Content-Length", None)
        self._compressor = compressor
        return None

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        """Send a piece of the body; waits while the client's socket buffer is full.

        The caller must have called :meth:`prepare` and not yet :meth:`write_eof`.
        """
        channel = self._channel
        if channel is None:
            raise RuntimeError("call prepare() before write()")
        if self._eof_sent:
            raise RuntimeError("cannot write() after write_eof()")
        if not data:
            return
        self._body_length += len(data)
        if not self._send_body:
            return
        payload = bytes(data)
        if self._compressor is not None:
            payload = self._compressor.compress(payload)
            if not payload:
                return
        if self._chunked:
            channel.send(b"%x\r\n%b\r\n" % (len(payload), payload))
        else:
            channel.send(payload)
        if channel.writing_paused:
            await channel.drain()

    async def write_eof(self, data: bytes = b"") -> None:
        """Send ``data`` (if any) and end the body. Calling it again does nothing."""
        if self._eof_sent:
            return
        if data:
            await self.write(data)
        channel = self._channel
        if channel is None:
            raise RuntimeError("call prepare() before write_eof()")
        self._eof_sent = True
        if not self._send_body:
            return
        tail = b""
        if self._compressor is not None:
            tail = self._compressor.flush()
            if tail and self._chunked:
                tail = b"%x\r\n%b\r\n" % (len(tail), tail)
        if self._chunked:
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
        super().__init__(status=status, reason=reason, headers=headers)
        if body is not None and text is not None:
            raise ValueError("body and text are not allowed together")
        if content_type is not None and "charset" in content_type and charset is not None:
            raise ValueError("charset must not be in content_type when given separately")
        has_type = "Content-Type" in self._headers
        if has_type and (content_type is not None or charset is not None):
            raise ValueError("Content-Type header and content_type/charset are exclusive")
        self._plan: BodyPlan | None = None
        if text is not None:
            if not isinstance(text, str):
                raise TypeError(f"text must be str, not {type(text).__name__}")
            charset = charset or "utf-8"
            self._body: bytes = text.encode(charset)
            if not has_type:
                self._set_content_type(content_type or "text/plain", charset)
        elif body is None:
            self._body = b""
            if not has_type and content_type is not None:
                self._set_content_type(content_type, charset)
        else:
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
        plan = self._plan
        if plan is not None:
            if plan.length is not None and "Content-Length" not in self._headers:
                self._headers["Content-Length"] = str(plan.length)
            self._send_head(request, None)
            await send_streamed(self, plan, self.charset or "utf-8", self._send_body)
            await StreamResponse.write_eof(self)
            return
        self._send_head(request, self._body)
        self._eof_sent = True
        channel = self._channel
        if channel is not None and channel.writing_paused:
            await channel.drain()

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
