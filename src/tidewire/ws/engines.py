"""Which frame engine runs: the compiled one when it was built, else wsproto's.

The choice is made once, at import. The compiled engine lives in
``tidewire.ws._frames_c`` (Cython-compiled from ``tidewire/ws/_frames_py.py``)
and exists only when a C compiler was present at install time. Setting the
environment variable ``TIDEWIRE_NO_EXTENSIONS`` to a non-empty value other than
``0`` forces the reference engine (:class:`~tidewire.ws.wsproto_engine.WsprotoEngine`).
"""

from __future__ import annotations

import os
from typing import Literal

from .compression import MessageDeflater, MessageInflater
from .engine import FrameEngine, Side
from .wsproto_engine import WsprotoEngine

__all__ = ["ENGINE", "create_engine", "extensions_disabled"]

EngineName = Literal["compiled", "wsproto"]


def extensions_disabled() -> bool:
    """True when ``TIDEWIRE_NO_EXTENSIONS`` asks for the pure-Python engine."""
    return os.environ.get("TIDEWIRE_NO_EXTENSIONS", "") not in ("", "0")


def _select() -> tuple[EngineName, type[FrameEngine]]:
    if not extensions_disabled():
        try:
            from ._frames_c import Engine  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            pass
        else:
            return "compiled", Engine  # type: ignore[no-any-return,unused-ignore]
    return "wsproto", WsprotoEngine


#: The engine every new connection uses: ``"compiled"`` or ``"wsproto"``.
ENGINE: EngineName
_engine_class: type[FrameEngine]
ENGINE, _engine_class = _select()


def create_engine(
    side: Side, codec: tuple[MessageInflater, MessageDeflater] | None, max_message_size: int
) -> FrameEngine:
    """A new frame engine (the one :data:`ENGINE` names) for one side of one connection.

    ``codec`` is the pair from :func:`~tidewire.ws.compression.codec_for` when
    permessage-deflate was agreed, else ``None``; ``max_message_size`` bounds one
    message's payload after inflation (0: no bound).
    """
    return _engine_class(side, codec, max_message_size)  # type: ignore[call-arg]
