"""The parts of aiohttp's ``StreamResponse`` API beyond writing a response.

:class:`ResponseCompat` is a base of :class:`~.response.StreamResponse`:
``etag`` and ``last_modified`` as values, and the mutable-mapping protocol in
which a handler or middleware may keep state on a response (aiohttp's
responses are mappings too). :class:`ContentCoding` names the codings
``enable_compression(force=...)`` accepts.
"""

from __future__ import annotations

import datetime
import enum
import math
from collections.abc import ItemsView, Iterator, KeysView, MutableMapping, ValuesView
from email.utils import formatdate, parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from .etag import ETag, format_etag, parse_etag

if TYPE_CHECKING:
    from multidict import CIMultiDict

__all__ = ["ContentCoding", "ResponseCompat"]


class ContentCoding(enum.Enum):
    """Content codings of response compression (aiohttp's ``web.ContentCoding``)."""

    deflate = "deflate"
    gzip = "gzip"
    identity = "identity"


class ResponseCompat:
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
        value = self.headers.get("Last-Modified")
        if not value:
            return None
        try:
            return parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None

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

    def _mapping(self) -> dict[str, Any]:
        if self._state is None:
            self._state = {}
        return self._state

    def __getitem__(self, key: str) -> Any:
        return self._mapping()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._mapping()[key] = value

    def __delitem__(self, key: str) -> None:
        del self._mapping()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._mapping())

    def __len__(self) -> int:
        return len(self._state) if self._state is not None else 0

    def __contains__(self, key: object) -> bool:
        return self._state is not None and key in self._state

    def get(self, key: str, default: Any = None) -> Any:
        """The state stored under ``key``, or ``default``."""
        return self._mapping().get(key, default)

    def setdefault(self, key: str, default: Any = None) -> Any:
        """The state under ``key``, storing ``default`` there first when absent."""
        return self._mapping().setdefault(key, default)

    def pop(self, key: str, *default: Any) -> Any:
        """Remove and return the state under ``key`` (``default`` if given and absent)."""
        return self._mapping().pop(key, *default)

    def keys(self) -> KeysView[str]:
        """The keys of the response's state."""
        return self._mapping().keys()

    def values(self) -> ValuesView[Any]:
        """The values of the response's state."""
        return self._mapping().values()

    def items(self) -> ItemsView[str, Any]:
        """The (key, value) pairs of the response's state."""
        return self._mapping().items()

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Store several entries, as ``dict.update``."""
        self._mapping().update(*args, **kwargs)

    def clear(self) -> None:
        """Remove every entry of the response's state."""
        self._mapping().clear()

    def __bool__(self) -> bool:
        return True

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)


MutableMapping.register(ResponseCompat)
