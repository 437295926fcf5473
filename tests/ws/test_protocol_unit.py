"""The sans-I/O WebSocket protocol without sockets, grouped by RFC 6455 section.

Every test runs on each frame engine (the ``engine_class`` fixture). Client
frames in byte literals use the all-zero masking key, so their payload reads
as plain text: ``b"\\x81\\x85" + ZERO_KEY + b"hello"`` is a masked TEXT "hello".
"""

from __future__ import annotations

from typing import Any

import pytest

from tidewire.ws.engine import Side
from tidewire.ws.messages import WebSocketError, WSConnectionClosed, WSMessage, WSMsgType
from tidewire.ws.protocol import State, WebSocketProtocol

from .rawclient import BINARY, CLOSE, CONT, PING, PONG, TEXT, close_payload, frame, parse_frames

ZERO_KEY = b"\x00\x00\x00\x00"
HELLO = b"\x81\x85" + ZERO_KEY + b"hello"  # masked TEXT "hello"
CLOSE_1000 = b"\x88\x82" + ZERO_KEY + b"\x03\xe8"  # masked Close 1000


def make(engine_class: Any, side: Side = Side.SERVER, **options: Any) -> WebSocketProtocol:
    max_size = options.pop("max_message_size", 4 * 1024 * 1024)
    engine = engine_class(side, None, max_size)
    return WebSocketProtocol(side, engine=engine, max_message_size=max_size, **options)


def pull(proto: WebSocketProtocol, data: bytes = b"") -> list[WSMessage]:
    """Feed ``data``, then every message it yields."""
    if data:
        proto.receive_data(data)
    out = []
    while (message := proto.next_event()) is not None:
        out.append(message)
    return out


def failed_with(proto: WebSocketProtocol, data: bytes) -> int:
    """Feed ``data``; the close code the connection failed with (it must fail)."""
    messages = pull(proto, data)
    assert messages and messages[-1].type is WSMsgType.ERROR, messages
    error = messages[-1].data
    assert isinstance(error, WebSocketError)
    assert proto.state is State.CLOSED and proto.close_expected()
    sent = parse_frames(proto.data_to_send())
    assert [f.opcode for f in sent] == [CLOSE]
    assert sent[0].close_code == error.code == proto.close_code
    return error.code


# 5.1 overview: masking by side -------------------------------------------------------


def test_server_reads_a_masked_text_frame(engine_class: Any) -> None:
    proto = make(engine_class)
    assert pull(proto, HELLO) == [WSMessage(WSMsgType.TEXT, "hello", None)]
    assert proto.data_to_send() == b""


def test_server_refuses_an_unmasked_frame(engine_class: Any) -> None:
    assert failed_with(make(engine_class), b"\x81\x05hello") == 1002


def test_client_reads_an_unmasked_frame(engine_class: Any) -> None:
    proto = make(engine_class, Side.CLIENT)
    assert pull(proto, b"\x82\x03abc") == [WSMessage(WSMsgType.BINARY, b"abc", None)]


def test_client_refuses_a_masked_frame(engine_class: Any) -> None:
    assert failed_with(make(engine_class, Side.CLIENT), HELLO) == 1002


def test_server_frames_are_unmasked(engine_class: Any) -> None:
    proto = make(engine_class)
    proto.send_text("hi")
    proto.send_binary(b"\x00\x01")
    assert proto.data_to_send() == b"\x81\x02hi\x82\x02\x00\x01"


def test_client_frames_are_masked_with_fresh_keys(engine_class: Any) -> None:
    proto = make(engine_class, Side.CLIENT)
    proto.send_text("hello")
    proto.send_text("hello")
    wire = proto.data_to_send()
    frames = parse_frames(wire)
    assert [(f.opcode, f.masked, f.payload) for f in frames] == [(TEXT, True, b"hello")] * 2
    assert wire[2:6] != wire[13:17] or wire[2:6] == b"\x00" * 4  # keys are random


