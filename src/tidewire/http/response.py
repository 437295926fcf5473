"""The whole-body :class:`Response`, and the JSON responses built on it.

A handler returns a :class:`Response` (body given up front, see :mod:`.bodies`
for the body types it accepts) or a :class:`~.streamresponse.StreamResponse`
(body written piece by piece). Both are importable from here, as from
``tidewire.web``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from multidict import CIMultiDict, istr

from .bodies import BodyPlan, charset_param, plan_body, send_streamed
from .channel import ResponseChannel
from .framing import BodyFraming
from .parser import RequestHead
from .response_head import HeadersArg
from .serialize import REASON_PHRASES
from .streamresponse import StreamResponse

if TYPE_CHECKING:
    from .request import BaseRequest

__all__ = ["Response", "StreamResponse", "json_bytes_response", "json_response"]

_NONE = BodyFraming.NONE
# Header names as istr: case-insensitive lookups then skip folding the name each time.
_CONTENT_LENGTH = istr("Content-Length")
_CONTENT_TYPE = istr("Content-Type")


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
        headers: HeadersArg = None,
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
    headers: HeadersArg = None,
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
    headers: HeadersArg = None,
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
