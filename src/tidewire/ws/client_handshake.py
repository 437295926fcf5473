"""The client's half of the opening handshake (RFC 6455 section 4.1; RFC 7692), sans I/O.

:class:`ClientHandshake` builds the upgrade request and judges the server's
answer: the caller must write :attr:`ClientHandshake.request`, then feed every
received byte to :meth:`ClientHandshake.receive_data` until it returns a
:class:`HandshakeResult`. The response head is parsed with httptools under the
server's own head limits. Every refusal raises one of
:mod:`tidewire.ws.client_errors`.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from multidict import CIMultiDictProxy
from yarl import URL

from ..http.headers import split_header_list
from ..http.response_reader import BadResponse, ResponseHead, ResponseReader
from .client_errors import WSHandshakeRejected, WSInvalidUpgrade, WSRedirect
from .deflate import DeflateParams, parse_extensions
from .handshake import accept_token

__all__ = ["ClientHandshake", "HandshakeResult", "WSTarget", "parse_ws_url"]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_WINDOW_BITS = {str(bits): bits for bits in range(8, 16)}


@dataclass(frozen=True)
class WSTarget:
    """Where a ``ws://`` or ``wss://`` URL points."""

    secure: bool
    host: str
    port: int
    #: The request target: path and query (RFC 6455 section 3 "resource name").
    resource: str
    #: The ``Host`` header value (the port only when it is not the scheme's default).
    host_header: str
    #: ``user:password`` from the URL, sent as Basic authorization, or ``None``.
    userinfo: str | None


def parse_ws_url(url: str | URL) -> WSTarget:
    """Split a WebSocket URL; raise :class:`ValueError` for another scheme or a fragment.

    RFC 6455 section 3: the scheme is ``ws`` or ``wss`` and there is no fragment.
    """
    parsed = URL(url) if isinstance(url, str) else url
    scheme = (parsed.scheme or "").lower()
    if scheme not in ("ws", "wss") or not parsed.host:
        raise ValueError(f"not a ws:// or wss:// URL: {str(url)!r}")
    if parsed.fragment:
        raise ValueError("a WebSocket URL must not have a fragment (RFC 6455 section 3)")
    secure = scheme == "wss"
    default_port = 443 if secure else 80
    port = parsed.port or default_port
    host = parsed.raw_host or parsed.host
    shown = f"[{host}]" if ":" in host else host
    host_header = shown if port == default_port else f"{shown}:{port}"
    resource = parsed.raw_path_qs or "/"
    userinfo = None
    if parsed.user is not None:
        userinfo = f"{parsed.user}:{parsed.password or ''}"
    return WSTarget(secure, host, port, resource, host_header, userinfo)


@dataclass(frozen=True)
class HandshakeResult:
    """What the server agreed to.

    ``subprotocol`` is the one it chose (``None``: none); ``deflate`` the
    permessage-deflate parameters when compression was agreed; ``leftover`` the
    bytes received after the head, which are the first WebSocket frames and
    the caller must feed to the protocol.
    """

    subprotocol: str | None
    deflate: DeflateParams | None
    headers: CIMultiDictProxy[str]
    leftover: bytes


