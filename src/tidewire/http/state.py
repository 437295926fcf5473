"""The mapping in which handlers keep state on a request or a response: :class:`StateMapping`.

aiohttp's requests and responses are mutable mappings (``request["user"] = ...``).
Most requests never store anything, so the dict behind the mapping is made on
first use, not per object.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["StateMapping"]


class StateMapping:
    """The mapping methods over a ``_state`` dict made on first use (see the module doc).

    A subclass must provide ``_state`` (a slot or attribute that is ``None``
    until something is stored). The object is truthy, and equal (and hashed)
    by identity, whatever it holds: it is a request or a response first.
    It declares no ``__slots__``: its subclasses' instances have a ``__dict__``
    (``functools.cached_property`` needs one on requests).
    """

    _state: dict[str, Any] | None

    def _items(self) -> dict[str, Any]:
        state = self._state
        if state is None:
            state = self._state = {}
        return state

    def __getitem__(self, key: str) -> Any:
        return self._items()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._items()[key] = value

    def __delitem__(self, key: str) -> None:
        del self._items()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items())

    def __len__(self) -> int:
        return len(self._state) if self._state is not None else 0

    def __contains__(self, key: object) -> bool:
        return self._state is not None and key in self._state

    def __bool__(self) -> bool:
        return True

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)
