"""The request a handler receives: :class:`BaseRequest`.

Everything derived from the head (URL, query, cookies, ...) is computed on
first access and cached, so a handler pays only for what it uses.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import MutableMapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

from multidict import CIMultiDictProxy, MultiDict, MultiDictProxy
from yarl import URL

from .exceptions import HTTPBadRequest, HTTPRequestEntityTooLarge
from .forms import (
    FileField,
    FormError,
    TooManyFields,
    parse_header_params,
    parse_urlencoded,
    read_form,
    too_many_fields,
)
from .headers import parse_cookie_header, parse_http_date
from .multipart import MultipartReader
from .parser import HttpVersion, RequestHead
from .request_compat import RequestCompat
from .state import StateMapping
from .streams import BodyStream

if TYPE_CHECKING:
    import datetime

    from .channel import ResponseChannel, UpgradedProtocol

__all__ = ["BaseRequest"]


class BaseRequest(RequestCompat, StateMapping, MutableMapping[str, Any]):
    """An HTTP request, as aiohttp's low-level ``BaseRequest``.

    It is also a mutable mapping in which a handler may keep per-request state.
    """

    # Slots for what every request sets; ``__dict__`` (for the cached properties)
    # comes from the bases, which have no slots.
    __slots__ = (
        "_body",
        "_channel",
        "_client_max_size",
        "_content",
        "_head",
        "_post",
        "_state",
    )

    def __init__(
        self,
        head: RequestHead,
        content: BodyStream,
        channel: ResponseChannel,
        client_max_size: int,
    ) -> None:
        self._head = head
        self._content = content
        self._channel = channel
        self._client_max_size = client_max_size
        self._state: dict[str, Any] | None = None  # made on first use
        self._body: bytes | None = None
        self._post: MultiDictProxy[str | FileField] | None = None

    # head ---------------------------------------------------------------------------

    @property
    def head(self) -> RequestHead:
        """The parsed request line and headers."""
        return self._head

    @property
    def keep_alive(self) -> bool:
        """True when the client allows the connection to be reused after this request.

        From the version and ``Connection`` header (RFC 9112 section 9.3); whether
        it is reused is the server's decision (the response may close it).
        """
        return self._head.keep_alive

    @property
    def method(self) -> str:
        """The request method, upper case as sent (``"GET"``)."""
        return self._head.method

    @property
    def version(self) -> HttpVersion:
        """The HTTP version, e.g. ``HttpVersion(1, 1)``."""
        return self._head.version

    @property
    def raw_path(self) -> str:
        """The request target as sent, with its query string, not decoded."""
        return self._head.raw_path

    @property
    def headers(self) -> CIMultiDictProxy[str]:
        """Request headers, case-insensitive."""
        return self._head.headers

    @property
    def raw_headers(self) -> tuple[tuple[bytes, bytes], ...]:
        """Request headers as the (name, value) bytes pairs received."""
        return self._head.raw_headers

    @cached_property
    def rel_url(self) -> URL:
        """The request target as a relative :class:`yarl.URL`."""
        target = self._head.raw_path
        if not target.startswith("/") and "://" in target:
            # absolute-form (RFC 9112 section 3.2.2): the path and query are ours
            absolute = URL(target, encoded=True)
            return URL.build(
                path=absolute.raw_path, query_string=absolute.raw_query_string, encoded=True
            )
        path, _, query = target.partition("?")
        path = path.partition("#")[0]
        if path.startswith("//"):
            path = "/" + path.lstrip("/")
        return URL.build(path=path, query_string=query.partition("#")[0], encoded=True)

    @cached_property
    def url(self) -> URL:
        """The absolute URL: scheme and host joined with :attr:`rel_url`."""
        return URL.build(scheme=self.scheme, authority=self.host, encoded=True).join(self.rel_url)

    @property
    def path(self) -> str:
        """The decoded path, without query string."""
        raw = self._head.raw_path
        if (
            raw[:1] == "/"
            and raw[1:2] != "/"
            and "%" not in raw
            and "?" not in raw
            and "#" not in raw
        ):
            return raw  # nothing to decode or split off: what rel_url.path would give
        return self.rel_url.path

    @property
    def path_qs(self) -> str:
        """The decoded path with its query string."""
        return str(self.rel_url)

    @property
    def query(self) -> MultiDictProxy[str]:
        """The query string's parameters."""
        return self.rel_url.query

    @property
    def query_string(self) -> str:
        """The query string, decoded, without ``?``."""
        return self.rel_url.query_string

    @property
    def host(self) -> str:
        """The ``Host`` header, or the server's own address when absent."""
        host = self._head.headers.get("Host")
        return host if host else self._channel.local_host

    @property
    def scheme(self) -> str:
        """``"https"`` on a TLS connection, else ``"http"``."""
        return "https" if self._channel.secure else "http"

    @property
    def secure(self) -> bool:
        """True on a TLS connection."""
        return self._channel.secure

    @property
    def remote(self) -> str | None:
        """The peer's address (IP, or socket path), or ``None`` when unknown."""
        return self._channel.remote

    @property
    def transport(self) -> asyncio.Transport | None:
        """The connection's transport (``None`` once it closed)."""
        return self._channel.transport

    @property
    def channel(self) -> ResponseChannel:
        """The connection's writing side, through which responses are sent."""
        return self._channel

    def hand_over(self, receiver: UpgradedProtocol) -> None:
        """Give the connection to ``receiver`` after an upgrade response was sent.

        The caller must have sent a ``101 Switching Protocols`` response to this
        request, an upgrade request without a body (:attr:`body_exists` is False:
        bytes after a body-carrying head could not be told apart from a smuggled
        request). From then on ``receiver`` gets the transport's events (see
        :class:`~tidewire.http.channel.UpgradedProtocol` for the order of calls
        and what the receiver must do). Raises :class:`RuntimeError` when this
        request is not a pending upgrade or the connection is gone.
        """
        self._channel.hand_over(self, receiver)

    @cached_property
    def cookies(self) -> MultiDictProxy[str]:
        """Cookies of the ``Cookie`` header(s), every name kept (RFC 6265 section 5.4)."""
        pairs = parse_cookie_header(self._head.headers.getall("Cookie", ()))
        return MultiDictProxy(MultiDict(pairs))

    @cached_property
    def _content_type_params(self) -> tuple[str, dict[str, str]]:
        return parse_header_params(self._head.headers.get("Content-Type", ""))

    @property
    def content_type(self) -> str:
        """The media type of ``Content-Type`` (``application/octet-stream`` when absent)."""
        return self._content_type_params[0] or "application/octet-stream"

    @property
    def charset(self) -> str | None:
        """The ``charset`` parameter of ``Content-Type``, or ``None``."""
        return self._content_type_params[1].get("charset")

    @property
    def content_length(self) -> int | None:
        """The ``Content-Length`` header as an int, or ``None``."""
        return self._head.content_length

    @cached_property
    def if_modified_since(self) -> datetime.datetime | None:
        """The ``If-Modified-Since`` header as an aware datetime, or ``None``."""
        return parse_http_date(self._head.headers.get("If-Modified-Since"))

    # body ---------------------------------------------------------------------------

    @property
    def body_exists(self) -> bool:
        """True when the request announced a body: ``Transfer-Encoding: chunked`` or a
        ``Content-Length`` above zero (RFC 9112 section 6.3). Stays True once read.

        An upgrade (a WebSocket handshake, say) must refuse a request for which
        this is True: it cannot be handed over.
        """
        return self._head.has_body

    @property
    def can_read_body(self) -> bool:
        """True while some of the body may still be read (False for no body at all)."""
        return not self._content.at_eof()

    @property
    def has_body(self) -> bool:
        """Same as :attr:`can_read_body` (aiohttp's older name)."""
        return self.can_read_body

    @property
    def content(self) -> BodyStream:
        """The body as a stream: ``read(n)``, ``readany()``, ``readline()``, ..."""
        return self._content

    async def read(self) -> bytes:
        """The whole body; :class:`HTTPRequestEntityTooLarge` past ``client_max_size``."""
        if self._body is not None:
            return self._body
        limit = self._client_max_size
        length = self._head.content_length
        if limit and length is not None and length > limit:
            raise HTTPRequestEntityTooLarge(max_size=limit, actual_size=length)
        parts = []
        size = 0
        while chunk := await self._content.readany():
            size += len(chunk)
            if limit and size > limit:
                raise HTTPRequestEntityTooLarge(max_size=limit, actual_size=size)
            parts.append(chunk)
        self._body = b"".join(parts)
        return self._body

    async def text(self) -> str:
        """The body decoded with its charset (UTF-8 by default); 400 if it does not decode."""
        body = await self.read()
        try:
            return body.decode(self.charset or "utf-8")
        except (UnicodeDecodeError, LookupError) as exc:
            raise HTTPBadRequest(text="Request body does not decode") from exc

    async def json(self, *, loads: Any = json.loads) -> Any:
        """The body parsed as JSON; 400 if it is not JSON."""
        text = await self.text()
        try:
            return loads(text)
        except ValueError as exc:
            raise HTTPBadRequest(text="Request body is not valid JSON") from exc

    async def post(self) -> MultiDictProxy[str | FileField]:
        """Fields of an urlencoded or multipart form body (empty for other bodies).

        Both are bounded by ``client_max_size`` and :attr:`client_max_fields`
        (413 past either). Multipart bodies are streamed (:meth:`multipart`);
        their files are spooled to temporary files past 64 KiB.
        """
        if self._post is not None:
            return self._post
        media_type, params = self._content_type_params
        charset = params.get("charset", "utf-8")
        fields: MultiDict[str | FileField]
        if media_type == "multipart/form-data":
            fields = await read_form(
                await self.multipart(),
                charset=charset,
                max_size=self._client_max_size or (1 << 62),
                max_fields=self._client_max_fields,
            )
        elif media_type == "application/x-www-form-urlencoded":
            body = await self.read()
            try:
                fields = MultiDict(parse_urlencoded(body, charset, self._client_max_fields))
            except TooManyFields as exc:
                raise too_many_fields(self._client_max_fields) from exc
            except FormError as exc:
                raise HTTPBadRequest(text=f"Malformed form body: {exc}") from exc
        else:
            fields = MultiDict()
        self._post = MultiDictProxy(fields)
        return self._post

    async def multipart(self) -> MultipartReader:
        """A streaming reader of a ``multipart/*`` body: parts one at a time, in chunks.

        Nothing bounds the total size here (``client_max_size`` applies to
        ``read()`` and ``post()``): the caller decides how much of an upload to
        accept and where it goes. 400 if the body is not multipart.
        """
        return MultipartReader(self._head.headers, self._content)

    async def release(self) -> None:
        """Read and drop the rest of the body."""
        while await self._content.readany():
            pass

    # per-request state: the mapping methods are StateMapping's ----------------------

    def __repr__(self) -> str:
        return f"<BaseRequest {self.method} {self.raw_path}>"
