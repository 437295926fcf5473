"""tidewire's test kit: serve a handler on a free port and talk to it over HTTP and WebSocket.

- :class:`TestServer`: ``async with TestServer(handler) as server:`` (``.url``,
  ``.ws_url(path)``, ``.port``);
- :class:`TestClient`: ``await client.get(path)`` returning a :class:`TestResponse`;
- the pytest fixtures ``tidewire_server``, ``tidewire_client`` and ``tidewire_ws``
  (:mod:`tidewire.testing.plugin`), registered by installing tidewire.
"""

from .client import TestClient, TestResponse
from .server import TestServer

__all__ = ["TestClient", "TestResponse", "TestServer"]
