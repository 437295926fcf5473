"""The parts of aiohttp's ``StreamResponse`` API beyond writing a response.

:class:`ResponseCompat` is a base of :class:`~.response_head.ResponseHead`:
``etag`` and ``last_modified`` as values, and the mutable-mapping protocol in
which a handler or middleware may keep state on a response (aiohttp's
responses are mappings too). :class:`ContentCoding` names the codings
``enable_compression(force=...)`` accepts.
"""

from __future__ import annotations

import datetime
import enum
import math
from collections.abc import ItemsView, KeysView, MutableMapping, ValuesView
from email.utils import formatdate
from typing import TYPE_CHECKING, Any

from .etag import ETag, format_etag, parse_etag
from .headers import parse_http_date
from .state import StateMapping

if TYPE_CHECKING:
    from multidict import CIMultiDict

__all__ = ["ContentCoding", "ResponseCompat"]


class ContentCoding(enum.Enum):
    """Content codings of response compression (aiohttp's ``web.ContentCoding``)."""

    deflate = "deflate"
    gzip = "gzip"
    identity = "identity"


class ResponseCompat(StateMapping):
    """aiohttp's response extras (see the module doc); mixed into ``StreamResponse``.

    The mapping methods are written out rather than inherited from
    ``MutableMapping`` (which is registered instead), so that ``StreamResponse``
    is no ABC: the server's per-request ``isinstance`` checks stay plain type
    checks. A response is truthy and equal only to itself, whatever it holds.
    """

    if TYPE_CHECKING:

        @property
        def headers(self) -> CIMultiDict[str]: ...

    _state: dict[str, Any] | None = None

    @property
    def etag(self) -> ETag | None:
        """The ``ETag`` header as an :class:`ETag`, or ``None``.

        Set it to an :class:`ETag`, to a str (a strong tag's value, unquoted),
        or to ``None`` to remove it; ``ValueError`` for an invalid value.
        """
        return parse_etag(self.headers.get("ETag"))

    @etag.setter
    def etag(self, value: ETag | str | None) -> None:
        if value is None:
            self.headers.pop("ETag", None)
        else:
            self.headers["ETag"] = format_etag(value)

    @property
    def last_modified(self) -> datetime.datetime | None:
        """The ``Last-Modified`` header as an aware datetime, or ``None``.

        Set it to a POSIX time (rounded up to whole seconds), a datetime, an
        HTTP-date string, or ``None`` to remove it.
        """
        return parse_http_date(self.headers.get("Last-Modified"))

    @last_modified.setter
    def last_modified(self, value: float | datetime.datetime | str | None) -> None:
        if value is None:
            self.headers.pop("Last-Modified", None)
        elif isinstance(value, str):
            self.headers["Last-Modified"] = value
        elif isinstance(value, datetime.datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=datetime.timezone.utc)
            self.headers["Last-Modified"] = formatdate(math.ceil(value.timestamp()), usegmt=True)
        elif isinstance(value, int | float):
            self.headers["Last-Modified"] = formatdate(math.ceil(value), usegmt=True)
        else:
            raise TypeError(f"Unsupported type for last_modified: {type(value).__name__}")

    # per-response state (MutableMapping) ---------------------------------------------

    def get(self, key: str, default: Any = None) -> Any:
        """The state stored under ``key``, or ``default``."""
        return self._items().get(key, default)

    def setdefault(self, key: str, default: Any = None) -> Any:
        """The state under ``key``, storing ``default`` there first when absent."""
        return self._items().setdefault(key, default)

    def pop(self, key: str, *default: Any) -> Any:
        """Remove and return the state under ``key`` (``default`` if given and absent)."""
        return self._items().pop(key, *default)

    def keys(self) -> KeysView[str]:
        """The keys of the response's state."""
        return self._items().keys()

    def values(self) -> ValuesView[Any]:
        """The values of the response's state."""
        return self._items().values()

    def items(self) -> ItemsView[str, Any]:
        """The (key, value) pairs of the response's state."""
        return self._items().items()

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Store several entries, as ``dict.update``."""
        self._items().update(*args, **kwargs)

    def clear(self) -> None:
        """Remove every entry of the response's state."""
        self._items().clear()


MutableMapping.register(ResponseCompat)
