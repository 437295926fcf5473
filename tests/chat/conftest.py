"""The chat example served in-process on a free port (``chat`` fixture)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from chattools import ChatServer, chatapp


@pytest.fixture
async def chat(serve: Any) -> AsyncIterator[ChatServer]:
    """The chat app with the in-memory hub, like ``make run``."""
    app = chatapp.ChatApp()
    await app.start()
    running = await serve(app.handle)
    yield ChatServer(app, running)
    await app.close()
