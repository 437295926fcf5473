"""permessage-deflate (RFC 7692): negotiation and a wsproto extension with bounded inflation.

wsproto's own extension inflates without a bound, so a few kilobytes of
compressed input could expand to gigabytes. :class:`PerMessageDeflate` here asks
zlib for at most the bytes the message may still grow by, and fails the
connection with 1009 as soon as a message would pass ``max_message_size``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from wsproto.frame_protocol import CloseReason, FrameDecoder, FrameProtocol, Opcode, RsvBits

__all__ = ["DeflateOptions", "DeflateParams", "PerMessageDeflate", "negotiate_deflate"]

from .sizeguard import DeclaredSizeGuard

_EMPTY_BLOCK_TAIL = b"\x00\x00\xff\xff"  # RFC 7692 section 7.2.1
_NO_BITS = RsvBits(False, False, False)
_RSV1 = RsvBits(True, False, False)


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
    for value in header_values:
        for item in value.split(","):
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


class PerMessageDeflate(DeclaredSizeGuard):
    """Server side of an agreed permessage-deflate, plugged into wsproto's ``Connection``.

    ``max_message_size`` (0: none) bounds every inflated message. The caller may
    set :attr:`compress_next` to False to send the next message uncompressed.
    """

    name = "permessage-deflate"

    def __init__(
        self, params: DeflateParams, options: DeflateOptions, max_message_size: int
    ) -> None:
        super().__init__(max_message_size)
        self.params = params
        self._options = options
        self._compressor: zlib._Compress | None = None
        self._decompressor: zlib._Decompress | None = None
        self._inbound_compressed = False
        self._inbound_control = False
        self._inflated = 0
        self._outbound_compressed = False
        self.compress_next = True

    # inbound ------------------------------------------------------------------------

    def frame_inbound_header(
        self,
        proto: FrameDecoder | FrameProtocol,
        opcode: Opcode,
        rsv: RsvBits,
        payload_length: int,
    ) -> CloseReason | RsvBits:
        self._inbound_control = opcode.iscontrol()
        if self._inbound_control:
            return CloseReason.PROTOCOL_ERROR if rsv.rsv1 else _NO_BITS
        starts_message = opcode is not Opcode.CONTINUATION
        if not starts_message and rsv.rsv1:
            # RSV1 marks only the first frame of a data message (RFC 7692 section 6).
            return CloseReason.PROTOCOL_ERROR
        if starts_message:
            self._inbound_compressed = rsv.rsv1
            self._inflated = 0
        if self.declared_too_big(starts_message, self._inbound_compressed, payload_length):
            return CloseReason.MESSAGE_TOO_BIG
        return _RSV1 if starts_message else _NO_BITS

    def frame_inbound_payload_data(
        self, proto: FrameDecoder | FrameProtocol, data: bytes
    ) -> bytes | CloseReason:
        # A control frame may sit between the fragments of a compressed message.
        if not self._inbound_compressed or self._inbound_control or not data:
            return data
        return self._inflate(data)

    def frame_inbound_complete(
        self, proto: FrameDecoder | FrameProtocol, fin: bool
    ) -> bytes | CloseReason | None:
        if not fin or not self._inbound_compressed or self._inbound_control:
            return None
        self._inbound_compressed = False
        result = self._inflate(_EMPTY_BLOCK_TAIL)
        if self.params.client_no_context_takeover:
            self._decompressor = None
        return result

    def _inflate(self, data: bytes) -> bytes | CloseReason:
        decompressor = self._decompressor
        if decompressor is None:
            decompressor = zlib.decompressobj(-self.params.client_window_bits)
            self._decompressor = decompressor
        try:
            if not self._max_size:
                return decompressor.decompress(data)
            allowance = self._max_size - self._inflated
            out = decompressor.decompress(data, allowance + 1)
        except zlib.error:
            return CloseReason.INVALID_FRAME_PAYLOAD_DATA
        if len(out) > allowance:
            return CloseReason.MESSAGE_TOO_BIG
        self._inflated += len(out)
        return out

    # outbound -----------------------------------------------------------------------

    def frame_outbound(
        self,
        proto: FrameDecoder | FrameProtocol,
        opcode: Opcode,
        rsv: RsvBits,
        data: bytes,
        fin: bool,
    ) -> tuple[RsvBits, bytes]:
        if opcode.iscontrol():
            return rsv, data
        if opcode is not Opcode.CONTINUATION:
            self._outbound_compressed = self.compress_next
            if self._outbound_compressed:
                rsv = RsvBits(True, rsv.rsv2, rsv.rsv3)
        if not self._outbound_compressed:
            return rsv, data
        compressor = self._compressor
        if compressor is None:
            options = self._options
            compressor = zlib.compressobj(
                options.level, zlib.DEFLATED, -self.params.server_window_bits, options.mem_level
            )
            self._compressor = compressor
        out = compressor.compress(data)
        if fin:
            out += compressor.flush(zlib.Z_SYNC_FLUSH)
            if out.endswith(_EMPTY_BLOCK_TAIL):
                out = out[:-4]
            if self.params.server_no_context_takeover:
                self._compressor = None
        return rsv, out

    def __repr__(self) -> str:
        return f"<PerMessageDeflate {self.params}>"
