# cython: language_level=3, annotation_typing=False, boundscheck=False, wraparound=False
"""tidewire's own frame engine (RFC 6455 section 5, RFC 7692 section 6), in one source.

This file runs as plain Python (``tidewire.ws._frames_py``) and is compiled by
Cython, with the C types of ``_frames_py.pxd``, into ``tidewire.ws._frames_c``
when a C compiler was present at install time (see ``setup.py``). Both builds
implement :class:`tidewire.ws.engine.FrameEngine` with identical behaviour; the
``if cython.compiled`` branches only replace a loop or an allocation with C.

Parsing works on one ``bytes`` buffer and an offset: received chunks are only
queued, and joined once when a header or payload needs more than the current
buffer holds, so a frame's payload is copied once (while being unmasked). A
frame's payload is taken whole when it has all arrived; only a TEXT frame
(UTF-8 checked on arrival, RFC 6455 section 8.1) and a compressed frame
(inflated on arrival, so the inflation bound applies before the frame ends)
are consumed piece by piece while incomplete.
"""

from __future__ import annotations

import os
import struct
from codecs import utf_8_decode
from typing import Any

try:
    import cython
except ImportError:  # Cython is needed to build the compiled engine, never to run this one.
    from types import SimpleNamespace

    cython = SimpleNamespace(compiled=False)

from .compression import MessageDeflater, MessageInflater
from .engine import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONTINUATION,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameError,
    FrameEvent,
    Side,
)

if cython.compiled:  # pragma: no cover - C only
    from cython.cimports.cpython.bytes import PyBytes_AS_STRING, PyBytes_FromStringAndSize
    from cython.cimports.libc.string import memcpy

__all__ = ["Engine"]

_PROTOCOL_ERROR = 1002
_INVALID_DATA = 1007
_TOO_BIG = 1009

_FIN = 0x80
_RSV1 = 0x40
_RSV23 = 0x30
_MASK = 0x80

# The opcodes again, as module constants the compiled build holds as C ints.
_CONT = OP_CONTINUATION
_TEXT = OP_TEXT
_BINARY = OP_BINARY
_CLOSE = OP_CLOSE
_PING = OP_PING
_PONG = OP_PONG

_PACK_16 = struct.Struct("!BBH").pack
_PACK_64 = struct.Struct("!BBQ").pack


def _close_code_valid(code: int) -> bool:
    """Whether a peer may send ``code`` (RFC 6455 section 7.4.1, 7.4.2; IANA registry).

    1000-1003 and 1007-1014 are defined; 1004 is reserved, 1005, 1006 and 1015
    must never be sent; the rest of 1000-2999 is reserved for the protocol;
    3000-4999 belong to libraries and applications.
    """
    if 3000 <= code <= 4999:
        return True
    return 1000 <= code <= 1003 or 1007 <= code <= 1014


def _unmask(data: bytes, start: int, n: int, key: bytes, phase: int) -> bytes:
    """``data[start:start + n]`` XORed with ``key`` from key byte ``phase`` (section 5.3)."""
    if cython.compiled:  # pragma: no cover - C only
        out = PyBytes_FromStringAndSize(cython.NULL, n)
        _xor_into(cython.cast(cython.p_uchar, PyBytes_AS_STRING(out)), data, start, n, key, phase)
        return out  # type: ignore[no-any-return]
    if phase:
        key = key[phase:] + key[:phase]
    if n < 4096:
        # One big-integer XOR: the fewest Python steps for small payloads.
        mask = key * ((n >> 2) + 1)
        value = int.from_bytes(data[start : start + n], "little")
        value ^= int.from_bytes(mask[:n], "little")
        return value.to_bytes(n, "little")
    # Big integers grow slower than linearly here: XOR every 4th byte through a table.
    tables = _xor_tables()
    out = bytearray(data[start : start + n])
    for i in range(4):
        out[i::4] = out[i::4].translate(tables[key[i]])
    return bytes(out)


