"""permessage-deflate (RFC 7692): the server's options and the negotiation of an offer.

The codec itself (bounded inflation) is :mod:`tidewire.ws.compression`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..http.headers import split_header_list

__all__ = ["DeflateOptions", "DeflateParams", "negotiate_deflate"]


@dataclass(frozen=True)
class DeflateOptions:
    """The server's compression preferences.

    ``window_bits`` and ``mem_level`` size our compressor (zlib allocates about
    ``2**(window_bits+2) + 2**(mem_level+9)`` bytes for it); ``client_window_bits``
    is asked of clients that allow it, and sizes our decompressor (``2**bits`` plus
    about 7 KiB). ``level`` is zlib's compression level.
    """

    window_bits: int = 12
    mem_level: int = 5
    level: int = 6
    client_window_bits: int = 12

    def __post_init__(self) -> None:
        if not 9 <= self.window_bits <= 15 or not 9 <= self.client_window_bits <= 15:
            raise ValueError("window bits must be from 9 to 15")
        if not 1 <= self.mem_level <= 9:
            raise ValueError("mem_level must be from 1 to 9")


@dataclass(frozen=True)
class DeflateParams:
    """What both sides agreed to (RFC 7692 section 7.1)."""

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_window_bits: int = 15
    client_window_bits: int = 15


class _Decline(Exception):
    pass


def parse_extensions(header_values: list[str]) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Split ``Sec-WebSocket-Extensions`` values into (name, [(param, value)]) offers."""
    offers = []
    for item in split_header_list(header_values):
        parts = [part.strip() for part in item.split(";")]
        if not parts[0]:
            continue
        params: list[tuple[str, str | None]] = []
        for part in parts[1:]:
            key, eq, val = part.partition("=")
            params.append((key.strip().lower(), val.strip().strip('"') if eq else None))
        offers.append((parts[0].lower(), params))
    return offers


_WINDOW_BITS = {str(bits): bits for bits in range(8, 16)}


def _window_bits(value: str | None) -> int:
    """A window size parameter: 8 to 15 in ASCII digits, no leading zero (7.1.2.1)."""
    bits = _WINDOW_BITS.get(value or "")
    if bits is None:
        raise _Decline
    return bits


def _accept_offer(
    params: list[tuple[str, str | None]], options: DeflateOptions
) -> tuple[str, DeflateParams]:
    """Accept one offer or raise :class:`_Decline` (RFC 7692 sections 5 and 7.1)."""
    names = [name for name, _ in params]
    if len(names) != len(set(names)):
        raise _Decline
    response = ["permessage-deflate"]
    server_nct = client_nct = False
    server_bits = options.window_bits
    client_bits = 15
    for name, value in params:
        if name == "server_no_context_takeover":
            if value is not None:
                raise _Decline
            server_nct = True
            response.append("server_no_context_takeover")
        elif name == "client_no_context_takeover":
            if value is not None:
                raise _Decline
            client_nct = True
            response.append("client_no_context_takeover")
        elif name == "server_max_window_bits":
            offered = _window_bits(value)
            if offered < 9:
                raise _Decline  # zlib cannot deflate with a 256-byte window
            server_bits = min(server_bits, offered)
            response.append(f"server_max_window_bits={server_bits}")
        elif name == "client_max_window_bits":
            offered = _window_bits(value) if value is not None else 15
            client_bits = min(offered, options.client_window_bits)
            response.append(f"client_max_window_bits={client_bits}")
        else:
            raise _Decline
    agreed = DeflateParams(server_nct, client_nct, server_bits, max(client_bits, 9))
    return "; ".join(response), agreed


def negotiate_deflate(
    header_values: list[str], options: DeflateOptions
) -> tuple[str, DeflateParams] | None:
    """Accept the first acceptable permessage-deflate offer.

    Returns the ``Sec-WebSocket-Extensions`` response value and the agreement,
    or ``None`` when no offer is acceptable (then the connection is uncompressed).
    """
    for name, params in parse_extensions(header_values):
        if name != "permessage-deflate":
            continue
        try:
            return _accept_offer(params, options)
        except _Decline:
            continue
    return None
