"""The memory a compressed connection keeps, measured with tracemalloc (RFC 7692 contexts)."""

from __future__ import annotations

import tracemalloc

from tidewire.ws.compression import codec_for
from tidewire.ws.deflate import DeflateOptions, DeflateParams
from tidewire.ws.engine import Side
from tidewire.ws.protocol import WebSocketProtocol

TEXT = "tidewire " * 30


def _bytes_per_connection(params: DeflateParams, options: DeflateOptions, count: int = 50) -> float:
    """Memory held per server connection after one compressed message each way."""
    client = WebSocketProtocol(Side.CLIENT, codec=codec_for(Side.CLIENT, params, options, 0))
    client.send_text(TEXT)
    frame = client.data_to_send()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        kept = []
        for _ in range(count):
            codec = codec_for(Side.SERVER, params, options, 1 << 20)
            server = WebSocketProtocol(Side.SERVER, codec=codec, max_message_size=1 << 20)
            server.send_text(TEXT)
            server.data_to_send()
            server.receive_data(frame)
            message = server.next_event()
            assert message is not None and message.data == TEXT
            kept.append(server)
        return (tracemalloc.get_traced_memory()[0] - base) / count
    finally:
        tracemalloc.stop()


def test_default_compressed_connection_stays_small() -> None:
    per_connection = _bytes_per_connection(DeflateParams(False, False, 12, 12), DeflateOptions())
    assert per_connection < 64 * 1024, per_connection


def test_zlib_default_windows_cost_several_times_more() -> None:
    small = _bytes_per_connection(DeflateParams(False, False, 12, 12), DeflateOptions())
    large = _bytes_per_connection(DeflateParams(False, False, 15, 15), DeflateOptions(15, 8, 6, 15))
    assert large > 200 * 1024, large
    assert large > 4 * small


def test_nothing_is_allocated_before_the_first_compressed_message() -> None:
    params, options = DeflateParams(False, False, 15, 15), DeflateOptions(15, 8, 6, 15)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        kept = [
            WebSocketProtocol(
                Side.SERVER,
                codec=codec_for(Side.SERVER, params, options, 1 << 20),
                max_message_size=1 << 20,
            )
            for _ in range(50)
        ]
        per_connection = (tracemalloc.get_traced_memory()[0] - base) / len(kept)
    finally:
        tracemalloc.stop()
    assert per_connection < 8 * 1024, per_connection
