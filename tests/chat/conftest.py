"""The chat example served in-process on a free port (``chat`` fixture)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from chattools import ChatServer, RedisServer, chatapp, unused_port


@pytest.fixture
async def chat(serve: Any) -> AsyncIterator[ChatServer]:
    """The chat app with the in-memory hub, like ``make run``."""
    app = chatapp.ChatApp()
    await app.start()
    running = await serve(app.handle)
    yield ChatServer(app, running)
    await app.close()


@pytest.fixture(scope="session")
def chat_redis() -> Iterator[RedisServer]:
    """A real redis-server on a free loopback port (a missing one fails the test)."""
    server = RedisServer.start(unused_port())
    try:
        yield server
    finally:
        server.stop()
