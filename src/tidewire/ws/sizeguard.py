"""Refuse a message by the length its frame headers declare, before its payload arrives."""

from __future__ import annotations

from wsproto.extensions import Extension
from wsproto.frame_protocol import CloseReason, FrameDecoder, FrameProtocol, Opcode, RsvBits

__all__ = ["DeclaredSizeGuard"]

_NO_BITS = RsvBits(False, False, False)


class DeclaredSizeGuard(Extension):
    """A wsproto extension that negotiates nothing and claims no RSV bit.

    It sums the payload lengths the headers of an uncompressed message declare
    and fails the connection with 1009 as soon as the sum passes ``max_size``, so
    a peer announcing a terabyte frame is refused at its header rather than after
    ``max_size`` bytes of payload. (A compressed message's wire size says nothing
    of its inflated size; :class:`~tidewire.ws.deflate.PerMessageDeflate` bounds that.)
    """

    name = "tidewire-declared-size-guard"

    def __init__(self, max_size: int) -> None:
        self._max_size = max_size
        self._declared = 0
        self._compressed = False

    def enabled(self) -> bool:
        return True

    def offer(self) -> bool | str:
        return False

    def frame_inbound_header(
        self,
        proto: FrameDecoder | FrameProtocol,
        opcode: Opcode,
        rsv: RsvBits,
        payload_length: int,
    ) -> CloseReason | RsvBits:
        if opcode.iscontrol():
            return _NO_BITS
        if opcode is not Opcode.CONTINUATION:
            self._compressed = rsv.rsv1
            self._declared = 0
        if not self._compressed:
            self._declared += payload_length
            if self._declared > self._max_size:
                return CloseReason.MESSAGE_TOO_BIG
        return _NO_BITS
