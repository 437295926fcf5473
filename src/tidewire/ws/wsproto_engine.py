"""The reference frame engine: wsproto's pure-Python frame parser behind tidewire's seam.

wsproto's ``FrameProtocol`` parses headers, unmasks, checks the masking rule
of each side, control-frame limits, continuation order, Close payloads and
text UTF-8 (incrementally, so invalid bytes fail even in an incomplete frame).
What it leaves to an extension is plugged in here as :class:`_TidewireFrames`:
RSV1 for permessage-deflate, the declared-length limit, and inflation through
the shared bounded codec (:mod:`tidewire.ws.compression`). Frames we send are
built by :mod:`tidewire.ws.framing`, the same bytes wsproto would build.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

from wsproto.extensions import Extension
from wsproto.frame_protocol import (
    CloseReason,
    Frame,
    FrameDecoder,
    FrameProtocol,
    Opcode,
    ParseFailed,
    RsvBits,
)

from .compression import MessageDeflater, MessageInflater
from .engine import OP_BINARY, OP_CLOSE, OP_TEXT, FrameError, FrameEvent, Side
from .framing import build_close, build_frame

__all__ = ["WsprotoEngine"]

_NO_BITS = RsvBits(False, False, False)
_RSV1 = RsvBits(True, False, False)
_CONTINUATION = Opcode.CONTINUATION
_CLOSE = Opcode.CLOSE


class _TidewireFrames(Extension):
    """wsproto extension hooks: RSV1, the declared-length limit, bounded inflation.

    For an uncompressed message, the payload lengths its frame headers declare
    are summed, and the message is refused with 1009 at the header that passes
    ``max_size`` (0: no limit), before its payload is read. A compressed
    message's wire size says nothing of its inflated size: the inflater bounds
    that one (RFC 7692 section 8.1 leaves the limit to us).
    """

    name = "tidewire-frames"

    def __init__(self, inflater: MessageInflater | None, max_size: int) -> None:
        self._inflater = inflater
        self._max_size = max_size
        self._declared = 0
        self._compressed = False  # the message being received is compressed
        self._control = False  # the frame being received is a control frame

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
            self._control = True
            # Control frames are never compressed (RFC 7692 section 6.1).
            return CloseReason.PROTOCOL_ERROR if rsv.rsv1 else _NO_BITS
        self._control = False
        if opcode is _CONTINUATION:
            if rsv.rsv1:
                # RSV1 marks only the first frame of a message (RFC 7692 section 6.1).
                return CloseReason.PROTOCOL_ERROR
        else:
            # (RSV1 without an agreed extension is left to wsproto: 1002.)
            self._compressed = rsv.rsv1 and self._inflater is not None
            self._declared = 0
        if not self._compressed and self._max_size:
            self._declared += payload_length
            if self._declared > self._max_size:
                return CloseReason.MESSAGE_TOO_BIG
        return _RSV1 if self._compressed and opcode is not _CONTINUATION else _NO_BITS

    def frame_inbound_payload_data(
        self, proto: FrameDecoder | FrameProtocol, data: bytes
    ) -> bytes | CloseReason:
        # A control frame may sit between the fragments of a compressed message.
        if not self._compressed or self._control or not data:
            return data
        assert self._inflater is not None
        return self._inflater.inflate(data)  # FrameError 1007/1009 propagates

    def frame_inbound_complete(
        self, proto: FrameDecoder | FrameProtocol, fin: bool
    ) -> bytes | CloseReason | None:
        if not fin or not self._compressed or self._control:
            return None
        self._compressed = False
        assert self._inflater is not None
        return self._inflater.finish()


class WsprotoEngine:
    """:class:`~tidewire.ws.engine.FrameEngine` on wsproto's frame layer (always available).

    ``codec`` is the pair from :func:`~tidewire.ws.compression.codec_for` when
    permessage-deflate was agreed, else ``None``; ``max_message_size`` (0: no
    bound) limits one message's payload, after inflation.
    """

    __slots__ = ("_deflater", "_frames", "_mask", "_parser")

    def __init__(
        self,
        side: Side,
        codec: tuple[MessageInflater, MessageDeflater] | None,
        max_message_size: int,
    ) -> None:
        inflater, deflater = codec if codec is not None else (None, None)
        extensions: list[Extension] = []
        if inflater is not None or max_message_size:
            extensions.append(_TidewireFrames(inflater, max_message_size))
        self._parser = FrameProtocol(client=side is Side.CLIENT, extensions=extensions)
        self._deflater = deflater
        self._mask = side is Side.CLIENT
        # One generator per burst of parsing, not per frame: it ends when bytes run out.
        self._frames: Iterator[Frame] | None = None

    def receive_data(self, data: bytes) -> None:
        """Buffer ``data`` received from the peer; parses nothing yet."""
        self._parser.receive_bytes(data)

    def next_event(self) -> FrameEvent | None:
        """The next frame event, or ``None`` when more bytes are needed (see engine.py)."""
        while True:
            frames = self._frames
            if frames is None:
                frames = self._frames = self._parser.received_frames()
            try:
                frame = next(frames, None)
            except ParseFailed as exc:
                self._frames = None
                raise FrameError(int(exc.code), str(exc)) from None
            except FrameError:
                self._frames = None
                raise
            if frame is None:
                self._frames = None
                return None
            opcode = frame.opcode
            if opcode is _CLOSE:
                # (code, reason), checked by wsproto (RFC 6455 section 7.4)
                code, reason = cast(tuple[int, str], frame.payload)
                return (OP_CLOSE, (int(code), reason), True)
            fin = frame.message_finished
            if opcode.iscontrol():
                return (int(opcode), frame.payload, True)
            payload = frame.payload
            if payload or fin:
                return (OP_TEXT if opcode is Opcode.TEXT else OP_BINARY, payload, fin)
            # An empty non-final piece tells the protocol nothing: parse on.

    @property
    def buffered(self) -> int:
        """Received bytes not yet consumed by :meth:`next_event`."""
        return len(self._parser._frame_decoder.buffer)

    def encode_message(self, data: str | bytes, compress: bool = True) -> bytes:
        """One whole TEXT (``str``) or BINARY (``bytes``) message as one frame."""
        if isinstance(data, str):
            opcode = OP_TEXT
            payload = data.encode("utf-8")
        else:
            opcode = OP_BINARY
            payload = data
        deflater = self._deflater
        if deflater is not None and compress:
            return build_frame(opcode, deflater.deflate(payload), mask=self._mask, rsv1=True)
        return build_frame(opcode, payload, mask=self._mask)

    def encode_control(self, opcode: int, payload: bytes) -> bytes:
        """A PING or PONG frame; the caller keeps ``payload`` within 125 bytes."""
        return build_frame(opcode, payload, mask=self._mask)

    def encode_close(self, code: int | None, reason: str = "") -> bytes:
        """A CLOSE frame; ``code=None`` sends an empty payload."""
        return build_close(code, reason, mask=self._mask)
