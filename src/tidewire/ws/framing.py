"""Building frames we send (RFC 6455 section 5.2): one header builder, masking, Close payloads.

Sending needs no state beyond the side and the compressor, so every engine can
use these functions; only parsing differs between engines. Frames are built
whole, in one ``bytes`` join of header and payload.
"""

from __future__ import annotations

import os
import struct

from .engine import OP_CLOSE

__all__ = ["MAX_CLOSE_REASON", "build_close", "build_frame", "close_payload", "mask_payload"]

_FIN = 0x80
_RSV1 = 0x40
_MASK_BIT = 0x80
_LEN16 = struct.Struct("!BBH")
_LEN64 = struct.Struct("!BBQ")
#: A Close reason may use what a control frame's 125 bytes leave after the code (5.5.1).
MAX_CLOSE_REASON = 123


def mask_payload(mask: bytes, payload: bytes) -> bytes:
    """``payload`` XORed with the 4-byte ``mask`` (RFC 6455 section 5.3), one big-int XOR."""
    size = len(payload)
    if not size:
        return b""
    repeated = mask * (size // 4 + 1)
    masked = int.from_bytes(payload, "little") ^ int.from_bytes(repeated[:size], "little")
    return masked.to_bytes(size, "little")


def build_frame(opcode: int, payload: bytes, *, mask: bool, rsv1: bool = False) -> bytes:
    """One final frame carrying ``payload``; masked with a fresh random key when ``mask``.

    Clients must mask every frame and servers must not (RFC 6455 section 5.1);
    the caller decides by side. ``rsv1`` marks a compressed message (RFC 7692
    section 6).
    """
    first = _FIN | opcode | (_RSV1 if rsv1 else 0)
    size = len(payload)
    mask_bit = _MASK_BIT if mask else 0
    if size < 126:
        header = bytes((first, size | mask_bit))
    elif size < 65536:
        header = _LEN16.pack(first, 126 | mask_bit, size)
    else:
        header = _LEN64.pack(first, 127 | mask_bit, size)
    if not mask:
        return header + payload
    key = os.urandom(4)
    return header + key + mask_payload(key, payload)


def close_payload(code: int | None, reason: str) -> bytes:
    """A Close frame's payload: the code and the reason cut to 123 UTF-8 bytes (5.5.1).

    ``code=None`` gives an empty payload (and drops the reason, which needs a code).
    A cut never splits a code point, so the reason stays valid UTF-8 (section 5.5.1).
    1005, 1006 and 1015 must never be sent (section 7.4.1): they become 1000.
    """
    if code is None:
        return b""
    if code == 1005 or code == 1006 or code == 1015:
        code = 1000
    encoded = reason.encode("utf-8")
    if len(encoded) > MAX_CLOSE_REASON:
        encoded = encoded[:MAX_CLOSE_REASON].decode("utf-8", "ignore").encode("utf-8")
    return code.to_bytes(2, "big") + encoded


def build_close(code: int | None, reason: str, *, mask: bool) -> bytes:
    """A whole Close frame (see :func:`close_payload`)."""
    return build_frame(OP_CLOSE, close_payload(code, reason), mask=mask)
