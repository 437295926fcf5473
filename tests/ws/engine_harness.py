"""Shared tools of the frame-engine tests: frame builders, engine factories, a recording driver.

The engines under test are tidewire's own (``_frames_py``, and ``_frames_c`` when it
was built). The reference they are compared with is chosen in ONE place:
:func:`make_reference`. Today it wraps wsproto's ``FrameProtocol`` directly
(:class:`WsprotoFrameReference`); to compare with the protocol branch's engine instead,
change the ``return`` line of :func:`make_reference` to
``return WsprotoEngine(side, codec, max_size)`` (from ``tidewire.ws.wsproto_engine``),
which takes exactly the same arguments.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import Any

from tidewire.ws import _frames_py
from tidewire.ws.compression import MessageDeflater, MessageInflater, codec_for
from tidewire.ws.deflate import DeflateOptions, DeflateParams
from tidewire.ws.engine import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_TEXT,
    FrameEngine,
    FrameError,
    Side,
)
from tidewire.ws.wsproto_engine import WsprotoEngine

try:
    from tidewire.ws import _frames_c
except ImportError:  # not built (no compiler, or TIDEWIRE_NO_EXTENSIONS at install time)
    _frames_c = None  # type: ignore[assignment]

#: Engine classes under test: the pure build always, the compiled one when it was built.
ENGINES: dict[str, Any] = {"py": _frames_py.Engine}
if _frames_c is not None:
    ENGINES["c"] = _frames_c.Engine

#: The client's masking key used by the builders below (any key works; fixed for readability).
KEY = b"\x37\xfa\x21\x3d"

Codec = tuple[MessageInflater, MessageDeflater]


# --------------------------------------------------------------------------- frames


def mask(payload: bytes, key: bytes) -> bytes:
    """``payload`` XORed with ``key`` (RFC 6455 section 5.3), the obvious slow way."""
    return bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    key: bytes | None = KEY,
    length_form: int | None = None,
    declared: int | None = None,
) -> bytes:
    """One frame, valid or not: ``rsv`` is the 3 RSV bits (4 = RSV1), ``key=None`` unmasked.

    ``length_form`` forces the 7-, 16- or 64-bit length encoding (7/16/64);
    ``declared`` writes a length other than ``len(payload)``.
    """
    n = len(payload) if declared is None else declared
    form = length_form or (7 if n < 126 else 16 if n < 65536 else 64)
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    mbit = 0x80 if key is not None else 0
    if form == 7:
        head = bytes((b0, mbit | n))
    elif form == 16:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if key is None:
        return head + payload
    return head + key + mask(payload, key)


def close_payload(code: int, reason: bytes = b"") -> bytes:
    """The payload of a Close frame."""
    return struct.pack("!H", code) + reason


def compress(data: bytes, compressor: Any) -> bytes:
    """``data`` deflated as one message with ``compressor`` (RFC 7692 section 7.2.1)."""
    out: bytes = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return out[:-4] if out.endswith(b"\x00\x00\xff\xff") else out


def client_compressor(params: DeflateParams) -> Any:
    """What a client compresses its messages with under ``params``."""
    return zlib.compressobj(6, zlib.DEFLATED, -params.client_window_bits)


def peer_compressor(side: Side, params: DeflateParams) -> Any:
    """What the peer of ``side`` compresses with: a client for a server, and the reverse."""
    if side is Side.SERVER:
        return client_compressor(params)
    return zlib.compressobj(6, zlib.DEFLATED, -params.server_window_bits)


# -------------------------------------------------------------------------- factories

OPTIONS = DeflateOptions()


def codec(side: Side, params: DeflateParams | None, max_size: int) -> Codec | None:
    """The permessage-deflate codec for ``params`` (None: not agreed)."""
    if params is None:
        return None
    return codec_for(side, params, OPTIONS, max_size)


def make_engine(
    name: str, side: Side, params: DeflateParams | None = None, max_size: int = 0
) -> FrameEngine:
    """One of tidewire's engines (``"py"`` or ``"c"``)."""
    engine: FrameEngine = ENGINES[name](side, codec(side, params, max_size), max_size)
    return engine


def make_reference(
    side: Side, params: DeflateParams | None = None, max_size: int = 0
) -> FrameEngine:
    """The reference engine: tidewire's wsproto engine, with the same shared codec."""
    return WsprotoEngine(side, codec(side, params, max_size), max_size)


Record = list[tuple[Any, ...]]


def run(engine: FrameEngine, chunks: Iterable[bytes]) -> Record:
    """Feed ``chunks`` one at a time, pulling every event after each; the normalised record."""
    record: Record = []
    pieces: list[Any] = []
    for chunk in chunks:
        engine.receive_data(chunk)
        while True:
            try:
                event = engine.next_event()
            except FrameError as exc:
                record.append(("error", exc.code))
                return record
            if event is None:
                break
            opcode, payload, fin = event
            if opcode in (OP_TEXT, OP_BINARY):
                pieces.append(payload)
                if fin:
                    kind = "text" if opcode == OP_TEXT else "binary"
                    joined = "".join(pieces) if opcode == OP_TEXT else b"".join(pieces)
                    record.append((kind, joined))
                    pieces = []
            elif opcode == OP_CLOSE:
                record.append(("close", *payload))
                return record
            else:
                record.append(("ping" if opcode == OP_PING else "pong", payload))
    return record


def split(data: bytes, cuts: Sequence[int]) -> list[bytes]:
    """``data`` cut at the given offsets (taken modulo its length, sorted)."""
    if not data:
        return [data]
    points = sorted({c % len(data) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in pairwise(points) if b > a]


def bytewise(data: bytes) -> list[bytes]:
    """``data`` one byte at a time."""
    return [data[i : i + 1] for i in range(len(data))]


def random_key() -> bytes:
    """A fresh masking key."""
    return os.urandom(4)