class ClientHandshake:
    """One opening handshake: the request to send and the checks of its answer.

    ``compress`` offers permessage-deflate (``True``, or an int 9-15 to cap the
    window we compress with, sent as ``client_max_window_bits``); ``False``
    offers nothing. ``protocols`` are offered in order. ``headers`` are added to
    the request (they must not repeat the handshake's own). ``key`` is for tests
    (16 random bytes, base64, by default).
    """

    def __init__(
        self,
        target: WSTarget,
        *,
        protocols: Sequence[str] = (),
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        origin: str | None = None,
        compress: bool | int = True,
        key: str | None = None,
    ) -> None:
        if not isinstance(compress, bool) and not 9 <= compress <= 15:
            raise ValueError("compress window bits must be from 9 to 15")
        self.key = key or base64.b64encode(os.urandom(16)).decode("ascii")
        self.protocols = tuple(protocols)
        self._compress_bits = 15 if compress is True else int(compress)
        self._offer_deflate = compress is not False
        self._reader = ResponseReader()
        lines = [
            f"GET {target.resource} HTTP/1.1",
            f"Host: {target.host_header}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {self.key}",
            "Sec-WebSocket-Version: 13",
        ]
        if self.protocols:
            lines.append(f"Sec-WebSocket-Protocol: {', '.join(self.protocols)}")
        if self._offer_deflate:
            # RFC 7692 section 7.1.2.2: a bare client_max_window_bits says we accept any cap.
            bits = "" if compress is True else f"={self._compress_bits}"
            offer = f"permessage-deflate; client_max_window_bits{bits}"
            lines.append(f"Sec-WebSocket-Extensions: {offer}")
        if origin is not None:
            lines.append(f"Origin: {origin}")
        if target.userinfo is not None:
            token = base64.b64encode(target.userinfo.encode("utf-8")).decode("ascii")
            lines.append(f"Authorization: Basic {token}")
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        for name, value in pairs:
            if "\r" in name or "\n" in name or "\r" in value or "\n" in value:
                raise ValueError(f"header {name!r} contains a line break")
            lines.append(f"{name}: {value}")
        #: The request bytes: the caller must send them before feeding the answer.
        self.request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def receive_data(self, data: bytes) -> HandshakeResult | None:
        """Parse received bytes; return the result once the response head is complete.

        Returns ``None`` while more bytes are needed. Raises
        :class:`~tidewire.ws.client_errors.WSHandshakeRejected`,
        :class:`~tidewire.ws.client_errors.WSRedirect` or
        :class:`~tidewire.ws.client_errors.WSInvalidUpgrade`.
        """
        try:
            leftover = self._reader.feed(data)
        except BadResponse as exc:
            raise WSInvalidUpgrade(f"invalid handshake response: {exc}") from None
        head = self._reader.head
        if head is None:
            return None
        if head.status != 101:
            self._refuse(head)
        if leftover is None:
            # llhttp reports no upgrade without both Upgrade and "Connection: upgrade".
            raise WSInvalidUpgrade("101 response without 'Connection: Upgrade' and 'Upgrade'")
        return self._accept(head, leftover)

    def receive_eof(self) -> None:
        """The server closed before a whole response head: raise :class:`WSInvalidUpgrade`."""
        raise WSInvalidUpgrade("connection closed during the WebSocket handshake")

    def _refuse(self, head: ResponseHead) -> None:
        if head.status in _REDIRECTS:
            raise WSRedirect(head.status, head.headers.get("Location", ""), head.headers)
        raise WSHandshakeRejected(head.status, head.reason, head.headers)

    def _accept(self, head: ResponseHead, leftover: bytes) -> HandshakeResult:
        headers = head.headers
        # RFC 6455 section 4.1, the client's checks 1-6 of the server's response.
        if "websocket" not in _tokens(headers, "Upgrade"):
            raise WSInvalidUpgrade("missing 'Upgrade: websocket'")
        if "upgrade" not in _tokens(headers, "Connection"):
            raise WSInvalidUpgrade("missing 'Connection: Upgrade'")
        accepts = headers.getall("Sec-WebSocket-Accept", ())
        if len(accepts) != 1 or accepts[0] != accept_token(self.key):
            raise WSInvalidUpgrade("wrong Sec-WebSocket-Accept")
        return HandshakeResult(
            self._subprotocol(headers), self._deflate(headers), headers, leftover
        )

    def _subprotocol(self, headers: CIMultiDictProxy[str]) -> str | None:
        values = split_header_list(headers.getall("Sec-WebSocket-Protocol", ()))
        if not values:
            return None
        if len(values) != 1 or values[0] not in self.protocols:
            raise WSInvalidUpgrade(f"the server chose a subprotocol we did not offer: {values}")
        return values[0]

    def _deflate(self, headers: CIMultiDictProxy[str]) -> DeflateParams | None:
        extensions = parse_extensions(headers.getall("Sec-WebSocket-Extensions", []))
        if not extensions:
            return None
        if not self._offer_deflate or len(extensions) != 1:
            raise WSInvalidUpgrade("the server accepted an extension we did not offer")
        name, params = extensions[0]
        if name != "permessage-deflate":
            raise WSInvalidUpgrade(f"the server accepted an extension we did not offer: {name}")
        return self._deflate_params(params)

    def _deflate_params(self, params: list[tuple[str, str | None]]) -> DeflateParams:
        """Validate the accepted permessage-deflate parameters (RFC 7692 sections 7.1.1-7.1.2)."""
        names = [name for name, _ in params]
        if len(names) != len(set(names)):
            raise WSInvalidUpgrade("permessage-deflate response repeats a parameter")
        server_nct = client_nct = False
        server_bits = 15
        client_bits = self._compress_bits
        for name, value in params:
            if name in ("server_no_context_takeover", "client_no_context_takeover"):
                if value is not None:
                    raise WSInvalidUpgrade(f"{name} takes no value")
                if name == "server_no_context_takeover":
                    server_nct = True
                else:
                    client_nct = True
            elif name == "server_max_window_bits":
                # Allowed even when not offered (7.1.2.1); our inflater's window may be larger.
                server_bits = max(_bits(name, value), 9)
            elif name == "client_max_window_bits":
                bits = _bits(name, value)
                if bits > self._compress_bits:
                    raise WSInvalidUpgrade("client_max_window_bits above what we offered")
                if bits < 9:
                    raise WSInvalidUpgrade("cannot compress with a 256-byte window (zlib)")
                client_bits = bits
            else:
                raise WSInvalidUpgrade(f"unknown permessage-deflate parameter {name!r}")
        return DeflateParams(server_nct, client_nct, server_bits, client_bits)


def _bits(name: str, value: str | None) -> int:
    bits = _WINDOW_BITS.get(value or "")
    if bits is None:
        raise WSInvalidUpgrade(f"invalid {name} value {value!r}")
    return bits


def _tokens(headers: CIMultiDictProxy[str], name: str) -> set[str]:
    return {token.lower() for token in split_header_list(headers.getall(name, ()))}