def _xor_into(dst: Any, data: bytes, start: int, n: int, key: bytes, phase: int) -> None:
    """C only: write ``data[start:start + n]`` XORed with ``key`` from byte ``phase`` to ``dst``.

    Eight bytes at a time; the pure build never calls it.
    """
    if cython.compiled:  # pragma: no cover - C only
        src = cython.declare(cython.p_uchar, cython.cast(cython.p_uchar, PyBytes_AS_STRING(data)))
        k = cython.declare(cython.p_uchar, cython.cast(cython.p_uchar, PyBytes_AS_STRING(key)))
        turned = cython.declare(cython.uchar[4])
        k32 = cython.declare(cython.uint, 0)
        word = cython.declare(cython.ulonglong, 0)
        i = cython.declare(cython.Py_ssize_t, 0)
        for i in range(4):
            turned[i] = k[(i + phase) & 3]
        src += start
        memcpy(cython.address(k32), turned, 4)
        k64 = cython.declare(cython.ulonglong, (cython.cast(cython.ulonglong, k32) << 32) | k32)
        i = 0
        while i + 8 <= n:
            memcpy(cython.address(word), src + i, 8)
            word ^= k64
            memcpy(dst + i, cython.address(word), 8)
            i += 8
        while i < n:
            dst[i] = src[i] ^ turned[i & 3]
            i += 1


_XOR_TABLES: list[bytes] = []


def _xor_tables() -> list[bytes]:
    """For each byte value k, the 256-byte table mapping b to b ^ k (built on first use)."""
    if not _XOR_TABLES:
        identity = bytes(range(256))
        for k in range(256):
            _XOR_TABLES.append(bytes(b ^ k for b in identity))
    return _XOR_TABLES


def _header(b0: int, n: int, mask_bit: int) -> bytes:
    """A frame header for a payload of ``n`` bytes (section 5.2: shortest length form)."""
    if n < 126:
        return bytes((b0, n | mask_bit))
    if n < 65536:
        return _PACK_16(b0, 126 | mask_bit, n)
    return _PACK_64(b0, 127 | mask_bit, n)


def _truncate_reason(reason: str) -> bytes:
    """``reason`` in UTF-8, cut at a character boundary to fit a Close frame (section 5.5)."""
    raw = reason.encode("utf-8")
    if len(raw) <= 123:
        return raw
    return raw[:123].decode("utf-8", "ignore").encode("utf-8")