def test_a_client_and_a_server_understand_each_other(engine_class: Any) -> None:
    client = make(engine_class, Side.CLIENT)
    server = make(engine_class)
    client.send_text("é" * 100)
    client.send_binary(bytes(70000))
    client.send_ping(b"p")
    assert pull(server, client.data_to_send()) == [
        WSMessage(WSMsgType.TEXT, "é" * 100, None),
        WSMessage(WSMsgType.BINARY, bytes(70000), None),
    ]
    assert pull(client, server.data_to_send()) == []  # the pong is answered silently


# 5.2 base framing --------------------------------------------------------------------


@pytest.mark.parametrize("opcode", [0x3, 0x7, 0xB, 0xF])
def test_reserved_opcodes_fail_with_1002(engine_class: Any, opcode: int) -> None:
    assert failed_with(make(engine_class), frame(opcode, b"x")) == 1002


@pytest.mark.parametrize("bit", ["rsv1", "rsv2", "rsv3"])
def test_reserved_bits_without_an_extension_fail_with_1002(engine_class: Any, bit: str) -> None:
    assert failed_with(make(engine_class), frame(TEXT, b"x", **{bit: True})) == 1002


def test_non_minimal_length_fails_with_1002(engine_class: Any) -> None:
    assert failed_with(make(engine_class), b"\x81\xfe\x00\x05" + ZERO_KEY + b"hello") == 1002


def test_64_bit_length_with_the_top_bit_set_fails_with_1002(engine_class: Any) -> None:
    wire = b"\x82\xff\x80\x00\x00\x00\x00\x01\x00\x00" + ZERO_KEY
    assert failed_with(make(engine_class, max_message_size=0), wire) == 1002


def test_frames_split_at_every_byte_give_the_same_messages(engine_class: Any) -> None:
    wire = HELLO + frame(BINARY, bytes(300)) + frame(TEXT, "€".encode() * 50)
    proto = make(engine_class)
    messages = []
    for i in range(len(wire)):
        messages += pull(proto, wire[i : i + 1])
    assert messages == [
        WSMessage(WSMsgType.TEXT, "hello", None),
        WSMessage(WSMsgType.BINARY, bytes(300), None),
        WSMessage(WSMsgType.TEXT, "€" * 50, None),
    ]


# 5.4 fragmentation -------------------------------------------------------------------


def test_fragments_are_joined(engine_class: Any) -> None:
    wire = frame(TEXT, b"hel", fin=False) + frame(CONT, b"l", fin=False) + frame(CONT, b"o")
    assert pull(make(engine_class), wire) == [WSMessage(WSMsgType.TEXT, "hello", None)]


def test_a_ping_between_fragments_is_answered_at_once(engine_class: Any) -> None:
    proto = make(engine_class)
    wire = frame(BINARY, b"ab", fin=False) + frame(PING, b"mid") + frame(CONT, b"cd")
    assert pull(proto, wire) == [WSMessage(WSMsgType.BINARY, b"abcd", None)]
    assert proto.data_to_send() == b"\x8a\x03mid"


def test_continuation_without_a_message_fails_with_1002(engine_class: Any) -> None:
    assert failed_with(make(engine_class), frame(CONT, b"x")) == 1002


def test_a_new_message_inside_a_fragmented_one_fails_with_1002(engine_class: Any) -> None:
    wire = frame(TEXT, b"a", fin=False) + frame(TEXT, b"b")
    assert failed_with(make(engine_class), wire) == 1002


# 5.5 control frames ------------------------------------------------------------------


@pytest.mark.parametrize("opcode", [PING, PONG, CLOSE])
def test_control_payload_over_125_bytes_fails_with_1002(engine_class: Any, opcode: int) -> None:
    assert failed_with(make(engine_class), frame(opcode, bytes(126))) == 1002


@pytest.mark.parametrize("opcode", [PING, PONG, CLOSE])
def test_fragmented_control_frame_fails_with_1002(engine_class: Any, opcode: int) -> None:
    assert failed_with(make(engine_class), frame(opcode, b"", fin=False)) == 1002


