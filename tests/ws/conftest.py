"""Fixtures of the WebSocket tests that need no socket."""

from __future__ import annotations

from typing import Any

import pytest

from .engines import ENGINE_CLASSES, ENGINE_IDS


@pytest.fixture(params=ENGINE_CLASSES, ids=ENGINE_IDS)
def engine_class(request: pytest.FixtureRequest) -> Any:
    """Each frame engine in turn (wsproto's, and the compiled one when it is built)."""
    return request.param
