"""The frame engines this checkout can run, for tests that must pass on each of them."""

from __future__ import annotations

import importlib
from typing import Any

from tidewire.ws.wsproto_engine import WsprotoEngine


def _optional(module: str) -> list[Any]:
    try:
        return [importlib.import_module(module).Engine]
    except ImportError:
        return []


#: wsproto's engine always; the compiled one (and its pure-Python source) once built.
ENGINE_CLASSES: list[Any] = [
    WsprotoEngine,
    *_optional("tidewire.ws._frames_c"),
    *_optional("tidewire.ws._frames_py"),
]
ENGINE_IDS = [f"{cls.__module__.rsplit('.', 1)[-1]}" for cls in ENGINE_CLASSES]
