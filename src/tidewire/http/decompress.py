"""Pure, bounded decoders for request content codings (RFC 9110 section 8.4.1).

A decoder turns encoded bytes into decoded bytes, never more than the caller's
``limit`` per call, so that a small compressed body (a "compression bomb")
cannot make the server hold more than it chose to. The caller's contract:

1. ``decode(data, limit)`` with new input, only when :attr:`needs_input` is True;
2. while :attr:`needs_input` is False, ``decode(b"", limit)`` to get the rest
   of what the input already given holds;
3. at the end of the body, :meth:`finish`, which raises :class:`DecodeError`
   if the encoded stream was cut short.

Every method raises :class:`DecodeError` for input that does not decode.
Supported: ``gzip`` (and ``x-gzip``), ``deflate`` (zlib-wrapped as the RFC
says, or the raw deflate some clients send), and ``br`` when the optional
``brotli`` package is installed (``pip install tidewire[brotli]``).
"""

from __future__ import annotations

import zlib
from typing import Any, Protocol

try:
    import brotli as _brotli  # type: ignore[import-untyped]
except ImportError:  # pragma: no cover - depends on the optional extra
    _brotli = None

__all__ = ["ContentDecoder", "DecodeError", "decoder_for", "supported_codings"]


class DecodeError(ValueError):
    """The body does not decode with its declared content coding."""


class ContentDecoder(Protocol):
    """A bounded decoder of one content coding (see the module's contract)."""

    @property
    def needs_input(self) -> bool:
        """True when the input given so far is fully decoded (more input is needed)."""

    def decode(self, data: bytes, limit: int) -> bytes:
        """Decode ``data`` (``b""``: continue) and return at most about ``limit`` bytes.

        zlib codings return at most ``limit``; brotli grows its output buffer in
        steps, so up to about ``1.5 * limit`` plus its first 32 KiB block.
        """

    def finish(self) -> None:
        """Check that the stream is complete; :class:`DecodeError` if it was cut short."""


class _ZlibDecoder:
    """gzip (several members allowed, RFC 1952 section 2.2) or deflate (RFC 1950/1951)."""

    def __init__(self, gzip: bool) -> None:
        self._gzip = gzip
        self._inflater: Any = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None
        self._input = b""
        self._full = False  # the last call filled its limit: more output may be pending
        self._started = False

    @property
    def needs_input(self) -> bool:
        # Below two bytes of deflate, the zlib header check waits for more input.
        return (not self._input or self._inflater is None) and not self._full

    def decode(self, data: bytes, limit: int) -> bytes:
        pending = self._input + data if self._input else data
        if self._inflater is None:
            if len(pending) < 2:  # the zlib header check needs two bytes
                self._input = pending
                return b""
            self._inflater = zlib.decompressobj(_deflate_wbits(pending))
        inflater = self._inflater
        if inflater.eof:
            pending = self._next_member(pending)
            inflater = self._inflater
        try:
            out: bytes = inflater.decompress(pending, limit)
        except zlib.error as exc:
            raise DecodeError(f"body does not decode: {exc}") from exc
        if pending:
            self._started = True
        self._input = inflater.unconsumed_tail or inflater.unused_data
        self._full = len(out) >= limit
        return out

    def _next_member(self, pending: bytes) -> bytes:
        """After a gzip member, only another member may follow; for deflate, nothing."""
        if not pending:
            return pending
        if not self._gzip:
            raise DecodeError("data after the end of the deflate stream")
        self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        return pending

    def finish(self) -> None:
        if self._input:
            raise DecodeError("body ends inside its compressed stream")
        if self._started and not self._inflater.eof:
            raise DecodeError("body ends before its compressed stream does")


def _deflate_wbits(start: bytes) -> int:
    """zlib-wrapped deflate (RFC 1950 header check) or raw deflate, from the first two bytes."""
    cmf, flg = start[0], start[1]
    if cmf & 0x0F == 8 and cmf >> 4 <= 7 and (cmf << 8 | flg) % 31 == 0:
        return zlib.MAX_WBITS
    return -zlib.MAX_WBITS


class _BrotliDecoder:
    """br (RFC 7932) through the ``brotli`` package."""

    def __init__(self) -> None:
        assert _brotli is not None
        self._decompressor: Any = _brotli.Decompressor()
        self._started = False
        self._full = False

    @property
    def needs_input(self) -> bool:
        # Output that filled the limit may have more behind it, even when the
        # decompressor says it can take input: ask again before feeding it.
        return not self._full and bool(self._decompressor.can_accept_more_data())

    def decode(self, data: bytes, limit: int) -> bytes:
        if data:
            self._started = True
        try:
            out: bytes = self._decompressor.process(data, output_buffer_limit=limit)
        except _brotli.error as exc:
            raise DecodeError(f"body does not decode: {exc}") from exc
        self._full = len(out) >= limit
        return out

    def finish(self) -> None:
        if self._started and not self._decompressor.is_finished():
            raise DecodeError("body ends before its compressed stream does")


def supported_codings() -> tuple[str, ...]:
    """The content codings :func:`decoder_for` decodes here (``br`` only with brotli)."""
    return ("gzip", "deflate", "br") if _brotli is not None else ("gzip", "deflate")


def decoder_for(content_encoding: str) -> ContentDecoder | None:
    """A decoder for a ``Content-Encoding`` value, or ``None`` to leave the body as sent.

    ``None`` for ``identity``, an empty value, a coding we do not know, ``br``
    without the brotli package, and a list of several codings: such a body
    reaches the handler undecoded, its ``Content-Encoding`` header telling it so
    (aiohttp behaves the same way).
    """
    coding = content_encoding.strip().lower()
    if coding in ("gzip", "x-gzip"):
        return _ZlibDecoder(gzip=True)
    if coding == "deflate":
        return _ZlibDecoder(gzip=False)
    if coding == "br" and _brotli is not None:
        return _BrotliDecoder()
    return None
