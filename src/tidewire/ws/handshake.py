"""The server's half of the opening handshake (RFC 6455 section 4.2), as pure functions.

The HTTP core already parsed the request; these functions only judge its
method and headers and compute the response headers, so a request is never
parsed twice.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from multidict import CIMultiDictProxy

from ..http.headers import split_header_list

__all__ = ["HandshakeError", "accept_token", "check_upgrade_request", "select_subprotocol"]

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#: ``Sec-WebSocket-Version`` values accepted: 13 (RFC 6455), and the drafts 7 and 8
#: (hybi-07/08), whose handshake and framing are 13's; aiohttp accepts the same three.
_VERSIONS = frozenset({"13", "8", "7"})


@dataclass
class HandshakeError(Exception):
    """The request cannot be upgraded: answer ``status`` with ``headers``."""

    status: int
    message: str
    headers: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        return f"{self.status}: {self.message}"


def accept_token(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` value for a ``Sec-WebSocket-Key``."""
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + _GUID).digest()).decode("ascii")


def _tokens(headers: CIMultiDictProxy[str], name: str) -> set[str]:
    return {token.lower() for token in split_header_list(headers.getall(name, ()))}


def check_upgrade_request(
    method: str,
    version: tuple[int, int],
    headers: CIMultiDictProxy[str],
    origins: Iterable[str] | None = None,
) -> str:
    """Check that a request is a valid WebSocket upgrade; return its key.

    Raises :class:`HandshakeError` with 400 for a malformed upgrade, 426 (with
    ``Sec-WebSocket-Version: 13``, RFC 6455 section 4.4) for a version other
    than 13, 8 or 7, and 403 for an
    ``Origin`` outside ``origins`` (when an allow-list is given).
    """
    if method != "GET" or version < (1, 1):
        raise HandshakeError(400, "WebSocket upgrade needs GET over HTTP/1.1")
    if "websocket" not in _tokens(headers, "Upgrade"):
        raise HandshakeError(400, "missing 'Upgrade: websocket'")
    if "upgrade" not in _tokens(headers, "Connection"):
        raise HandshakeError(400, "missing 'Connection: upgrade'")
    if "Transfer-Encoding" in headers or headers.get("Content-Length", "0") != "0":
        # A body here could be read as frames, or smuggled as a next request.
        raise HandshakeError(400, "a WebSocket upgrade request must not carry a body")
    versions = headers.getall("Sec-WebSocket-Version", ())
    if len(versions) != 1 or versions[0].strip() not in _VERSIONS:
        raise HandshakeError(
            426, "unsupported WebSocket version", (("Sec-WebSocket-Version", "13"),)
        )
    keys = headers.getall("Sec-WebSocket-Key", ())
    key = keys[0].strip() if len(keys) == 1 else ""
    try:
        valid_key = len(base64.b64decode(key, validate=True)) == 16
    except (binascii.Error, ValueError):
        valid_key = False
    if not valid_key:
        raise HandshakeError(400, "missing or invalid Sec-WebSocket-Key")
    if origins is not None:
        origin = headers.get("Origin")
        if origin is None or origin.lower() not in {o.lower() for o in origins}:
            raise HandshakeError(403, "origin not allowed")
    return key


def select_subprotocol(headers: CIMultiDictProxy[str], supported: Sequence[str]) -> str | None:
    """The first of our ``supported`` subprotocols that the client asked for, or ``None``."""
    if not supported:
        return None
    requested = split_header_list(headers.getall("Sec-WebSocket-Protocol", ()))
    for protocol in supported:
        if protocol in requested:
            return protocol
    return None