def test_ping_is_answered_with_its_payload(engine_class: Any) -> None:
    proto = make(engine_class)
    assert pull(proto, b"\x89\x84" + ZERO_KEY + b"ping") == []
    assert proto.data_to_send() == b"\x8a\x04ping"


def test_without_autoping_pings_and_pongs_reach_the_application(engine_class: Any) -> None:
    proto = make(engine_class, autoping=False)
    assert pull(proto, frame(PING, b"a") + frame(PONG, b"b")) == [
        WSMessage(WSMsgType.PING, b"a", None),
        WSMessage(WSMsgType.PONG, b"b", None),
    ]
    assert proto.data_to_send() == b""


def test_an_unsolicited_pong_is_ignored(engine_class: Any) -> None:
    proto = make(engine_class)
    assert pull(proto, frame(PONG, b"x") + HELLO) == [WSMessage(WSMsgType.TEXT, "hello", None)]
    assert proto.data_to_send() == b""


def test_sending_control_payloads_over_125_bytes_is_refused(engine_class: Any) -> None:
    proto = make(engine_class)
    with pytest.raises(ValueError):
        proto.send_ping(bytes(126))
    with pytest.raises(ValueError):
        proto.send_pong(bytes(126))
    proto.send_ping(bytes(125))
    assert parse_frames(proto.data_to_send())[0].payload == bytes(125)


# 5.6 / 8.1 UTF-8 -----------------------------------------------------------------------


def test_invalid_utf8_fails_with_1007(engine_class: Any) -> None:
    assert failed_with(make(engine_class), frame(TEXT, b"\xce\xba\xe1\xbd")) == 1007


def test_invalid_utf8_fails_in_a_partial_frame(engine_class: Any) -> None:
    # 8.1 "fail fast": the frame declares 1000 bytes; the bad byte is among the first.
    wire = frame(TEXT, b"ok\xff" + bytes(997), mask_key=ZERO_KEY)
    assert failed_with(make(engine_class), wire[:20]) == 1007


def test_invalid_utf8_in_a_first_fragment_fails_before_the_message_ends(
    engine_class: Any,
) -> None:
    assert failed_with(make(engine_class), frame(TEXT, b"\xff", fin=False)) == 1007


def test_a_code_point_split_across_fragments_is_valid(engine_class: Any) -> None:
    euro = "€".encode()
    wire = frame(TEXT, euro[:1], fin=False) + frame(CONT, euro[1:])
    assert pull(make(engine_class), wire) == [WSMessage(WSMsgType.TEXT, "€", None)]


def test_a_truncated_code_point_at_the_end_fails_with_1007(engine_class: Any) -> None:
    assert failed_with(make(engine_class), frame(TEXT, "€".encode()[:2])) == 1007


# 7.1 closing: the peer closes ---------------------------------------------------------------


def test_the_peers_close_is_delivered_and_echoed(engine_class: Any) -> None:
    proto = make(engine_class)
    messages = pull(proto, frame(CLOSE, close_payload(4000, b"bye")))
    assert messages == [WSMessage(WSMsgType.CLOSE, 4000, "bye")]
    assert proto.data_to_send() == b"\x88\x02\x0f\xa0"  # the code echoed (5.5.1)
    assert proto.state is State.CLOSED and proto.close_expected()
    assert (proto.close_code, proto.close_reason) == (4000, "bye")


def test_a_close_without_code_is_1005_and_answered_empty(engine_class: Any) -> None:
    proto = make(engine_class)
    assert pull(proto, frame(CLOSE)) == [WSMessage(WSMsgType.CLOSE, 1005, "")]
    assert proto.data_to_send() == b"\x88\x00"


