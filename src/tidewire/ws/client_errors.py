"""Why :func:`tidewire.connect` failed: one exception type per cause, all from one base.

==============================  ==================================================
:class:`WSConnectError`         refused or unreachable (DNS, TCP, TLS); an ``OSError``
:class:`WSOpenTimeout`          ``open_timeout`` passed (TCP + TLS + handshake);
                                an ``asyncio.TimeoutError``
:class:`WSHandshakeRejected`    the server answered something other than 101
                                (``status``, ``headers``)
:class:`WSRedirect`             the server answered a redirect; not followed
                                (``location``)
:class:`WSInvalidUpgrade`       a 101 that breaks RFC 6455 section 4.1 or RFC 7692:
                                wrong accept key, missing Upgrade/Connection tokens,
                                an extension or subprotocol we did not offer, a
                                malformed or oversized head
==============================  ==================================================

Once open, a connection that is closing or closed raises the server's
:class:`~tidewire.ws.messages.WSConnectionClosed` on every send, on both sides.
"""

from __future__ import annotations

import asyncio

from multidict import CIMultiDict, CIMultiDictProxy

__all__ = [
    "WSClientError",
    "WSConnectError",
    "WSHandshakeRejected",
    "WSInvalidUpgrade",
    "WSOpenTimeout",
    "WSRedirect",
]

_NO_HEADERS: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict())


class WSClientError(Exception):
    """Base of every error opening a client WebSocket."""


class WSConnectError(WSClientError, OSError):
    """The server could not be reached: name resolution, TCP connect or TLS failed.

    The underlying error is ``__cause__``.
    """


class WSOpenTimeout(WSClientError, asyncio.TimeoutError):
    """Opening (TCP connect, TLS and the handshake together) took longer than ``open_timeout``."""


class WSHandshakeRejected(WSClientError):
    """The server refused the upgrade: ``status`` is its status code, ``headers`` its headers."""

    def __init__(
        self, status: int, reason: str = "", headers: CIMultiDictProxy[str] = _NO_HEADERS
    ) -> None:
        super().__init__(f"WebSocket handshake rejected: {status} {reason}".rstrip())
        self.status = status
        self.reason = reason
        self.headers = headers


class WSRedirect(WSClientError):
    """The server answered a redirect (3xx), which the client does not follow.

    ``location`` is the ``Location`` header (``""`` when missing); connect there
    yourself if you trust it.
    """

    def __init__(self, status: int, location: str, headers: CIMultiDictProxy[str]) -> None:
        super().__init__(f"WebSocket handshake redirected ({status}) to {location!r}: not followed")
        self.status = status
        self.location = location
        self.headers = headers


class WSInvalidUpgrade(WSClientError):
    """The server's 101 response is not a valid WebSocket upgrade for our request."""
