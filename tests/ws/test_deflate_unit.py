"""permessage-deflate without sockets: negotiation (RFC 7692) and bounded inflation."""

from __future__ import annotations

import os
import tracemalloc
import zlib

import pytest

from tidewire.ws.compression import codec_for
from tidewire.ws.deflate import DeflateOptions, DeflateParams, negotiate_deflate
from tidewire.ws.engine import Side
from tidewire.ws.messages import WSMessage, WSMsgType
from tidewire.ws.protocol import WebSocketProtocol

from .rawclient import BINARY, CONT, PING, TEXT, deflate, frame, inflate, parse_frames, zero_bomb

OPTIONS = DeflateOptions()  # window_bits=12, client_window_bits=12


def negotiate(*values: str, options: DeflateOptions = OPTIONS) -> tuple[str, DeflateParams] | None:
    return negotiate_deflate(list(values), options)


# negotiation ---------------------------------------------------------------------------


def test_plain_offer_is_accepted_without_parameters() -> None:
    agreed = negotiate("permessage-deflate")
    assert agreed is not None
    response, params = agreed
    assert response == "permessage-deflate"
    # The client did not allow a smaller client window: we must inflate with 15 bits.
    assert params.client_window_bits == 15
    assert not params.server_no_context_takeover
    assert not params.client_no_context_takeover
    # Our compressor may use a smaller window than 15 without saying so.
    assert 9 <= params.server_window_bits <= 15


def test_no_offer_or_other_extensions_only() -> None:
    assert negotiate() is None
    assert negotiate("x-webkit-deflate-frame") is None
    assert negotiate("permessage-foo; bar") is None


