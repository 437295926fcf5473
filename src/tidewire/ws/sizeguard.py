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
    ``max_size`` bytes of payload (0: no limit). A compressed message's wire size
    says nothing of its inflated size: :class:`~tidewire.ws.deflate.PerMessageDeflate`,
    which subclasses this guard so that a compressed connection needs one extension
    only, bounds that.
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

    def declared_too_big(self, starts_message: bool, compressed: bool, payload_length: int) -> bool:
        """Count a data frame's declared length; True once the message passes the limit.

        ``starts_message`` is true for a TEXT/BINARY frame (not a continuation);
        compressed messages are not counted here.
        """
        if starts_message:
            self._declared = 0
        if compressed or not self._max_size:
            return False
        self._declared += payload_length
        return self._declared > self._max_size

    def frame_inbound_header(
        self,
        proto: FrameDecoder | FrameProtocol,
        opcode: Opcode,
        rsv: RsvBits,
        payload_length: int,
    ) -> CloseReason | RsvBits:
        if opcode.iscontrol():
            return _NO_BITS
        starts_message = opcode is not Opcode.CONTINUATION
        if starts_message:
            self._compressed = rsv.rsv1
        if self.declared_too_big(starts_message, self._compressed, payload_length):
            return CloseReason.MESSAGE_TOO_BIG
        return _NO_BITS
