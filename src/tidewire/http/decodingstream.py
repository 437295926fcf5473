"""A request body stream that decodes its content coding as the handler reads.

:class:`DecodingBodyStream` is the :class:`~.streams.BodyStream` of a request
whose ``Content-Encoding`` the server decodes (``auto_decompress=True``, the
default). Encoded bytes wait as they came off the wire; they are decoded in
pieces of at most :data:`PIECE` bytes, and only while less than the stream's
``high_water`` of decoded bytes is buffered. So a small compressed body cannot
inflate beyond what the reader takes: ``request.read()`` still stops at
``client_max_size`` of *decoded* bytes (413), and a streaming reader gets the
decoded bytes piece by piece. The socket is paused, as for any body, while the
reader is behind.

A body that does not decode makes reads raise :class:`~.payload.PayloadDecodeError`
(an ``HTTPBadRequest``, 400, and a ``RequestPayloadError``) after the bytes
decoded before the fault.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any

from multidict import CIMultiDictProxy

from .decompress import ContentDecoder, DecodeError, decoder_for
from .payload import PayloadDecodeError
from .streams import BodyStream

__all__ = ["PIECE", "DecodingBodyStream", "body_stream_type"]

#: Most decoded bytes made at once (per decoder call).
PIECE = 64 * 1024


class DecodingBodyStream(BodyStream):
    """A :class:`BodyStream` that hands out ``decoder``'s output (see the module doc).

    ``total_bytes`` and :meth:`is_eof` keep meaning the bytes received on the
    wire, as the connection needs them for framing; what reads return is decoded.
    """

    def __init__(self, decoder: ContentDecoder, **options: Any) -> None:
        super().__init__(**options)
        self._decoder = decoder
        self._encoded: deque[bytes] = deque()
        self._wire_eof = False

    def feed_data(self, data: bytes) -> None:
        """Take encoded body bytes off the wire; decode as far as the buffer allows."""
        if not data or self.failed:
            return
        self._encoded.append(data)
        self.total_bytes += len(data)
        self._decode()
        # A waiting reader re-checks the body-rate limit (``BodyStream``) against
        # the wire bytes, even when these decoded to nothing yet (a gzip header,
        # a deflate block still open): the client is sending, at the rate counted.
        self._wake()

    def feed_eof(self) -> None:
        """The wire body ended: the stream ends once everything is decoded."""
        self._wire_eof = True
        self._decode()

    def is_eof(self) -> bool:
        """True when the whole encoded body was received (maybe not decoded yet)."""
        return self._wire_eof

    def discard(self) -> None:
        """Drop everything buffered, encoded or not."""
        self._encoded.clear()
        super().discard()

    def _take(self, limit: int) -> bytes:
        data = super()._take(limit)
        if self._encoded or not self._decoder.needs_input or self._wire_eof:
            self._decode()
        return data

    def _decode(self) -> None:
        """Decode while less than ``high_water`` decoded bytes wait; end the stream at the end."""
        if self.failed:
            return  # the body did not decode: never end it as if it had
        decoder = self._decoder
        encoded = self._encoded
        try:
            while self._size <= self._high_water and not self._eof:
                if not decoder.needs_input:
                    piece = decoder.decode(b"", PIECE)
                elif encoded:
                    piece = decoder.decode(encoded.popleft(), PIECE)
                elif self._wire_eof:
                    decoder.finish()
                    super().feed_eof()
                    return
                else:
                    return
                if piece:
                    super().feed_data(piece)
                    self.total_bytes -= len(piece)  # counted when it came off the wire
        except DecodeError as exc:
            encoded.clear()
            self.set_exception(PayloadDecodeError(text=f"Cannot decode the request body: {exc}"))


def body_stream_type(headers: CIMultiDictProxy[str]) -> Callable[..., BodyStream]:
    """What makes the body stream of a request with ``headers``.

    :class:`BodyStream` itself when there is no ``Content-Encoding`` we decode
    (the common case costs one header lookup), else a :class:`DecodingBodyStream`
    bound to a fresh decoder. Called with ``BodyStream``'s keyword options.
    """
    coding = headers.get("Content-Encoding")
    if coding is None:
        return BodyStream
    decoder = decoder_for(coding)
    if decoder is None:
        return BodyStream
    return partial(DecodingBodyStream, decoder)