def test_no_context_takeover_parameters_are_echoed() -> None:
    agreed = negotiate("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
    assert agreed is not None
    response, params = agreed
    tokens = [part.strip() for part in response.split(";")]
    assert tokens[0] == "permessage-deflate"
    assert set(tokens[1:]) == {"server_no_context_takeover", "client_no_context_takeover"}
    assert params.server_no_context_takeover
    assert params.client_no_context_takeover


@pytest.mark.parametrize("bits", [9, 10, 11, 12])
def test_server_max_window_bits_at_or_below_ours_is_granted(bits: int) -> None:
    agreed = negotiate(f"permessage-deflate; server_max_window_bits={bits}")
    assert agreed is not None
    response, params = agreed
    assert f"server_max_window_bits={bits}" in response
    assert params.server_window_bits == bits


def test_server_max_window_bits_above_ours_is_lowered() -> None:
    agreed = negotiate("permessage-deflate; server_max_window_bits=15")
    assert agreed is not None
    response, params = agreed
    assert params.server_window_bits <= 15
    assert f"server_max_window_bits={params.server_window_bits}" in response


def test_server_max_window_bits_8_is_declined() -> None:
    # zlib cannot deflate with a 256-byte window, so this offer cannot be honoured.
    assert negotiate("permessage-deflate; server_max_window_bits=8") is None


def test_declined_offer_falls_back_to_the_next_one() -> None:
    agreed = negotiate("permessage-deflate; server_max_window_bits=8, permessage-deflate")
    assert agreed is not None
    assert agreed[0] == "permessage-deflate"
    agreed = negotiate("permessage-deflate; server_max_window_bits=8", "permessage-deflate")
    assert agreed is not None


def test_client_max_window_bits_without_value_lets_us_choose() -> None:
    agreed = negotiate("permessage-deflate; client_max_window_bits")
    assert agreed is not None
    response, params = agreed
    assert f"client_max_window_bits={OPTIONS.client_window_bits}" in response
    assert params.client_window_bits == OPTIONS.client_window_bits


@pytest.mark.parametrize("bits", [9, 10, 12, 15])
def test_client_max_window_bits_with_value(bits: int) -> None:
    agreed = negotiate(f"permessage-deflate; client_max_window_bits={bits}")
    assert agreed is not None
    response, params = agreed
    granted = min(bits, OPTIONS.client_window_bits)
    assert f"client_max_window_bits={granted}" in response
    # The response may not exceed what the client offered (RFC 7692 section 7.1.2.2).
    assert granted <= bits
    assert params.client_window_bits >= granted


def test_quoted_parameter_values_are_accepted() -> None:
    agreed = negotiate('permessage-deflate; client_max_window_bits="10"')
    assert agreed is not None
    assert "client_max_window_bits=10" in agreed[0]


@pytest.mark.parametrize(
    "offer",
    [
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; client_max_window_bits=10; client_max_window_bits=11",
        "permessage-deflate; client_max_window_bits; client_max_window_bits",
    ],
)
def test_duplicate_parameters_are_declined(offer: str) -> None:
    assert negotiate(offer) is None


@pytest.mark.parametrize(
    "offer",
    [
        "permessage-deflate; foo",
        "permessage-deflate; foo=1",
        "permessage-deflate; x-server_max_window_bits=10",
    ],
)
def test_unknown_parameters_are_declined(offer: str) -> None:
    assert negotiate(offer) is None


@pytest.mark.parametrize(
    "offer",
    [
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; client_no_context_takeover=true",
        "permessage-deflate; server_max_window_bits",  # a value is required here
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=abc",
        "permessage-deflate; server_max_window_bits=-9",
        "permessage-deflate; server_max_window_bits=",
        "permessage-deflate; client_max_window_bits=7",
        "permessage-deflate; client_max_window_bits=16",
        "permessage-deflate; client_max_window_bits=1.5",
    ],
)
def test_bad_values_are_declined(offer: str) -> None:
    assert negotiate(offer) is None


@pytest.mark.parametrize("value", ["010", "09", "015"])
def test_window_bits_with_leading_zeros_are_declined(value: str) -> None:
    # RFC 7692 section 7.1.2.1: "a decimal integer value without leading zeroes", and
    # section 5: an offer with an invalid parameter value MUST be declined.
    assert negotiate(f"permessage-deflate; server_max_window_bits={value}") is None
    assert negotiate(f"permessage-deflate; client_max_window_bits={value}") is None


@pytest.mark.parametrize("value", ["+10", "\xb9\xb2", "1\xb2", "\xb9"])
def test_non_ascii_digit_window_bits_are_declined_not_crashing(value: str) -> None:
    # Header values reach us decoded as latin-1, and str.isdigit() is true for the
    # superscript digits there (U+00B2, U+00B3, U+00B9) while int() rejects them.
    assert negotiate(f"permessage-deflate; server_max_window_bits={value}") is None
    assert negotiate(f"permessage-deflate; client_max_window_bits={value}") is None


def test_deflate_options_are_validated() -> None:
    with pytest.raises(ValueError):
        DeflateOptions(window_bits=8)
    with pytest.raises(ValueError):
        DeflateOptions(window_bits=16)
    with pytest.raises(ValueError):
        DeflateOptions(client_window_bits=8)
    with pytest.raises(ValueError):
        DeflateOptions(mem_level=0)
    with pytest.raises(ValueError):
        DeflateOptions(mem_level=10)


# the codec inside the sans-I/O protocol (whichever frame engine runs) -------------------


def server(params: DeflateParams | None = None, max_size: int = 1024 * 1024) -> WebSocketProtocol:
    codec = codec_for(Side.SERVER, params or DeflateParams(), OPTIONS, max_size)
    return WebSocketProtocol(Side.SERVER, codec=codec, max_message_size=max_size, autoping=False)


def feed(conn: WebSocketProtocol, data: bytes, chunk: int = 0) -> list[WSMessage]:
    """Every message pulled while ``data`` arrives in ``chunk``-byte reads (0: one read)."""
    events: list[WSMessage] = []
    for start in range(0, len(data), chunk or len(data) or 1):
        conn.receive_data(data[start : start + chunk] if chunk else data)
        while (message := conn.next_event()) is not None:
            events.append(message)
    return events


def joined(events: list[WSMessage]) -> list[str | bytes]:
    """The TEXT and BINARY messages' data."""
    return [m.data for m in events if m.type in (WSMsgType.TEXT, WSMsgType.BINARY)]


def closes(events: list[WSMessage]) -> list[int]:
    """The close codes the connection failed with."""
    return [m.data.code for m in events if m.type is WSMsgType.ERROR]


def test_inbound_compressed_messages_with_context_takeover() -> None:
    conn = server()
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    wire = b""
    texts = ["hello " * 50, "hello " * 60, "héllo wörld €", ""]
    for text in texts:
        out = compressor.compress(text.encode()) + compressor.flush(zlib.Z_SYNC_FLUSH)
        wire += frame(TEXT, out[:-4], rsv1=True)
    assert joined(feed(conn, wire, chunk=7)) == texts


def test_inbound_without_context_takeover() -> None:
    conn = server(DeflateParams(client_no_context_takeover=True))
    texts = ["abc" * 100, "abc" * 100, "xyz"]
    wire = b"".join(frame(TEXT, deflate(t.encode()), rsv1=True) for t in texts)
    assert joined(feed(conn, wire)) == texts


def test_inbound_uncompressed_message_on_compressed_connection() -> None:
    conn = server()
    wire = frame(BINARY, b"\x00raw", rsv1=False) + frame(BINARY, deflate(b"zip"), rsv1=True)
    assert joined(feed(conn, wire)) == [b"\x00raw", b"zip"]


def test_inbound_fragmented_compressed_message() -> None:
    conn = server()
    payload = deflate(os.urandom(3000) + b"tail" * 500)
    expected = inflate(payload)
    thirds = len(payload) // 3
    wire = (
        frame(BINARY, payload[:thirds], fin=False, rsv1=True)
        + frame(CONT, payload[thirds : 2 * thirds], fin=False)
        + frame(CONT, payload[2 * thirds :], fin=True)
    )
    assert joined(feed(conn, wire, chunk=100)) == [expected]


def test_ping_between_fragments_of_a_compressed_message() -> None:
    # A control frame may come between the fragments of a message (RFC 6455
    # section 5.4); it is never compressed and must not disturb the inflater.
    conn = server()
    text = "the quick brown fox " * 40
    payload = deflate(text.encode())
    half = len(payload) // 2
    wire = (
        frame(TEXT, payload[:half], fin=False, rsv1=True)
        + frame(PING, b"mid-message")
        + frame(CONT, payload[half:], fin=True)
    )
    events = feed(conn, wire)
    assert closes(events) == []
    pings = [event.data for event in events if event.type is WSMsgType.PING]
    assert pings == [b"mid-message"]
    assert joined(events) == [text]


def test_rsv1_on_a_continuation_frame_is_a_protocol_error() -> None:
    conn = server()
    wire = frame(BINARY, deflate(b"ab"), fin=False, rsv1=True) + frame(
        CONT, deflate(b"cd"), rsv1=True
    )
    assert closes(feed(conn, wire)) == [1002]


def test_rsv1_on_a_control_frame_is_a_protocol_error() -> None:
    conn = server()
    assert closes(feed(conn, frame(PING, b"x", rsv1=True))) == [1002]


def test_rsv2_is_a_protocol_error_even_with_deflate() -> None:
    conn = server()
    assert closes(feed(conn, frame(TEXT, b"x", rsv2=True))) == [1002]


def test_corrupt_deflate_data_fails_the_connection() -> None:
    conn = server()
    # 0xff starts a block with the reserved block type 3: never valid deflate data.
    codes = closes(feed(conn, frame(BINARY, b"\xff\xff\xff\xff", rsv1=True)))
    assert len(codes) == 1
    assert codes[0] in (1002, 1007)


def test_message_exactly_at_the_limit_inflates() -> None:
    limit = 64 * 1024
    conn = server(max_size=limit)
    data = bytes(limit)
    assert joined(feed(conn, frame(BINARY, deflate(data), rsv1=True))) == [data]


def test_one_byte_over_the_limit_is_1009() -> None:
    limit = 64 * 1024
    conn = server(max_size=limit)
    assert closes(feed(conn, frame(BINARY, deflate(bytes(limit + 1)), rsv1=True))) == [1009]


def test_limit_counts_the_whole_fragmented_message() -> None:
    limit = 10_000
    conn = server(max_size=limit)
    payload = deflate(bytes(limit + 500))
    half = len(payload) // 2
    wire = frame(BINARY, payload[:half], fin=False, rsv1=True) + frame(CONT, payload[half:])
    assert closes(feed(conn, wire)) == [1009]


def test_limit_resets_between_messages() -> None:
    limit = 10_000
    conn = server(max_size=limit)
    wire = b"".join(frame(BINARY, deflate(bytes(limit)), rsv1=True) for _ in range(3))
    events = feed(conn, wire)
    assert closes(events) == []
    assert joined(events) == [bytes(limit)] * 3


def test_zero_max_size_means_no_limit() -> None:
    conn = server(max_size=0)
    data = bytes(3 * 1024 * 1024)
    assert joined(feed(conn, frame(BINARY, deflate(data), rsv1=True))) == [data]


@pytest.mark.parametrize("chunk", [0, 16 * 1024])
def test_zero_bomb_is_refused_with_1009_in_bounded_memory(chunk: int) -> None:
    bomb = zero_bomb()  # 100 MiB of zeros in about 100 KiB
    assert len(bomb) < 200 * 1024
    wire = frame(BINARY, bomb, rsv1=True)
    del bomb
    conn = server(max_size=1024 * 1024)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        events = feed(conn, wire, chunk=chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert closes(events) == [1009]
    assert joined(events) == []
    assert peak < 8 * 1024 * 1024, f"peak {peak} bytes while refusing a bomb"


# outbound -----------------------------------------------------------------------------


def sent_frames(conn: WebSocketProtocol, *messages: str | bytes) -> list:  # type: ignore[type-arg]
    for message in messages:
        if isinstance(message, str):
            conn.send_text(message)
        else:
            conn.send_binary(message)
    return parse_frames(conn.data_to_send())


def test_outbound_messages_are_compressed_with_context_takeover() -> None:
    conn = server()
    texts = ["payload " * 100, "payload " * 100, "x"]
    frames = sent_frames(conn, *texts)
    assert all(f.rsv1 and not f.masked and f.fin for f in frames)
    decompressor = zlib.decompressobj(-15)
    got = [decompressor.decompress(f.payload + b"\x00\x00\xff\xff").decode() for f in frames]
    assert got == texts
    # Context takeover: the repeated message compresses to far less the second time.
    assert len(frames[1].payload) < len(frames[0].payload)


def test_outbound_without_context_takeover_decodes_alone() -> None:
    conn = server(DeflateParams(server_no_context_takeover=True))
    frames = sent_frames(conn, b"abc" * 200, b"abc" * 200)
    for f in frames:
        assert f.rsv1
        assert inflate(f.payload) == b"abc" * 200


@pytest.mark.parametrize("bits", [9, 10, 12])
def test_outbound_respects_the_agreed_server_window(bits: int) -> None:
    conn = server(DeflateParams(server_window_bits=bits))
    block = os.urandom(2000)
    data = block + os.urandom(6000) + block  # a match 8000 bytes back: beyond 2**12
    (f,) = sent_frames(conn, data)
    # A decompressor with exactly the agreed window must cope.
    assert inflate(f.payload, wbits=bits) == data


def test_compress_false_sends_a_plain_frame() -> None:
    conn = server()
    conn.send_text("plain text", compress=False)
    conn.send_text("packed text")
    plain, packed = parse_frames(conn.data_to_send())
    assert not plain.rsv1
    assert plain.payload == b"plain text"
    assert packed.rsv1
    assert inflate(packed.payload) == b"packed text"


def test_control_frames_are_never_compressed() -> None:
    conn = server()
    conn.send_ping(b"hello")
    (ping,) = parse_frames(conn.data_to_send())
    assert ping.opcode == PING
    assert not ping.rsv1
    assert ping.payload == b"hello"
