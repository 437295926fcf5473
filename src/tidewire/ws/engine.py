"""The seam between the WebSocket protocol and its frame engines.

A *frame engine* turns received bytes into frame events and builds the frames
we send, for one side (server or client) of one connection. Everything above
it (:mod:`tidewire.ws.protocol`: states, the close handshake, pong answers,
message assembly) sees only this interface and never knows which engine runs.

Two engines implement it:

- ``"wsproto"``: the reference, on wsproto's pure-Python frame protocol; always
  available.
- ``"compiled"``: tidewire's own frame parser, compiled with Cython when a C
  compiler was present at install time.

:func:`tidewire.ws.engines.create_engine` picks the compiled engine when it
was built, unless the environment variable ``TIDEWIRE_NO_EXTENSIONS`` is set to
a non-empty value other than ``0``; :data:`tidewire.ws.engines.ENGINE` (also
``tidewire.ws.ENGINE`` and ``tidewire.web.websocket_engine()``) names the
engine in use. (They live in their own module so that engines may import this
one.)

Events are plain tuples, so the per-frame path allocates nothing beyond them:

============================  ====================================================
``(OP_TEXT, str, fin)``       a piece of a text message, UTF-8 already checked
                              (a code point split across frames comes out with the
                              next piece); ``fin`` is true on the message's last
                              piece. Continuation frames come out with the
                              message's opcode (TEXT or BINARY), never
                              ``OP_CONTINUATION``.
``(OP_BINARY, bytes, fin)``   a piece of a binary message.
``(OP_PING, bytes, True)``    a ping with its payload.
``(OP_PONG, bytes, True)``    a pong with its payload.
``(OP_CLOSE, (code, reason), True)``  the peer's Close; ``code`` is 1005 when the
                              frame had no payload, ``reason`` is ``""`` then.
============================  ====================================================

A protocol violation raises :class:`FrameError` with the close code to send
(1002 framing, 1007 invalid UTF-8 or inflate failure, 1009 too big). Invalid
UTF-8 is reported as soon as the bytes that make it invalid have been received,
even in an incomplete frame (RFC 6455 section 8.1 "fail fast"), and an
uncompressed message whose declared frame lengths pass ``max_message_size``
is refused at the frame header, before its payload arrives.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, Protocol

__all__ = [
    "OP_BINARY",
    "OP_CLOSE",
    "OP_CONTINUATION",
    "OP_PING",
    "OP_PONG",
    "OP_TEXT",
    "FrameEngine",
    "FrameError",
    "FrameEvent",
    "Side",
]

OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

#: ``(opcode, payload, fin)``; see the module docstring for each opcode's payload.
FrameEvent = tuple[int, Any, bool]


class Side(IntEnum):
    """Which end of the connection an engine plays (RFC 6455 section 5.1 masking rules).

    A server requires masked frames and sends unmasked ones; a client the reverse.
    """

    SERVER = 0
    CLIENT = 1


class FrameError(Exception):
    """The peer broke the protocol: the caller must fail the connection with ``code``.

    After raising it, the engine is spent: the caller must not feed or pull it again
    (it may still build our Close frame with :meth:`FrameEngine.encode_close`).
    """

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


class FrameEngine(Protocol):
    """Parses and builds frames for one side of one connection.

    Construct it as ``Engine(side, codec, max_message_size)``: ``codec`` is the
    ``(MessageInflater, MessageDeflater)`` pair from
    :func:`tidewire.ws.compression.codec_for` when permessage-deflate was agreed,
    else ``None``; ``max_message_size`` bounds a message's payload, after
    inflation when compressed (0: no bound). Compressed messages are inflated
    through the codec, which enforces that bound; the engine enforces it for
    uncompressed ones from the declared frame lengths.
    """

    def receive_data(self, data: bytes) -> None:
        """Buffer ``data`` received from the peer; parses nothing yet."""

    def next_event(self) -> FrameEvent | None:
        """Parse the next event from the buffer, or return ``None`` when more bytes are needed.

        Raises :class:`FrameError` on a violation (see the module docstring). The
        caller must stop pulling after an ``OP_CLOSE`` event.
        """

    @property
    def buffered(self) -> int:
        """Received bytes not yet consumed by :meth:`next_event`."""

    def encode_message(self, data: str | bytes, compress: bool = True) -> bytes:
        """One whole TEXT (``str``) or BINARY (``bytes``) message as one frame.

        Compressed when permessage-deflate was agreed and ``compress`` is true;
        masked on the client side.
        """

    def encode_control(self, opcode: int, payload: bytes) -> bytes:
        """A PING or PONG frame; the caller must keep ``payload`` within 125 bytes."""

    def encode_close(self, code: int | None, reason: str = "") -> bytes:
        """A CLOSE frame; ``code=None`` sends an empty payload."""

