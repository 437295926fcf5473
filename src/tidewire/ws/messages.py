"""What a WebSocket handler receives: message types, messages, close codes, errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from enum import IntEnum
from typing import Any, NamedTuple

__all__ = [
    "WSCloseCode",
    "WSConnectionClosed",
    "WSMessage",
    "WSMessageTypeError",
    "WSMsgType",
    "WebSocketError",
]


class WSMsgType(IntEnum):
    """Kinds of :class:`WSMessage` (the values of aiohttp's ``WSMsgType``).

    The lower-case names (``WSMsgType.text``, ...) are aliases of the upper-case
    ones, as in aiohttp: ``WSMsgType.text is WSMsgType.TEXT``.
    """

    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    PING = 0x9
    PONG = 0xA
    CLOSE = 0x8
    CLOSING = 0x100
    CLOSED = 0x101
    ERROR = 0x102

    # aiohttp's lower-case aliases (same members, not new ones; none for CONTINUATION, as there)
    text = TEXT
    binary = BINARY
    ping = PING
    pong = PONG
    close = CLOSE
    closing = CLOSING
    closed = CLOSED
    error = ERROR


class WSCloseCode(IntEnum):
    """Close codes (RFC 6455 section 7.4.1 and the IANA registry)."""

    OK = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    ABNORMAL_CLOSURE = 1006
    INVALID_TEXT = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    MANDATORY_EXTENSION = 1010
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    BAD_GATEWAY = 1014


class WSMessage(NamedTuple):
    """A received message: ``data`` is str (TEXT; bytes with ``decode_text=False``),
    bytes (BINARY, PING, PONG), the close code (CLOSE) or the exception (ERROR);
    ``extra`` is the close reason (CLOSE), else ``None``."""

    type: WSMsgType
    data: Any
    extra: str | None

    def json(self, *, loads: Callable[[Any], Any] = json.loads) -> Any:
        """The data parsed as JSON."""
        return loads(self.data)


class WebSocketError(Exception):
    """The peer broke the protocol; ``code`` is the close code sent for it."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class WSMessageTypeError(TypeError):
    """``receive_str``/``receive_bytes``/``receive_json`` got a message of another type.

    A :class:`TypeError`, like aiohttp's exception of the same name.
    """


class WSConnectionClosed(ConnectionResetError):
    """Raised by every send on a WebSocket that is closing or closed.

    It subclasses :class:`ConnectionResetError`, which aiohttp raises there too.
    ``code`` is the close code when one is known.
    """

    def __init__(self, message: str = "WebSocket is closed", code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


CLOSED_MESSAGE = WSMessage(WSMsgType.CLOSED, None, None)
CLOSING_MESSAGE = WSMessage(WSMsgType.CLOSING, None, None)