def test_without_autoclose_the_application_answers(engine_class: Any) -> None:
    proto = make(engine_class, autoclose=False)
    assert pull(proto, CLOSE_1000) == [WSMessage(WSMsgType.CLOSE, 1000, "")]
    assert proto.state is State.REMOTE_CLOSING and not proto.close_expected()
    assert proto.data_to_send() == b""
    with pytest.raises(WSConnectionClosed):
        proto.send_text("too late")
    proto.send_close(1001, "ok")
    assert proto.data_to_send() == b"\x88\x04\x03\xe9ok"
    assert proto.state is State.CLOSED


def test_messages_before_a_close_are_delivered_first(engine_class: Any) -> None:
    proto = make(engine_class)
    proto.receive_data(HELLO + CLOSE_1000)
    assert proto.next_event() == WSMessage(WSMsgType.TEXT, "hello", None)
    assert proto.data_to_send() == b""  # nothing read past the application yet
    assert proto.next_event() == WSMessage(WSMsgType.CLOSE, 1000, "")
    assert proto.data_to_send() == b"\x88\x02\x03\xe8"


def test_bytes_after_the_peers_close_are_ignored(engine_class: Any) -> None:
    proto = make(engine_class)
    pull(proto, CLOSE_1000 + HELLO)
    assert pull(proto, HELLO) == []
    assert proto.buffered == 0


def test_messages_before_a_violation_are_delivered_first(engine_class: Any) -> None:
    proto = make(engine_class)
    proto.receive_data(HELLO + b"\x81\x05hello")  # then an unmasked frame
    assert proto.next_event() == WSMessage(WSMsgType.TEXT, "hello", None)
    assert proto.state is State.OPEN
    error = proto.next_event()
    assert error is not None and error.type is WSMsgType.ERROR


# 7.1 closing: we close ----------------------------------------------------------------------


def test_our_close_then_the_peers_answer(engine_class: Any) -> None:
    proto = make(engine_class)
    proto.send_close(1000, "done")
    assert proto.data_to_send() == b"\x88\x06\x03\xe8done"
    assert proto.state is State.CLOSING and not proto.close_expected()
    assert pull(proto, frame(CLOSE, close_payload(1000))) == []
    assert proto.state is State.CLOSED and proto.close_expected()
    assert proto.close_code == 1000
    assert proto.data_to_send() == b""  # no second Close


def test_after_our_close_messages_and_pings_are_dropped(engine_class: Any) -> None:
    proto = make(engine_class)
    proto.send_close()
    proto.data_to_send()
    assert pull(proto, HELLO + frame(PING, b"p") + frame(CLOSE, close_payload(1000))) == []
    assert proto.data_to_send() == b""  # no pong after our Close (5.5.2, 5.5.1)
    assert proto.state is State.CLOSED


def test_sending_after_our_close_raises(engine_class: Any) -> None:
    proto = make(engine_class)
    proto.send_close()
    for send in (proto.send_text, proto.send_binary, proto.send_ping, proto.send_close):
        with pytest.raises(WSConnectionClosed):
            send(b"" if send is not proto.send_text else "")  # type: ignore[operator]


def test_the_reason_is_cut_to_123_bytes_on_a_code_point(engine_class: Any) -> None:
    proto = make(engine_class)
    proto.send_close(1000, "é" * 100)
    (sent,) = parse_frames(proto.data_to_send())
    assert len(sent.payload) <= 125
    assert sent.close_reason.decode("utf-8") == "é" * 61


@pytest.mark.parametrize("code", [1005, 1006, 1015])
def test_codes_that_may_not_be_sent_become_1000(engine_class: Any, code: int) -> None:
    proto = make(engine_class)
    proto.send_close(code)
    assert parse_frames(proto.data_to_send())[0].close_code == 1000


def test_fail_sends_the_code_and_ends_reading(engine_class: Any) -> None:
    proto = make(engine_class)
    proto.fail(1008, "policy")
    assert proto.data_to_send() == b"\x88\x08\x03\xf0policy"
    assert proto.state is State.CLOSED
    assert isinstance(proto.exception, WebSocketError) and proto.exception.code == 1008
    assert pull(proto, HELLO) == []