class Engine:
    """The compiled-or-pure frame engine: see :class:`tidewire.ws.engine.FrameEngine`.

    ``side`` decides the masking rules (section 5.1), ``codec`` is the
    permessage-deflate ``(inflater, deflater)`` pair or ``None``, and
    ``max_message_size`` (0: none) bounds a message: by its declared frame
    lengths when uncompressed (refused at the header, 1009), through the
    inflater when compressed. After a :class:`~tidewire.ws.engine.FrameError`
    or an ``_CLOSE`` event the caller must not pull again.
    """

    _buf: bytes
    _pos: int
    _more: list[bytes] | None
    _more_len: int
    _client: bool
    _mask_bit: int
    _max: int
    _inflater: MessageInflater | None
    _deflater: MessageDeflater | None
    _closed: bool
    # The frame whose header has been consumed (``_f_open``) and its payload so far;
    # ``_key_wait``: its header is checked and consumed but for the masking key.
    _f_open: bool
    _key_wait: bool
    _f_opcode: int
    _f_fin: bool
    _f_len: int
    _f_done: int
    _f_key: bytes
    # The data message in progress (``_m_opcode`` 0: none).
    _m_opcode: int
    _m_compressed: bool
    _m_declared: int
    _tail: bytes
    _parts: list[Any] | None

    def __init__(
        self,
        side: Side,
        codec: tuple[MessageInflater, MessageDeflater] | None,
        max_message_size: int,
    ) -> None:
        self._buf = b""
        self._pos = 0
        self._more = None
        self._more_len = 0
        self._client = side == Side.CLIENT
        self._mask_bit = _MASK if self._client else 0
        self._max = max_message_size
        if codec is None:
            self._inflater = None
            self._deflater = None
        else:
            self._inflater, self._deflater = codec
        self._closed = False
        self._f_open = False
        self._key_wait = False
        self._f_opcode = 0
        self._f_fin = False
        self._f_len = 0
        self._f_done = 0
        self._f_key = b""
        self._m_opcode = 0
        self._m_compressed = False
        self._m_declared = 0
        self._tail = b""
        self._parts = None

    # ------------------------------------------------------------------ input

    def receive_data(self, data: bytes) -> None:
        """Queue ``data`` received from the peer; nothing is parsed until :meth:`next_event`."""
        if not data:
            return
        if type(data) is not bytes:
            data = bytes(data)
        if self._pos >= len(self._buf) and self._more is None:
            self._buf = data
            self._pos = 0
            return
        if self._more is None:
            self._more = [data]
        else:
            self._more.append(data)
        self._more_len += len(data)

    @property
    def buffered(self) -> int:
        """Received bytes not yet consumed by :meth:`next_event`."""
        return len(self._buf) - self._pos + self._more_len

    def _gather(self) -> None:
        """Join the unconsumed buffer and every queued chunk into one buffer."""
        more = self._more
        if more is None:
            return
        more.insert(0, memoryview(self._buf)[self._pos :])  # type: ignore[arg-type]
        self._buf = b"".join(more)
        self._pos = 0
        self._more = None
        self._more_len = 0

    def _release(self) -> None:
        """Once the buffer is consumed, drop it (an idle engine holds no bytes) or move on.

        The next queued chunk becomes the buffer as it is, without a copy.
        """
        if self._pos >= len(self._buf):
            self._pos = 0
            more = self._more
            if more is None:
                self._buf = b""
                return
            self._buf = more.pop(0)
            self._more_len -= len(self._buf)
            if not more:
                self._more = None

    # ---------------------------------------------------------------- parsing

    def next_event(self) -> FrameEvent | None:
        """The next frame event, or ``None`` when more bytes are needed (see FrameEngine)."""
        if self._closed:
            return None
        if not self._f_open and not self._parse_header():
            return None
        return self._parse_payload()

    def _parse_header(self) -> bool:
        """Consume and check one frame header; False when it has not fully arrived.

        Every check runs as soon as the first 2, 4 or 10 bytes are in; only the
        masking key may still be awaited after them (``_key_wait``).
        """
        if self._key_wait:
            return self._read_key()
        buf = self._buf
        pos = self._pos
        avail = len(buf) - pos
        if avail < 2:
            if self._more is None or avail + self._more_len < 2:
                return False
            self._gather()
            buf = self._buf
            pos = 0
            avail = len(buf)
        b0 = buf[pos]
        b1 = buf[pos + 1]
        opcode = b0 & 0x0F
        fin = (b0 & _FIN) != 0
        length = b1 & 0x7F
        # Section 5.2: opcodes 3-7 and 0xB-0xF are reserved.
        if opcode > _BINARY and (opcode < _CLOSE or opcode > _PONG):
            raise FrameError(_PROTOCOL_ERROR, f"reserved opcode {opcode:#x}")
        control = opcode >= _CLOSE
        if control:
            # Section 5.5: control frames are never fragmented, payload <= 125 bytes.
            if not fin:
                raise FrameError(_PROTOCOL_ERROR, "fragmented control frame")
            if length > 125:
                raise FrameError(_PROTOCOL_ERROR, "control frame payload over 125 bytes")
        size = 2
        if length == 126:
            size = 4
        elif length == 127:
            size = 10
        if avail < size:
            if self._more is None or avail + self._more_len < size:
                return False
            self._gather()
            buf = self._buf
            pos = 0
        if length == 126:
            length = (buf[pos + 2] << 8) | buf[pos + 3]
            if length < 126:
                raise FrameError(_PROTOCOL_ERROR, "payload length not in its shortest form")
        elif length == 127:
            if buf[pos + 2] & 0x80:
                # Section 5.2: the most significant bit of a 64-bit length must be 0.
                raise FrameError(_PROTOCOL_ERROR, "64-bit payload length with its top bit set")
            length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
            if length < 65536:
                raise FrameError(_PROTOCOL_ERROR, "payload length not in its shortest form")
        rsv1 = (b0 & _RSV1) != 0
        if not control:
            self._check_data_header(opcode, rsv1, length)
        elif rsv1 and self._inflater is not None:
            raise FrameError(_PROTOCOL_ERROR, "RSV1 set on a control frame")
        # Section 5.2: RSV bits need an extension that defines them; RFC 7692
        # section 6 defines RSV1, on the first frame of a data message only.
        if b0 & _RSV23 or (rsv1 and (control or self._inflater is None)):
            raise FrameError(_PROTOCOL_ERROR, "reserved bit set")
        # Section 5.1: a server requires masked frames, a client refuses them.
        masked = (b1 & _MASK) != 0
        if masked == self._client:
            if masked:
                raise FrameError(_PROTOCOL_ERROR, "masked frame from a server")
            raise FrameError(_PROTOCOL_ERROR, "unmasked frame from a client")
        if not control:
            # Section 5.4: fragments of one message are not interleaved with another.
            if opcode == _CONT:
                if not self._m_opcode:
                    raise FrameError(_PROTOCOL_ERROR, "continuation frame without a message")
            elif self._m_opcode:
                raise FrameError(_PROTOCOL_ERROR, "new data frame inside a fragmented message")
            else:
                self._m_opcode = opcode
        self._pos = pos + size
        self._f_opcode = opcode
        self._f_fin = fin
        self._f_len = length
        self._f_done = 0
        if masked:
            self._key_wait = True
            return self._read_key()
        self._f_open = True
        return True

    def _read_key(self) -> bool:
        """Consume the masking key of the checked header; False until it has arrived."""
        if len(self._buf) - self._pos < 4:
            if self._more is None or len(self._buf) - self._pos + self._more_len < 4:
                return False
            self._gather()
        pos = self._pos
        self._f_key = self._buf[pos : pos + 4]
        self._pos = pos + 4
        self._key_wait = False
        self._f_open = True
        return True

    def _check_data_header(self, opcode: int, rsv1: bool, length: int) -> None:
        """Compression flag and declared size of a data frame (RFC 7692 section 6)."""
        starts = opcode != _CONT
        if self._inflater is not None and rsv1 and not starts:
            raise FrameError(_PROTOCOL_ERROR, "RSV1 set on a continuation frame")
        if starts:
            self._m_compressed = rsv1
            self._m_declared = 0
        if self._m_compressed or not self._max:
            return
        # Compared as a difference: the sum of two 63-bit lengths could overflow in C.
        if length > self._max - self._m_declared:
            raise FrameError(_TOO_BIG, "message too big")
        self._m_declared += length

    def _parse_payload(self) -> FrameEvent | None:
        """The event of the open frame once its payload is complete, else ``None``."""
        remaining = self._f_len - self._f_done
        avail = len(self._buf) - self._pos + self._more_len
        opcode = self._f_opcode
        if avail < remaining:
            if avail and opcode < _CLOSE and (self._m_opcode == _TEXT or self._m_compressed):
                self._consume_partial(avail)
            return None
        if self._more is not None and len(self._buf) - self._pos < remaining:
            payload = self._take_spread(remaining)
        else:
            payload = self._take(remaining)
        self._f_open = False
        if opcode >= _CLOSE:
            if opcode == _CLOSE:
                self._closed = True
                return (_CLOSE, self._close_payload(payload), True)
            return (opcode, payload, True)
        return self._finish_data(payload)

    def _take(self, n: int) -> bytes:
        """Consume the next ``n`` payload bytes of the open frame, unmasked."""
        buf = self._buf
        pos = self._pos
        self._pos = pos + n
        if self._client:
            # A client's frames are not masked: the whole buffer may be the payload.
            payload = buf if pos == 0 and n == len(buf) else buf[pos : pos + n]
        else:
            payload = _unmask(buf, pos, n, self._f_key, self._f_done & 3)
        self._f_done += n
        self._release()
        return payload

    def _take_spread(self, n: int) -> bytes:
        """Like :meth:`_take` for a payload running from the buffer into queued chunks.

        The compiled server build unmasks straight from the chunks into the payload
        (one copy); otherwise the chunks are joined first.
        """
        if not cython.compiled or self._client:
            self._gather()
            return self._take(n)
        out = PyBytes_FromStringAndSize(cython.NULL, n)  # pragma: no cover - C only
        dst = cython.declare(cython.p_uchar, cython.cast(cython.p_uchar, PyBytes_AS_STRING(out)))
        more = self._more
        assert more is not None
        piece = self._buf
        start = self._pos
        done = 0
        phase = self._f_done & 3
        while True:
            size = min(len(piece) - start, n - done)
            _xor_into(dst + done, piece, start, size, self._f_key, (phase + done) & 3)
            done += size
            if done == n:
                break
            piece = more.pop(0)
            self._more_len -= len(piece)
            start = 0
        self._buf = piece
        self._pos = start + size
        if not more:
            self._more = None
        self._f_done += n
        self._release()
        return out  # type: ignore[no-any-return]

    def _consume_partial(self, avail: int) -> None:
        """Inflate and/or UTF-8-check the part of a frame received so far (section 8.1)."""
        self._gather()
        piece = self._take(avail)
        text = self._m_opcode == _TEXT
        if self._m_compressed:
            assert self._inflater is not None
            piece = self._inflater.inflate(piece)
        value: str | bytes = self._decode(piece, False) if text else piece
        if self._parts is None:
            self._parts = [value]
        else:
            self._parts.append(value)

    def _finish_data(self, payload: bytes) -> FrameEvent | None:
        """The event for a data frame whose last payload byte has been consumed."""
        fin = self._f_fin
        opcode = self._m_opcode
        if self._m_compressed:
            inflater = self._inflater
            assert inflater is not None
            payload = inflater.inflate(payload)
            if fin:
                payload += inflater.finish()
        parts = self._parts
        data: str | bytes
        if opcode == _TEXT:
            if fin and not self._tail and parts is None:
                try:
                    data = payload.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise FrameError(_INVALID_DATA, "invalid UTF-8 in a text message") from exc
            else:
                data = self._decode(payload, fin)
                if parts is not None:
                    parts.append(data)
                    data = "".join(parts)
        elif parts is not None:
            parts.append(payload)
            data = b"".join(parts)
        else:
            data = payload
        self._parts = None
        if fin:
            self._m_opcode = 0
            self._m_compressed = False
        return (opcode, data, fin)

    def _decode(self, data: bytes, final: bool) -> str:
        """Decode ``data`` after the bytes left over from the last piece (section 8.1)."""
        if self._tail:
            data = self._tail + data
        try:
            text, used = utf_8_decode(data, "strict", final)
        except UnicodeDecodeError as exc:
            raise FrameError(_INVALID_DATA, "invalid UTF-8 in a text message") from exc
        self._tail = data[used:] if used < len(data) else b""
        return text

    def _close_payload(self, payload: bytes) -> tuple[int, str]:
        """``(code, reason)`` of a received Close (RFC 6455 section 5.5.1, 7.4)."""
        if not payload:
            return (1005, "")
        if len(payload) == 1:
            raise FrameError(_PROTOCOL_ERROR, "close payload of 1 byte")
        code = (payload[0] << 8) | payload[1]
        if not _close_code_valid(code):
            raise FrameError(_PROTOCOL_ERROR, f"invalid close code {code}")
        try:
            reason = payload[2:].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FrameError(_INVALID_DATA, "invalid UTF-8 in a close reason") from exc
        return (code, reason)

    # --------------------------------------------------------------- building

    def _frame(self, b0: int, payload: bytes) -> bytes:
        """One frame: unmasked from a server, masked with a fresh key from a client."""
        n = len(payload)
        if not self._client:
            return _header(b0, n, 0) + payload
        key = os.urandom(4)
        return _header(b0, n, _MASK) + key + _unmask(payload, 0, n, key, 0)

    def encode_message(self, data: str | bytes, compress: bool = True) -> bytes:
        """One whole TEXT (``str``) or BINARY (bytes-like) message as one frame.

        Compressed (RSV1) when permessage-deflate was agreed and ``compress`` is
        true; masked on the client side.
        """
        if isinstance(data, str):
            b0 = _FIN | _TEXT
            payload = data.encode("utf-8")
        else:
            b0 = _FIN | _BINARY
            payload = data if type(data) is bytes else bytes(data)
        if compress and self._deflater is not None:
            payload = self._deflater.deflate(payload)
            b0 |= _RSV1
        return self._frame(b0, payload)

    def encode_control(self, opcode: int, payload: bytes) -> bytes:
        """A PING or PONG frame; ``payload`` must be at most 125 bytes (section 5.5)."""
        if opcode != _PING and opcode != _PONG:
            raise ValueError(f"not a ping or pong opcode: {opcode:#x}")
        if len(payload) > 125:
            raise ValueError("control frame payload over 125 bytes")
        return self._frame(_FIN | opcode, bytes(payload))

    def encode_close(self, code: int | None, reason: str = "") -> bytes:
        """A CLOSE frame (section 5.5.1); ``code=None`` sends an empty payload.

        1005, 1006 and 1015 must never be sent (section 7.4.1) and become 1000;
        ``reason`` is cut at a character boundary to the 123 bytes a Close frame
        has room for.
        """
        if code is None:
            if reason:
                raise ValueError("a close reason needs a close code")
            return self._frame(_FIN | _CLOSE, b"")
        if code == 1005 or code == 1006 or code == 1015:
            code = 1000
        payload = code.to_bytes(2, "big") + _truncate_reason(reason)
        return self._frame(_FIN | _CLOSE, payload)
