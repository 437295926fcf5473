"""Each rule of the frame engine (RFC 6455 sections 5, 7, 8.1; RFC 7692 section 6), on every build.

Every test runs on the pure build (``_frames_py``) and, when it was built, on the
compiled one (``_frames_c``): the ``engine`` fixture is parametrized over both.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import pytest

from tidewire.ws.deflate import DeflateParams
from tidewire.ws.engine import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONTINUATION,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameEngine,
    FrameError,
    Side,
)

from .engine_harness import (
    ENGINES,
    KEY,
    bytewise,
    client_compressor,
    close_payload,
    compress,
    frame,
    make_engine,
    mask,
    run,
)

Factory = Callable[..., FrameEngine]


@pytest.fixture(params=sorted(ENGINES))
def make(request: pytest.FixtureRequest) -> Factory:
    """``make(side=Side.SERVER, params=None, max_size=0)`` for one engine build."""
    name = request.param

    def factory(
        side: Side = Side.SERVER, params: DeflateParams | None = None, max_size: int = 0
    ) -> FrameEngine:
        return make_engine(name, side, params, max_size)

    return factory


def events(engine: FrameEngine, data: bytes) -> list[tuple[object, ...]]:
    """Every event ``data`` yields, or a trailing ``("error", code)``."""
    engine.receive_data(data)
    out: list[tuple[object, ...]] = []
    while True:
        try:
            event = engine.next_event()
        except FrameError as exc:
            out.append(("error", exc.code))
            return out
        if event is None:
            return out
        out.append(event)


def error_code(make: Factory, data: bytes, **kwargs: object) -> int | None:
    """The close code ``data`` fails with on a fresh engine, None if it does not."""
    out = events(make(**kwargs), data)
    return out[-1][1] if out and out[-1][0] == "error" else None  # type: ignore[return-value]


# ----------------------------------------------------------------- 5.2 header, lengths


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 200_000])
def test_lengths_in_all_three_forms(make: Factory, size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    assert events(make(), frame(OP_BINARY, payload)) == [(OP_BINARY, payload, True)]


@pytest.mark.parametrize(("form", "n"), [(16, 125), (16, 0), (64, 65535), (64, 126)])
def test_length_not_in_shortest_form_is_1002(make: Factory, form: int, n: int) -> None:
    assert error_code(make, frame(OP_BINARY, b"x" * n, length_form=form)) == 1002


def test_64bit_length_with_top_bit_set_is_1002_at_the_header(make: Factory) -> None:
    head = bytes((0x82, 0xFF)) + (1 << 63 | 70000).to_bytes(8, "big") + KEY
    assert error_code(make, head) == 1002


def test_partial_header_waits_then_parses(make: Factory) -> None:
    engine = make()
    data = frame(OP_TEXT, b"x" * 300)
    assert run(engine, bytewise(data)) == [("text", "x" * 300)]
    assert engine.buffered == 0


def test_buffered_counts_unconsumed_bytes(make: Factory) -> None:
    engine = make()
    data = frame(OP_BINARY, b"abc") + frame(OP_BINARY, b"defg")
    engine.receive_data(data[:4])
    engine.receive_data(data[4:])
    assert engine.buffered == len(data)
    assert engine.next_event() == (OP_BINARY, b"abc", True)
    assert engine.buffered == len(data) - 9
    assert engine.next_event() == (OP_BINARY, b"defg", True)
    assert engine.buffered == 0
    assert engine.next_event() is None


def test_queued_chunks_are_taken_in_order_without_losing_count(make: Factory) -> None:
    engine = make()
    first, second = frame(OP_BINARY, b"one"), frame(OP_BINARY, b"two" * 50)
    engine.receive_data(first)
    engine.receive_data(second[:20])  # queued behind the first frame
    engine.receive_data(second[20:40])
    assert engine.next_event() == (OP_BINARY, b"one", True)
    assert engine.buffered == 40
    assert engine.next_event() is None  # the second frame is still incomplete
    engine.receive_data(second[40:])
    assert engine.next_event() == (OP_BINARY, b"two" * 50, True)
    assert engine.buffered == 0


@pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF])
def test_reserved_opcodes_are_1002(make: Factory, opcode: int) -> None:
    assert error_code(make, frame(opcode, b"abc")) == 1002


# ------------------------------------------------------------------------ 5.1 masking


def test_server_requires_masked_frames(make: Factory) -> None:
    assert error_code(make, frame(OP_TEXT, b"hi", key=None)) == 1002


def test_client_refuses_masked_frames(make: Factory) -> None:
    assert error_code(make, frame(OP_TEXT, b"hi"), side=Side.CLIENT) == 1002


def test_client_reads_unmasked_frames(make: Factory) -> None:
    data = frame(OP_TEXT, "héllo".encode(), key=None) + frame(OP_PING, b"p", key=None)
    assert events(make(Side.CLIENT), data) == [(OP_TEXT, "héllo", True), (OP_PING, b"p", True)]


@pytest.mark.parametrize("size", [1, 3, 4, 7, 8, 9, 15, 16, 17, 1000, 65537])
def test_unmasking_every_length_and_key_phase(make: Factory, size: int) -> None:
    payload = bytes((i * 7 + 3) & 0xFF for i in range(size))
    data = frame(OP_BINARY, payload, key=b"\x01\x80\xff\x5a")
    # Byte-at-a-time delivery is not needed for binary; split at odd places instead.
    engine = make()
    engine.receive_data(data[:5])
    engine.receive_data(data[5:11])
    engine.receive_data(data[11:])
    assert engine.next_event() == (OP_BINARY, payload, True)


# ------------------------------------------------------------------ 5.4 fragmentation


def test_fragments_with_controls_between(make: Factory) -> None:
    data = (
        frame(OP_TEXT, b"hel", fin=False)
        + frame(OP_PING, b"1")
        + frame(OP_CONTINUATION, b"lo ", fin=False)
        + frame(OP_PONG, b"2")
        + frame(OP_CONTINUATION, b"world")
    )
    assert events(make(), data) == [
        (OP_TEXT, "hel", False),
        (OP_PING, b"1", True),
        (OP_TEXT, "lo ", False),
        (OP_PONG, b"2", True),
        (OP_TEXT, "world", True),
    ]


def test_binary_continuations_carry_the_message_opcode(make: Factory) -> None:
    data = frame(OP_BINARY, b"a", fin=False) + frame(OP_CONTINUATION, b"") + frame(OP_TEXT, b"")
    assert events(make(), data) == [
        (OP_BINARY, b"a", False),
        (OP_BINARY, b"", True),
        (OP_TEXT, "", True),
    ]


def test_continuation_without_a_message_is_1002(make: Factory) -> None:
    assert error_code(make, frame(OP_CONTINUATION, b"x")) == 1002


def test_new_data_frame_inside_a_fragmented_message_is_1002(make: Factory) -> None:
    data = frame(OP_TEXT, b"a", fin=False) + frame(OP_BINARY, b"b")
    assert events(make(), data) == [(OP_TEXT, "a", False), ("error", 1002)]


# --------------------------------------------------------------- 5.5 control frames


def test_control_frame_payload_over_125_is_1002(make: Factory) -> None:
    assert error_code(make, frame(OP_PING, b"x" * 126, length_form=16)) == 1002
    assert error_code(make, frame(OP_PING, b"x" * 125)) is None


@pytest.mark.parametrize("opcode", [OP_PING, OP_PONG, OP_CLOSE])
def test_fragmented_control_frame_is_1002(make: Factory, opcode: int) -> None:
    assert error_code(make, frame(opcode, b"", fin=False)) == 1002


# ---------------------------------------------------------------------- RSV bits


@pytest.mark.parametrize("rsv", [1, 2, 3, 4, 5, 6, 7])
def test_rsv_bits_without_an_extension_are_1002(make: Factory, rsv: int) -> None:
    assert error_code(make, frame(OP_TEXT, b"x", rsv=rsv)) == 1002
    assert error_code(make, frame(OP_PING, b"x", rsv=rsv)) == 1002


def test_rsv1_allowed_only_on_first_data_frame_when_compression_agreed(make: Factory) -> None:
    params = DeflateParams()
    deflated = compress(b"hello", client_compressor(params))
    assert events(make(params=params), frame(OP_TEXT, deflated, rsv=4)) == [
        (OP_TEXT, "hello", True)
    ]
    cont = frame(OP_TEXT, deflated[:2], rsv=4, fin=False) + frame(
        OP_CONTINUATION, deflated[2:], rsv=4
    )
    assert error_code(make, cont, params=params) == 1002
    assert error_code(make, frame(OP_PING, b"", rsv=4), params=params) == 1002
    assert error_code(make, frame(OP_TEXT, deflated, rsv=2), params=params) == 1002


# ------------------------------------------------------------------- 7.4 close


@pytest.mark.parametrize(
    "code",
    [
        1000,
        1001,
        1002,
        1003,
        1007,
        1008,
        1009,
        1010,
        1011,
        1012,
        1013,
        1014,
        3000,
        3999,
        4000,
        4999,
    ],
)
def test_valid_close_codes(make: Factory, code: int) -> None:
    out = events(make(), frame(OP_CLOSE, close_payload(code, "bye ✓".encode())))
    assert out == [(OP_CLOSE, (code, "bye ✓"), True)]


@pytest.mark.parametrize(
    "code", [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]
)
def test_invalid_close_codes_are_1002(make: Factory, code: int) -> None:
    assert error_code(make, frame(OP_CLOSE, close_payload(code))) == 1002


def test_close_without_payload_is_1005(make: Factory) -> None:
    assert events(make(), frame(OP_CLOSE)) == [(OP_CLOSE, (1005, ""), True)]


def test_close_of_one_byte_is_1002(make: Factory) -> None:
    assert error_code(make, frame(OP_CLOSE, b"\x03")) == 1002


def test_close_reason_invalid_utf8_is_1007(make: Factory) -> None:
    assert error_code(make, frame(OP_CLOSE, close_payload(1000, b"\xce\xba\xe1\xbd"))) == 1007


def test_nothing_after_close_is_parsed(make: Factory) -> None:
    engine = make()
    data = frame(OP_CLOSE, close_payload(1000)) + frame(OP_TEXT, b"late") + b"\xff\xff"
    assert events(engine, data) == [(OP_CLOSE, (1000, ""), True)]
    assert engine.next_event() is None


# ------------------------------------------------------------------- 8.1 UTF-8


def test_invalid_utf8_fails_fast_inside_an_incomplete_frame(make: Factory) -> None:
    engine = make()
    payload = b"valid " + b"\xf4\x90\x80\x80" + b"x" * 1000
    data = frame(OP_TEXT, payload)
    engine.receive_data(data[:30])  # header, key and 24 payload bytes: invalid at byte 6
    with pytest.raises(FrameError) as info:
        engine.next_event()
    assert info.value.code == 1007


def test_partial_text_frame_is_only_emitted_when_complete(make: Factory) -> None:
    engine = make()
    text = "κόσμε " * 50
    data = frame(OP_TEXT, text.encode())
    for piece in bytewise(data)[:-1]:
        engine.receive_data(piece)
        assert engine.next_event() is None
    engine.receive_data(data[-1:])
    assert engine.next_event() == (OP_TEXT, text, True)


def test_code_point_split_across_fragments(make: Factory) -> None:
    raw = "a€b".encode()  # € is 3 bytes
    data = frame(OP_TEXT, raw[:2], fin=False) + frame(OP_CONTINUATION, raw[2:])
    assert events(make(), data) == [(OP_TEXT, "a", False), (OP_TEXT, "€b", True)]


def test_truncated_code_point_at_message_end_is_1007(make: Factory) -> None:
    raw = "a€".encode()[:-1]
    assert error_code(make, frame(OP_TEXT, raw)) == 1007
    data = frame(OP_TEXT, raw, fin=False) + frame(OP_CONTINUATION, b"")
    assert error_code(make, data) == 1007


def test_invalid_utf8_in_a_later_fragment_fails_before_the_message_ends(make: Factory) -> None:
    data = frame(OP_TEXT, b"ok", fin=False) + frame(OP_CONTINUATION, b"\xed\xa0\x80", fin=False)
    assert events(make(), data) == [(OP_TEXT, "ok", False), ("error", 1007)]


def test_binary_is_not_utf8_checked(make: Factory) -> None:
    assert events(make(), frame(OP_BINARY, b"\xff\xfe")) == [(OP_BINARY, b"\xff\xfe", True)]


# --------------------------------------------------------------- size limits


def test_declared_length_over_the_limit_is_1009_at_the_header(make: Factory) -> None:
    engine = make(max_size=1000)
    engine.receive_data(frame(OP_BINARY, b"", declared=1001))  # header only, no payload
    with pytest.raises(FrameError) as info:
        engine.next_event()
    assert info.value.code == 1009


def test_declared_lengths_are_summed_over_fragments(make: Factory) -> None:
    ok = frame(OP_BINARY, b"x" * 600, fin=False) + frame(OP_CONTINUATION, b"y" * 400)
    assert events(make(max_size=1000), ok)[-1] == (OP_BINARY, b"y" * 400, True)
    over = frame(OP_BINARY, b"x" * 600, fin=False) + frame(OP_CONTINUATION, b"", declared=401)
    assert error_code(make, over, max_size=1000) == 1009


def test_limit_counts_each_message_afresh(make: Factory) -> None:
    data = frame(OP_BINARY, b"x" * 1000) + frame(OP_BINARY, b"y" * 1000)
    assert len(events(make(max_size=1000), data)) == 2


def test_control_frames_do_not_count_toward_the_limit(make: Factory) -> None:
    data = (
        frame(OP_TEXT, b"x" * 10, fin=False)
        + frame(OP_PING, b"p" * 100)
        + frame(OP_CONTINUATION, b"y" * 10)
    )
    assert events(make(max_size=20), data)[-1] == (OP_TEXT, "y" * 10, True)


# -------------------------------------------------------------- compression


def test_compressed_fragmented_text_across_reads(make: Factory) -> None:
    params = DeflateParams()
    text = "ünïcödé text " * 400
    deflated = compress(text.encode(), client_compressor(params))
    third = len(deflated) // 3
    data = (
        frame(OP_TEXT, deflated[:third], rsv=4, fin=False)
        + frame(OP_PING, b"mid")
        + frame(OP_CONTINUATION, deflated[third : 2 * third], fin=False)
        + frame(OP_CONTINUATION, deflated[2 * third :])
    )
    assert run(make(params=params), bytewise(data)) == [("ping", b"mid"), ("text", text)]


def test_context_takeover_across_messages(make: Factory) -> None:
    params = DeflateParams()
    comp = client_compressor(params)
    data = b"".join(frame(OP_BINARY, compress(b"same words " * 20, comp), rsv=4) for _ in range(3))
    assert run(make(params=params), [data]) == [("binary", b"same words " * 20)] * 3


def test_uncompressed_message_on_a_compressed_connection(make: Factory) -> None:
    data = frame(OP_TEXT, b"plain")
    assert events(make(params=DeflateParams()), data) == [(OP_TEXT, "plain", True)]


def test_inflation_bound_is_1009_before_the_frame_ends(make: Factory) -> None:
    params = DeflateParams()
    deflated = compress(b"\x00" * 2_000_000, client_compressor(params))
    data = frame(OP_BINARY, deflated, rsv=4)
    engine = make(params=params, max_size=100_000)
    engine.receive_data(data[: len(data) // 2])
    with pytest.raises(FrameError) as info:
        engine.next_event()
    assert info.value.code == 1009


def test_corrupt_compressed_data_is_1007(make: Factory) -> None:
    assert (
        error_code(make, frame(OP_BINARY, b"\xff\xff\xff\xff", rsv=4), params=DeflateParams())
        == 1007
    )


def test_invalid_utf8_in_compressed_text_is_1007(make: Factory) -> None:
    params = DeflateParams()
    deflated = compress(b"abc\xff", client_compressor(params))
    assert error_code(make, frame(OP_TEXT, deflated, rsv=4), params=params) == 1007


# ---------------------------------------------------------------------- building


def test_server_builds_unmasked_frames(make: Factory) -> None:
    engine = make()
    assert engine.encode_message("hé") == b"\x81\x03h\xc3\xa9"
    assert engine.encode_message(b"\x00" * 126)[:4] == b"\x82\x7e\x00\x7e"
    assert engine.encode_message(b"\x00" * 65536)[:10] == b"\x82\x7f" + (65536).to_bytes(8, "big")
    assert engine.encode_control(OP_PING, b"p") == b"\x89\x01p"
    assert engine.encode_control(OP_PONG, b"") == b"\x8a\x00"
    assert engine.encode_close(1000, "bye") == b"\x88\x05\x03\xe8bye"
    assert engine.encode_close(None) == b"\x88\x00"


def test_close_reason_is_cut_to_fit_at_a_character_boundary(make: Factory) -> None:
    out = make().encode_close(1001, "é" * 100)
    assert out[1] == 2 + 122  # 61 two-byte characters fit in 123 bytes
    assert out[4:].decode() == "é" * 61


def test_client_builds_masked_frames_with_fresh_keys(make: Factory) -> None:
    engine = make(Side.CLIENT)
    payload = bytes(range(200))
    one = engine.encode_message(payload)
    two = engine.encode_message(payload)
    assert one[:2] == b"\x82\xfe" and one[2:4] == b"\x00\xc8"
    assert mask(one[8:], one[4:8]) == payload
    assert one[4:8] != two[4:8]
    ping = engine.encode_control(OP_PING, b"abc")
    assert ping[:2] == b"\x89\x83" and mask(ping[6:], ping[2:6]) == b"abc"


def test_client_frames_parse_on_a_server_engine(make: Factory) -> None:
    client, server = make(Side.CLIENT), make()
    for size in (0, 5, 126, 70000):
        server.receive_data(client.encode_message("x" * size))
        assert server.next_event() == (OP_TEXT, "x" * size, True)
    server.receive_data(client.encode_close(4000, "done"))
    assert server.next_event() == (OP_CLOSE, (4000, "done"), True)


def test_compressed_build_sets_rsv1_and_round_trips(make: Factory) -> None:
    params = DeflateParams()
    server = make(params=params)
    out = server.encode_message("hello hello hello")
    assert out[0] == 0x80 | 0x40 | OP_TEXT
    inflater = zlib.decompressobj(-params.server_window_bits)
    assert inflater.decompress(out[2:] + b"\x00\x00\xff\xff") == b"hello hello hello"
    assert server.encode_message(b"raw", compress=False) == b"\x82\x03raw"
    assert make().encode_message(b"raw") == b"\x82\x03raw"  # no codec: never compressed


def test_control_payload_over_125_is_refused_when_building(make: Factory) -> None:
    with pytest.raises(ValueError):
        make().encode_control(OP_PING, b"x" * 126)
