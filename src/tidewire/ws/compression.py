"""permessage-deflate's codec (RFC 7692 section 7.2): bounded inflation, whole-message deflation.

Both frame engines use these two classes, so the inflation bound and the
compressor settings live in one place. zlib's own inflater would expand a few
kilobytes into gigabytes; :class:`MessageInflater` asks zlib for at most the
bytes the message may still grow by, and refuses the message (1009) as soon
as it would pass ``max_size``.
"""

from __future__ import annotations

import zlib

from .deflate import DeflateOptions, DeflateParams
from .engine import FrameError, Side

__all__ = ["MessageDeflater", "MessageInflater", "codec_for"]

#: The tail a sync flush ends with; stripped by the sender, restored by the receiver
#: (RFC 7692 sections 7.2.1 and 7.2.2).
EMPTY_BLOCK_TAIL = b"\x00\x00\xff\xff"

_MESSAGE_TOO_BIG = 1009
_INVALID_DATA = 1007


class MessageInflater:
    """Inflates the payload of received compressed messages, frame by frame.

    For each compressed message the caller must call :meth:`inflate` with every
    frame's payload in order, then :meth:`finish` once after the message's last
    frame. ``max_size`` (0: no bound) limits one message's inflated bytes; past
    it :class:`~tidewire.ws.engine.FrameError` 1009 is raised, and corrupt
    input raises 1007.
    """

    __slots__ = ("_decompressor", "_inflated", "_max_size", "_no_context_takeover", "_window_bits")

    def __init__(self, window_bits: int, no_context_takeover: bool, max_size: int) -> None:
        self._window_bits = window_bits
        self._no_context_takeover = no_context_takeover
        self._max_size = max_size
        self._decompressor: zlib._Decompress | None = None
        self._inflated = 0

    def inflate(self, data: bytes) -> bytes:
        """The bytes ``data`` inflates to (possibly none yet)."""
        decompressor = self._decompressor
        if decompressor is None:
            decompressor = self._decompressor = zlib.decompressobj(-self._window_bits)
        try:
            if not self._max_size:
                return decompressor.decompress(data)
            allowance = self._max_size - self._inflated
            out = decompressor.decompress(data, allowance + 1)
        except zlib.error as exc:
            raise FrameError(_INVALID_DATA, "invalid compressed data") from exc
        if len(out) > allowance:
            raise FrameError(_MESSAGE_TOO_BIG, "message too big")
        self._inflated += len(out)
        return out

    def finish(self) -> bytes:
        """End the current message: the bytes its final empty block still yields."""
        out = self.inflate(EMPTY_BLOCK_TAIL)
        self._inflated = 0
        if self._no_context_takeover:
            self._decompressor = None
        return out


class MessageDeflater:
    """Compresses whole messages we send, one frame payload each (RFC 7692 section 7.2.1)."""

    __slots__ = ("_compressor", "_level", "_mem_level", "_no_context_takeover", "_window_bits")

    def __init__(
        self, window_bits: int, no_context_takeover: bool, level: int, mem_level: int
    ) -> None:
        self._window_bits = window_bits
        self._no_context_takeover = no_context_takeover
        self._level = level
        self._mem_level = mem_level
        self._compressor: zlib._Compress | None = None

    def deflate(self, data: bytes) -> bytes:
        """The compressed payload for the message ``data``, without the empty-block tail."""
        compressor = self._compressor
        if compressor is None:
            compressor = self._compressor = zlib.compressobj(
                self._level, zlib.DEFLATED, -self._window_bits, self._mem_level
            )
        out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
        if out.endswith(EMPTY_BLOCK_TAIL):
            out = out[:-4]
        if self._no_context_takeover:
            self._compressor = None
        return out


def codec_for(
    side: Side, params: DeflateParams, options: DeflateOptions, max_size: int
) -> tuple[MessageInflater, MessageDeflater]:
    """The inflater and deflater one side of an agreement uses.

    A server inflates what the client compressed (``client_*`` parameters) and
    deflates with the ``server_*`` ones; a client the reverse.
    """
    if side is Side.SERVER:
        inflater = MessageInflater(
            params.client_window_bits, params.client_no_context_takeover, max_size
        )
        deflater = MessageDeflater(
            params.server_window_bits,
            params.server_no_context_takeover,
            options.level,
            options.mem_level,
        )
    else:
        inflater = MessageInflater(
            params.server_window_bits, params.server_no_context_takeover, max_size
        )
        deflater = MessageDeflater(
            params.client_window_bits,
            params.client_no_context_takeover,
            options.level,
            options.mem_level,
        )
    return inflater, deflater
