"""tidewire: a WebSocket-first realtime server toolkit for asyncio.

Everything public is exported by :mod:`tidewire.web` (``from tidewire import web``);
the WebSocket client is also here, as ``tidewire.connect``. The test kit is
:mod:`tidewire.testing`.
"""

__version__ = "0.1.0"

from .web import (
    Backoff,
    ClientWebSocket,
    WSClientError,
    WSConnectError,
    WSConnectionClosed,
    WSHandshakeRejected,
    WSInvalidUpgrade,
    WSOpenTimeout,
    WSRedirect,
    connect,
)

__all__ = [
    "Backoff",
    "ClientWebSocket",
    "WSClientError",
    "WSConnectError",
    "WSConnectionClosed",
    "WSHandshakeRejected",
    "WSInvalidUpgrade",
    "WSOpenTimeout",
    "WSRedirect",
    "__version__",
    "connect",
]
