"""The parts of aiohttp's ``BaseRequest`` API that only derive from what a request has.

:class:`RequestCompat` is a base of :class:`~.request.BaseRequest`: the
conditional-request headers as values (``if_match``, ``if_none_match``,
``if_unmodified_since``, ``if_range``), ``http_range``, ``get_extra_info``,
``task``, the size limits, and :meth:`clone`. Kept apart so that the request
module stays about the request itself.
"""

from __future__ import annotations

import asyncio
import datetime
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from .etag import ETag, parse_etag_list
from .headers import parse_http_date
from .parser import RequestHead

if TYPE_CHECKING:
    from .channel import ResponseChannel
    from .request import BaseRequest
    from .streams import BodyStream

__all__ = ["RequestCompat"]

_RANGE = re.compile(r"bytes=(\d*)-(\d*)", re.ASCII | re.IGNORECASE)
_UNSET: Any = object()


class RequestCompat:
    """aiohttp's request extras (see the module doc); mixed into ``BaseRequest``."""

    #: Methods whose body ``post()`` reads (aiohttp's ``BaseRequest.POST_METHODS``).
    POST_METHODS = frozenset({"PATCH", "POST", "PUT", "TRACE", "DELETE"})
    #: Most fields ``post()`` accepts (413 past it, as aiohttp); :meth:`clone` can change it.
    _client_max_fields: int = 1000

    if TYPE_CHECKING:
        _head: RequestHead
        _content: BodyStream
        _channel: ResponseChannel
        _client_max_size: int
        _state: dict[str, Any] | None

        def _items(self) -> dict[str, Any]: ...

        @property
        def headers(self) -> CIMultiDictProxy[str]: ...

    @property
    def client_max_size(self) -> int:
        """Largest body ``read()``/``post()`` accept (the server's ``client_max_size``)."""
        return self._client_max_size

    @property
    def client_max_fields(self) -> int:
        """Most fields ``post()`` accepts."""
        return self._client_max_fields

    @property
    def task(self) -> asyncio.Task[None] | None:
        """The task running this request's handler.

        It is the connection's task, which runs the handlers of the connection's
        requests one after the other (kept by the channel: nothing per request).
        """
        return self._channel.task

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """``transport.get_extra_info(name)`` of the connection, ``default`` once it closed."""
        transport = self._channel.transport
        if transport is None:
            return default
        return transport.get_extra_info(name, default)

    @property
    def if_match(self) -> tuple[ETag, ...] | None:
        """``If-Match`` as entity tags (``None`` when absent)."""
        return parse_etag_list(self.headers.get("If-Match"))

    @property
    def if_none_match(self) -> tuple[ETag, ...] | None:
        """``If-None-Match`` as entity tags (``None`` when absent)."""
        return parse_etag_list(self.headers.get("If-None-Match"))

    @property
    def if_unmodified_since(self) -> datetime.datetime | None:
        """``If-Unmodified-Since`` as an aware datetime, or ``None``."""
        return parse_http_date(self.headers.get("If-Unmodified-Since"))

    @property
    def if_range(self) -> datetime.datetime | None:
        """``If-Range`` as an aware datetime when it holds a date, else ``None``."""
        return parse_http_date(self.headers.get("If-Range"))

    @property
    def http_range(self) -> slice:
        """``Range`` as a slice (``slice(None, None)`` when absent), as aiohttp gives it.

        ``bytes=-N`` is ``slice(-N, None)``; ``bytes=A-B`` is ``slice(A, B + 1)``.
        ``ValueError`` for a header that is not one ``bytes=`` range (several
        ranges included).
        """
        value = self.headers.get("Range")
        if value is None:
            return slice(None, None)
        match = _RANGE.fullmatch(value.strip())
        if match is None:
            raise ValueError("range not in acceptable format")
        first, last = match.group(1), match.group(2)
        if not first and not last:
            raise ValueError("No start or end of range specified")
        if not first:
            return slice(-int(last), None)
        start = int(first)
        if not last:
            return slice(start, None)
        end = int(last) + 1
        if start >= end:
            raise ValueError("start cannot be after end")
        return slice(start, end)

    def clone(
        self,
        *,
        method: str = _UNSET,
        rel_url: str | URL = _UNSET,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = _UNSET,
        client_max_size: int = _UNSET,
        client_max_fields: int = _UNSET,
    ) -> BaseRequest:
        """A copy of this request with the given parts replaced (aiohttp's ``clone``).

        The copy shares the body stream and connection, and starts with a copy
        of the per-request state. ``rel_url`` must be relative. aiohttp's
        ``scheme``, ``host`` and ``remote`` replacements are not supported (they
        come from the connection here).
        """
        head = self._head
        raw_path = head.raw_path
        if rel_url is not _UNSET:
            url = URL(rel_url)
            if url.absolute:
                raise ValueError("rel_url must be relative")
            raw_path = str(url)
        raw_headers = head.raw_headers
        if headers is not _UNSET:
            # Field values are ISO-8859-1 (RFC 9110 section 5.5), as the head decodes them.
            raw_headers = tuple(
                (key.encode("latin-1"), value.encode("latin-1"))
                for key, value in CIMultiDict(headers).items()
            )
        new_head = RequestHead(
            method if method is not _UNSET else head.method,
            raw_path,
            head.version,
            raw_headers,
            head.keep_alive,
            head.upgrade,
            head.chunked,
            head.content_length,
        )
        size = client_max_size if client_max_size is not _UNSET else self._client_max_size
        make: Any = type(self)  # a BaseRequest (subclass): this class is only its base
        clone: BaseRequest = make(new_head, self._content, self._channel, size)
        clone._client_max_fields = (
            client_max_fields if client_max_fields is not _UNSET else self._client_max_fields
        )
        if self._state:
            clone._items().update(self._state)
        return clone