# 7.1.5 / 7.4 close codes -------------------------------------------------------------------------


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000])
def test_invalid_close_codes_fail_with_1002(engine_class: Any, code: int) -> None:
    assert failed_with(make(engine_class), frame(CLOSE, close_payload(code))) == 1002


@pytest.mark.parametrize("code", [1000, 1001, 1003, 1007, 1011, 1012, 1013, 3000, 4999])
def test_valid_close_codes_are_accepted(engine_class: Any, code: int) -> None:
    proto = make(engine_class)
    assert pull(proto, frame(CLOSE, close_payload(code))) == [WSMessage(WSMsgType.CLOSE, code, "")]


def test_a_one_byte_close_payload_fails_with_1002(engine_class: Any) -> None:
    assert failed_with(make(engine_class), frame(CLOSE, b"\x03")) == 1002


def test_an_invalid_utf8_close_reason_fails_with_1007(engine_class: Any) -> None:
    assert failed_with(make(engine_class), frame(CLOSE, close_payload(1000, b"\xff"))) == 1007


# 7.1.5 the end of the bytes ---------------------------------------------------------------------


def test_eof_without_a_close_is_1006_and_buffered_messages_still_come(engine_class: Any) -> None:
    proto = make(engine_class)
    proto.receive_data(HELLO)
    proto.receive_eof()
    assert proto.state is State.CLOSED and proto.close_code == 1006
    assert pull(proto) == [WSMessage(WSMsgType.TEXT, "hello", None)]
    with pytest.raises(WSConnectionClosed):
        proto.send_text("no")


def test_a_buffered_close_wins_over_1006(engine_class: Any) -> None:
    proto = make(engine_class)
    proto.receive_data(frame(CLOSE, close_payload(4001)))
    proto.receive_eof()
    assert proto.close_code == 1006
    assert pull(proto) == [WSMessage(WSMsgType.CLOSE, 4001, "")]
    assert proto.close_code == 4001
    assert proto.data_to_send() == b""  # nobody to answer


def test_eof_while_closing_finds_a_buffered_answer(engine_class: Any) -> None:
    proto = make(engine_class)
    proto.send_close(1000)
    proto.receive_data(frame(CLOSE, close_payload(1001)))
    proto.receive_eof()
    assert (proto.state, proto.close_code) == (State.CLOSED, 1001)


def test_eof_while_closing_without_an_answer_is_1006(engine_class: Any) -> None:
    proto = make(engine_class)
    proto.send_close(1000)
    proto.receive_eof()
    assert (proto.state, proto.close_code) == (State.CLOSED, 1006)


# 10.4 size limits ------------------------------------------------------------------------------


def test_a_declared_length_over_the_limit_fails_at_the_header(engine_class: Any) -> None:
    proto = make(engine_class, max_message_size=1000)
    header = b"\x82\xff" + (1 << 40).to_bytes(8, "big")  # a terabyte announced, no payload
    assert failed_with(proto, header) == 1009


def test_declared_fragment_lengths_add_up(engine_class: Any) -> None:
    proto = make(engine_class, max_message_size=1000)
    wire = frame(BINARY, bytes(600), fin=False) + frame(CONT, bytes(401))[:8]
    assert failed_with(proto, wire) == 1009


def test_the_limit_is_inclusive_and_per_message(engine_class: Any) -> None:
    proto = make(engine_class, max_message_size=1000)
    wire = frame(BINARY, bytes(500), fin=False) + frame(CONT, bytes(500)) + frame(TEXT, b"a" * 1000)
    assert [m.type for m in pull(proto, wire)] == [WSMsgType.BINARY, WSMsgType.TEXT]


def test_buffered_counts_unparsed_bytes(engine_class: Any) -> None:
    proto = make(engine_class)
    proto.receive_data(HELLO + HELLO)
    assert proto.buffered == 2 * len(HELLO)
    proto.next_event()
    assert proto.buffered == len(HELLO)
