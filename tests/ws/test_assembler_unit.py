"""tidewire.ws.assembler.MessageAssembler: joining partial events under a size limit."""

from __future__ import annotations

import pytest
from wsproto.events import BytesMessage, TextMessage

from tidewire import web
from tidewire.ws.assembler import MessageAssembler, MessageTooBig


def text(data: str, finished: bool = True) -> TextMessage:
    return TextMessage(data=data, frame_finished=True, message_finished=finished)


def binary(data: bytes, finished: bool = True) -> BytesMessage:
    return BytesMessage(data=data, frame_finished=True, message_finished=finished)


def test_whole_text_message() -> None:
    message = MessageAssembler(0).add(text("hello"))
    assert message == web.WSMessage(web.WSMsgType.TEXT, "hello", None)


def test_whole_binary_message_is_bytes() -> None:
    message = MessageAssembler(0).add(binary(bytearray(b"\x00\x01")))  # type: ignore[arg-type]
    assert message is not None
    assert message.type is web.WSMsgType.BINARY
    assert type(message.data) is bytes
    assert message.data == b"\x00\x01"


def test_empty_messages() -> None:
    assembler = MessageAssembler(10)
    assert assembler.add(text("")) == web.WSMessage(web.WSMsgType.TEXT, "", None)
    assert assembler.add(binary(b"")) == web.WSMessage(web.WSMsgType.BINARY, b"", None)


def test_fragments_are_joined() -> None:
    assembler = MessageAssembler(0)
    assert assembler.add(text("frag", finished=False)) is None
    assert assembler.add(text("men", finished=False)) is None
    assert assembler.add(text("ted")) == web.WSMessage(web.WSMsgType.TEXT, "fragmented", None)
    # The next message starts fresh.
    assert assembler.add(binary(b"a", finished=False)) is None
    assert assembler.add(binary(b"")) is not None  # an empty last fragment ends it
    assert assembler.add(binary(b"next")) == web.WSMessage(web.WSMsgType.BINARY, b"next", None)


def test_binary_fragments_are_joined() -> None:
    assembler = MessageAssembler(0)
    for part in (b"\x00" * 10, b"\x01" * 10):
        assert assembler.add(binary(part, finished=False)) is None
    message = assembler.add(binary(b"\x02"))
    assert message is not None
    assert message.data == b"\x00" * 10 + b"\x01" * 10 + b"\x02"


def test_limit_is_inclusive() -> None:
    assembler = MessageAssembler(10)
    assert assembler.add(binary(b"x" * 10)) is not None
    with pytest.raises(MessageTooBig):
        assembler.add(binary(b"x" * 11))


def test_limit_counts_utf8_bytes_not_characters() -> None:
    assembler = MessageAssembler(10)
    assert assembler.add(text("€" * 3)) is not None  # 9 bytes
    with pytest.raises(MessageTooBig):
        MessageAssembler(10).add(text("€" * 4))  # 4 characters, 12 bytes


def test_limit_trips_on_a_fragment_before_the_message_ends() -> None:
    assembler = MessageAssembler(100)
    assert assembler.add(binary(b"x" * 60, finished=False)) is None
    with pytest.raises(MessageTooBig):
        assembler.add(binary(b"x" * 60, finished=False))


def test_limit_is_per_message() -> None:
    assembler = MessageAssembler(100)
    for _ in range(5):
        assert assembler.add(binary(b"x" * 50, finished=False)) is None
        assert assembler.add(binary(b"x" * 50)) is not None


def test_zero_means_no_limit() -> None:
    assembler = MessageAssembler(0)
    big = b"x" * (5 * 1024 * 1024)
    message = assembler.add(binary(big))
    assert message is not None
    assert len(message.data) == len(big)


def test_messages_json_helper() -> None:
    message = MessageAssembler(0).add(text('{"a": [1, 2]}'))
    assert message is not None
    assert message.json() == {"a": [1, 2]}
