"""The aiohttp-style facade: every public name of tidewire, from one place.

Programs written for aiohttp's low-level server run with ``from tidewire import web``.
``__all__`` lists every public name of :mod:`tidewire.http`, :mod:`tidewire.ws`
(server and client), :mod:`tidewire.hub` and :mod:`tidewire.testing`. The metrics
helpers ``HubCollector`` and ``metrics_response`` (:mod:`tidewire.hub.metrics`) are
attributes too, imported on first use because they need the optional
``prometheus-client`` (``pip install tidewire[metrics]``); they are left out of
``__all__`` so that ``from tidewire.web import *`` never needs it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import hub as _hub
from .http import exceptions as _exceptions
from .http.accesslog import AbstractAccessLogger, AccessLogger
from .http.config import DEFAULT_ACCESS_LOG_FORMAT, ServerConfig
from .http.etag import ETag
from .http.exceptions import *  # noqa: F403 (every HTTPException class)
from .http.fileresponse import FileResponse
from .http.forms import FileField
from .http.multipart import BodyPartReader, MultipartReader
from .http.parser import HttpVersion, RequestHead
from .http.payload import PayloadDecodeError, RequestPayloadError
from .http.request import BaseRequest
from .http.response import Response, StreamResponse, json_bytes_response, json_response
from .http.response_compat import ContentCoding
from .http.streams import BodyStream
from .hub import *  # noqa: F403 (every public name of the hub)
from .server import (
    BaseSite,
    GracefulExit,
    Server,
    ServerRunner,
    SockSite,
    TCPSite,
    UnixSite,
    run_server,
)
from .testing import TestClient, TestResponse, TestServer
from .ws.client import ClientWebSocket, Connect, connect
from .ws.client_errors import (
    WSClientError,
    WSConnectError,
    WSHandshakeRejected,
    WSInvalidUpgrade,
    WSOpenTimeout,
    WSRedirect,
)
from .ws.deflate import DeflateOptions
from .ws.endpoint import WebSocketEndpoint
from .ws.engines import ENGINE as _WS_ENGINE
from .ws.messages import (
    WebSocketError,
    WSCloseCode,
    WSConnectionClosed,
    WSMessage,
    WSMessageTypeError,
    WSMsgType,
)
from .ws.prepared import PreparedMessage
from .ws.reconnect import Backoff
from .ws.response import WebSocketReady, WebSocketResponse


def websocket_engine() -> str:
    """The WebSocket frame engine in use: ``"compiled"`` or ``"wsproto"``.

    The compiled engine is used when it was built at install time, unless the
    environment variable ``TIDEWIRE_NO_EXTENSIONS`` is set (to anything but ``0``).
    """
    return _WS_ENGINE


#: aiohttp's name for the body stream type.
StreamReader = BodyStream
HttpVersion10 = HttpVersion(1, 0)
HttpVersion11 = HttpVersion(1, 1)


if TYPE_CHECKING:
    pass

#: Names served by :func:`__getattr__`, and their modules (optional dependencies).
_LAZY = {"HubCollector": "tidewire.hub.metrics", "metrics_response": "tidewire.hub.metrics"}


def __getattr__(name: str) -> Any:
    """Import ``HubCollector`` and ``metrics_response`` on first use (PEP 562).

    Raises :class:`ImportError` when ``prometheus-client`` is not installed, and
    :class:`AttributeError` for any other unknown name.
    """
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    # HTTP server
    "AbstractAccessLogger",
    "AccessLogger",
    "BaseRequest",
    "BaseSite",
    "BodyPartReader",
    "BodyStream",
    "ContentCoding",
    "DEFAULT_ACCESS_LOG_FORMAT",
    "ETag",
    "FileField",
    "FileResponse",
    "GracefulExit",
    "HttpVersion",
    "HttpVersion10",
    "HttpVersion11",
    "MultipartReader",
    "PayloadDecodeError",
    "RequestHead",
    "RequestPayloadError",
    "Response",
    "Server",
    "ServerConfig",
    "ServerRunner",
    "SockSite",
    "StreamReader",
    "StreamResponse",
    "TCPSite",
    "UnixSite",
    "json_bytes_response",
    "json_response",
    "run_server",
    *_exceptions.__all__,
    # WebSocket server
    "DeflateOptions",
    "PreparedMessage",
    "WSCloseCode",
    "WSConnectionClosed",
    "WSMessage",
    "WSMessageTypeError",
    "WSMsgType",
    "WebSocketEndpoint",
    "WebSocketError",
    "WebSocketReady",
    "WebSocketResponse",
    "websocket_engine",
    # WebSocket client
    "Backoff",
    "ClientWebSocket",
    "Connect",
    "WSClientError",
    "WSConnectError",
    "WSHandshakeRejected",
    "WSInvalidUpgrade",
    "WSOpenTimeout",
    "WSRedirect",
    "connect",
    # hub
    *_hub.__all__,
    # test kit
    "TestClient",
    "TestResponse",
    "TestServer",
]
