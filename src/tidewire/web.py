"""The aiohttp-style facade: every public name of tidewire, from one place.

Programs written for aiohttp's low-level server run with ``from tidewire import web``.
"""

from __future__ import annotations

from .http import exceptions as _exceptions
from .http.accesslog import AbstractAccessLogger, AccessLogger
from .http.config import ServerConfig
from .http.etag import ETag
from .http.exceptions import *  # noqa: F403 (every HTTPException class)
from .http.fileresponse import FileResponse
from .http.forms import FileField
from .http.multipart import BodyPartReader, MultipartReader
from .http.parser import HttpVersion, RequestHead
from .http.payload import RequestPayloadError
from .http.request import BaseRequest
from .http.response import Response, StreamResponse, json_bytes_response, json_response
from .http.response_compat import ContentCoding
from .http.streams import BodyStream
from .hub import (
    Backend,
    BackendSink,
    Hub,
    HubStats,
    MemoryBackend,
    PresenceChange,
    RedisBackend,
    SlowPolicy,
)
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
from .ws.client import ClientWebSocket, connect
from .ws.client_errors import (
    WSClientError,
    WSConnectError,
    WSHandshakeRejected,
    WSInvalidUpgrade,
    WSOpenTimeout,
    WSRedirect,
)
from .ws.deflate import DeflateOptions
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

__all__ = [
    "AbstractAccessLogger",
    "AccessLogger",
    "Backend",
    "BackendSink",
    "BaseRequest",
    "Hub",
    "HubStats",
    "MemoryBackend",
    "PresenceChange",
    "RedisBackend",
    "SlowPolicy",
    "BaseSite",
    "BodyPartReader",
    "BodyStream",
    "ClientWebSocket",
    "ContentCoding",
    "DeflateOptions",
    "ETag",
    "FileField",
    "FileResponse",
    "GracefulExit",
    "HttpVersion",
    "HttpVersion10",
    "HttpVersion11",
    "MultipartReader",
    "PreparedMessage",
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
    "WSClientError",
    "WSCloseCode",
    "WSConnectError",
    "WSConnectionClosed",
    "WSHandshakeRejected",
    "WSInvalidUpgrade",
    "WSMessage",
    "WSMessageTypeError",
    "WSMsgType",
    "WSOpenTimeout",
    "WSRedirect",
    "WebSocketError",
    "WebSocketReady",
    "WebSocketResponse",
    "connect",
    "json_bytes_response",
    "json_response",
    "run_server",
    "websocket_engine",
    *_exceptions.__all__,
]
