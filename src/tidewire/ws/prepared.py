"""Messages encoded once and sent to many sockets (broadcast without re-framing)."""

from __future__ import annotations

from dataclasses import dataclass

from .engine import OP_BINARY, OP_TEXT
from .framing import build_frame

__all__ = ["PreparedMessage"]


@dataclass(frozen=True, slots=True)
class PreparedMessage:
    """One uncompressed server frame, built once.

    Server frames are never masked, so the same bytes are valid on every
    connection, compressed ones included (RSV1 clear means "not compressed",
    RFC 7692 section 6). Send it with ``WebSocketResponse.send_prepared``.
    """

    frame: bytes
    size: int

    @classmethod
    def encode(cls, data: str | bytes) -> PreparedMessage:
        """Frame ``data`` as one TEXT (str) or BINARY (bytes) message."""
        if isinstance(data, str):
            frame = build_frame(OP_TEXT, data.encode("utf-8"), mask=False)
        else:
            frame = build_frame(OP_BINARY, bytes(data), mask=False)
        return cls(frame, len(frame))
