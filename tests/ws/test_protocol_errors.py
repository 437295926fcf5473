"""Exact bytes from a raw client: framing violations, close codes, ordering, limits."""

from __future__ import annotations

import asyncio
import os
import tracemalloc

import pytest

from tidewire import web

from .rawclient import (
    BINARY,
    CLOSE,
    CONT,
    PING,
    PONG,
    TEXT,
    RawWS,
    close_payload,
    deflate,
    frame,
    inflate,
    zero_bomb,
)
from .util import Probe, echo_handler, scripted_handler

DEFLATE_OFFER = (("Sec-WebSocket-Extensions", "permessage-deflate"),)


async def open_echo(serve, *, deflate_offer: bool = False, **options) -> tuple[RawWS, Probe]:  # type: ignore[no-untyped-def]
    probe = Probe()
    srv = await serve(echo_handler(probe, **options))
    extra = DEFLATE_OFFER if deflate_offer else ()
    client = await RawWS.connect(srv.host, srv.port, extra=extra)
    if deflate_offer:
        assert client.headers.get("sec-websocket-extensions", "").startswith("permessage-deflate")
    else:
        assert "sec-websocket-extensions" not in client.headers
    return client, probe


async def fails_with(client: RawWS, probe: Probe, code: int, data: bytes) -> None:
    """Send ``data``; the server must answer Close ``code``, end TCP, and tell the handler."""
    try:
        client.send(data)
        await client.expect_close(code, timeout=2)
        await probe.finished()
        assert probe.close_code == code
        error = probe.exception
        assert isinstance(error, web.WebSocketError), error
        assert error.code == code
    finally:
        await client.aclose()


# framing violations -> 1002 -----------------------------------------------------------


async def test_unmasked_frame(serve) -> None:
    client, probe = await open_echo(serve)
    await fails_with(client, probe, 1002, frame(TEXT, b"hello", mask=False))


@pytest.mark.parametrize("opcode", [0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF])
async def test_reserved_opcode(serve, opcode: int) -> None:
    client, probe = await open_echo(serve)
    await fails_with(client, probe, 1002, frame(opcode, b"data"))


@pytest.mark.parametrize("bit", ["rsv1", "rsv2", "rsv3"])
async def test_rsv_bit_without_extension(serve, bit: str) -> None:
    client, probe = await open_echo(serve)
    await fails_with(client, probe, 1002, frame(TEXT, b"data", **{bit: True}))  # type: ignore[arg-type]


@pytest.mark.parametrize("bit", ["rsv2", "rsv3"])
async def test_rsv_bit_not_owned_by_deflate(serve, bit: str) -> None:
    client, probe = await open_echo(serve, deflate_offer=True)
    await fails_with(client, probe, 1002, frame(TEXT, deflate(b"x"), rsv1=True, **{bit: True}))  # type: ignore[arg-type]


async def test_rsv1_on_a_control_frame_with_deflate(serve) -> None:
    client, probe = await open_echo(serve, deflate_offer=True)
    await fails_with(client, probe, 1002, frame(PING, b"", rsv1=True))


@pytest.mark.parametrize("opcode", [PING, PONG, CLOSE])
async def test_control_frame_over_125_bytes(serve, opcode: int) -> None:
    client, probe = await open_echo(serve)
    payload = close_payload(1000, b"r" * 124) if opcode == CLOSE else b"p" * 126
    await fails_with(client, probe, 1002, frame(opcode, payload))


@pytest.mark.parametrize("opcode", [PING, PONG, CLOSE])
async def test_fragmented_control_frame(serve, opcode: int) -> None:
    client, probe = await open_echo(serve)
    payload = close_payload(1000) if opcode == CLOSE else b"abc"
    await fails_with(client, probe, 1002, frame(opcode, payload, fin=False))


async def test_continuation_without_a_message(serve) -> None:
    client, probe = await open_echo(serve)
    await fails_with(client, probe, 1002, frame(CONT, b"orphan"))


async def test_new_message_inside_a_fragmented_one(serve) -> None:
    client, probe = await open_echo(serve)
    data = frame(TEXT, b"first", fin=False) + frame(TEXT, b"second")
    await fails_with(client, probe, 1002, data)


async def test_non_minimal_length_encoding(serve) -> None:
    client, probe = await open_echo(serve)
    # A 5-byte payload announced with the 16-bit length form.
    key = os.urandom(4)
    data = bytes([0x81, 0x80 | 126, 0, 5]) + key + frame(TEXT, b"hello", mask_key=key)[6:]
    await fails_with(client, probe, 1002, data)


async def test_64_bit_length_with_the_top_bit_set(serve) -> None:
    client, probe = await open_echo(serve)
    await fails_with(client, probe, 1002, frame(BINARY, b"", length=(1 << 63) + 1000)[:10])


# invalid UTF-8 -> 1007 ------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff",
        b"abc\xc3",  # truncated at the end of the message
        b"\xed\xa0\x80",  # a UTF-16 surrogate
        b"\xc0\xaf",  # overlong encoding of '/'
        b"\xf4\x90\x80\x80",  # above U+10FFFF
    ],
)
async def test_invalid_utf8_text(serve, payload: bytes) -> None:
    client, probe = await open_echo(serve)
    await fails_with(client, probe, 1007, frame(TEXT, payload))


async def test_invalid_utf8_in_a_first_fragment_is_caught_before_the_message_ends(serve) -> None:
    client, probe = await open_echo(serve)
    # The message never finishes: the server must not wait for the rest.
    await fails_with(client, probe, 1007, frame(TEXT, b"valid start \xff\xfe", fin=False))


async def test_invalid_utf8_in_a_partial_frame_is_caught_early(serve) -> None:
    client, probe = await open_echo(serve)
    # Only the first 20 bytes of a frame announced as 1000 bytes long ever arrive.
    header_and_start = frame(TEXT, b"0123456789\xff" + b"x" * 989)[: 2 + 2 + 4 + 20]
    await fails_with(client, probe, 1007, header_and_start)


async def test_code_point_split_across_fragments_is_fine(serve) -> None:
    client, _probe = await open_echo(serve)
    euro = "€".encode()
    client.send(frame(TEXT, b"price: " + euro[:1], fin=False))
    client.send(frame(CONT, euro[1:2], fin=False))
    client.send(frame(CONT, euro[2:] + b"!", fin=True))
    echoed = await client.recv()
    assert echoed is not None
    assert echoed.opcode == TEXT
    assert echoed.payload.decode() == "price: €!"
    await client.aclose()


async def test_invalid_utf8_in_a_compressed_text_message(serve) -> None:
    client, probe = await open_echo(serve, deflate_offer=True)
    await fails_with(client, probe, 1007, frame(TEXT, deflate(b"ok \xff\xfe"), rsv1=True))


async def test_invalid_utf8_in_a_close_reason(serve) -> None:
    client, probe = await open_echo(serve)
    client.send(frame(CLOSE, close_payload(1000, b"bad \xff")))
    await client.expect_close(1007)
    await probe.finished()
    await client.aclose()


# close codes sent by the client ------------------------------------------------------------


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535])
async def test_reserved_or_invalid_close_code(serve, code: int) -> None:
    client, probe = await open_echo(serve)
    client.send(frame(CLOSE, close_payload(code)))
    await client.expect_close(1002)
    await probe.finished()
    assert probe.close_code == 1002
    await client.aclose()


async def test_one_byte_close_payload(serve) -> None:
    client, _probe = await open_echo(serve)
    client.send(frame(CLOSE, b"\x03"))
    await client.expect_close(1002)
    await client.aclose()


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 4999])
async def test_valid_close_code_is_echoed(serve, code: int) -> None:
    client, probe = await open_echo(serve)
    client.send(frame(CLOSE, close_payload(code, b"reason")))
    await client.expect_close(code)
    await probe.finished()
    assert probe.close_code == code
    assert probe.exception is None
    await client.aclose()


async def test_close_without_a_status_code(serve) -> None:
    client, probe = await open_echo(serve)
    client.send(frame(CLOSE, b""))
    frames, closing = await client.recv_until_close()
    assert frames == []
    assert closing is not None
    # An empty Close is answered with an empty Close or with 1000, never 1005 on the wire.
    assert closing.close_code in (None, 1000)
    assert await client.at_eof()
    await probe.finished()
    assert probe.close_code == 1005  # "no status received"
    await client.aclose()


# strict ordering: what came before a violation or a Close is handled first ---------------


async def test_valid_message_is_echoed_before_the_protocol_error_close(serve) -> None:
    client, probe = await open_echo(serve)
    client.send(frame(TEXT, b"first") + frame(BINARY, b"second") + frame(0x3, b"bad"))
    frames = await client.expect_close(1002)
    assert [(f.opcode, f.payload) for f in frames] == [(TEXT, b"first"), (BINARY, b"second")]
    await probe.finished()
    assert probe.types()[:2] == [web.WSMsgType.TEXT, web.WSMsgType.BINARY]
    await client.aclose()


async def test_valid_message_is_echoed_before_the_utf8_error_close(serve) -> None:
    client, _probe = await open_echo(serve)
    client.send(frame(TEXT, b"fine") + frame(TEXT, b"\xff"))
    frames = await client.expect_close(1007)
    assert [f.payload for f in frames] == [b"fine"]
    await client.aclose()


async def test_messages_before_a_close_are_delivered_first(serve) -> None:
    client, probe = await open_echo(serve)
    client.send(
        frame(TEXT, b"one") + frame(TEXT, b"two") + frame(CLOSE, close_payload(1000, b"bye"))
    )
    frames = await client.expect_close(1000)
    assert [f.payload for f in frames] == [b"one", b"two"]
    await probe.finished()
    assert [m.data for m in probe.messages] == ["one", "two"]
    assert probe.close_code == 1000
    await client.aclose()


async def test_frames_in_the_same_write_as_the_handshake(serve) -> None:
    probe = Probe()
    srv = await serve(echo_handler(probe))
    client = await RawWS.connect(
        srv.host, srv.port, after=frame(TEXT, b"early") + frame(CLOSE, close_payload(1000))
    )
    frames = await client.expect_close(1000)
    assert [f.payload for f in frames] == [b"early"]
    await client.aclose()


async def test_ping_between_fragments_is_answered_in_order(serve) -> None:
    client, _probe = await open_echo(serve)
    client.send(
        frame(TEXT, b"Hel", fin=False)
        + frame(PING, b"mid")
        + frame(CONT, b"lo", fin=True)
        + frame(PING, b"after")
    )
    received = [await client.recv() for _ in range(3)]
    assert [(f.opcode, f.payload) for f in received if f] == [
        (PONG, b"mid"),
        (TEXT, b"Hello"),
        (PONG, b"after"),
    ]
    await client.aclose()


async def test_ping_between_fragments_of_a_compressed_message(serve) -> None:
    client, _probe = await open_echo(serve, deflate_offer=True)
    payload = deflate(b"compressed and fragmented " * 20)
    half = len(payload) // 2
    client.send(
        frame(TEXT, payload[:half], fin=False, rsv1=True)
        + frame(PING, b"mid")
        + frame(CONT, payload[half:], fin=True)
    )
    first = await client.recv()
    second = await client.recv()
    assert first is not None
    assert (first.opcode, first.payload) == (PONG, b"mid")
    assert second is not None
    assert second.opcode == TEXT, (second.opcode, second.payload)
    text = inflate(second.payload) if second.rsv1 else second.payload
    assert text == b"compressed and fragmented " * 20
    await client.aclose()


# sizes -> 1009 ----------------------------------------------------------------------------


async def test_message_one_byte_over_the_limit(serve) -> None:
    client, probe = await open_echo(serve, max_msg_size=1000)
    client.send(frame(BINARY, b"a" * 1000))
    echoed = await client.recv()
    assert echoed is not None
    assert echoed.payload == b"a" * 1000
    await fails_with(client, probe, 1009, frame(BINARY, b"a" * 1001))


async def test_text_limit_counts_utf8_bytes(serve) -> None:
    client, probe = await open_echo(serve, max_msg_size=1000)
    # 400 characters, 1200 bytes.
    await fails_with(client, probe, 1009, frame(TEXT, "€".encode() * 400))


async def test_fragmented_message_over_the_limit(serve) -> None:
    client, probe = await open_echo(serve, max_msg_size=1000)
    data = b"".join(frame(BINARY if i == 0 else CONT, b"z" * 300, fin=False) for i in range(4))
    # Never finished: the limit must trip on the fragments already received.
    await fails_with(client, probe, 1009, data)


async def test_huge_declared_length_is_refused_early(serve) -> None:
    client, probe = await open_echo(serve, max_msg_size=1024 * 1024)
    # Announce 1 TiB, send a few bytes, then wait: the declared length alone says "too big".
    await fails_with(client, probe, 1009, frame(BINARY, b"", length=1 << 40)[:14] + b"x" * 100)


async def test_compressed_bomb_is_refused_before_memory_grows(serve) -> None:
    client, probe = await open_echo(serve, deflate_offer=True, max_msg_size=1024 * 1024)
    data = frame(BINARY, zero_bomb(), rsv1=True)  # 100 MiB of zeros in ~100 KiB
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        await fails_with(client, probe, 1009, data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The server runs in this process: its allocations are traced too.
    assert peak < 16 * 1024 * 1024, f"peak {peak} bytes while refusing a bomb"


async def test_compressed_message_within_the_limit(serve) -> None:
    client, _probe = await open_echo(serve, deflate_offer=True, max_msg_size=1024 * 1024)
    client.send(frame(BINARY, deflate(bytes(1024 * 1024)), rsv1=True))
    echoed = await client.recv()
    assert echoed is not None
    assert echoed.rsv1
    assert inflate(echoed.payload) == bytes(1024 * 1024)
    await client.aclose()


# what the server sends on a compressed connection ---------------------------------------


async def test_compress_false_sends_a_frame_without_rsv1(serve) -> None:
    async def script(ws: web.WebSocketResponse) -> None:
        await ws.send_str("plain text", compress=False)
        await ws.send_bytes(b"packed bytes" * 10)
        await ws.send_bytes(b"plain bytes", compress=False)
        await ws.send_prepared(web.PreparedMessage.encode("prepared"))
        await ws.receive(timeout=3)

    srv = await serve(scripted_handler(Probe(), script))
    client = await RawWS.connect(srv.host, srv.port, extra=DEFLATE_OFFER)
    assert "permessage-deflate" in client.headers["sec-websocket-extensions"]
    received = [await client.recv() for _ in range(4)]
    plain, packed, plain_bytes, prepared = received
    assert plain is not None
    assert (plain.opcode, plain.rsv1, plain.payload) == (TEXT, False, b"plain text")
    assert packed is not None
    assert (packed.opcode, packed.rsv1) == (BINARY, True)
    assert inflate(packed.payload) == b"packed bytes" * 10
    assert plain_bytes is not None
    assert (plain_bytes.opcode, plain_bytes.rsv1, plain_bytes.payload) == (
        BINARY,
        False,
        b"plain bytes",
    )
    assert prepared is not None
    assert (prepared.opcode, prepared.rsv1, prepared.payload) == (TEXT, False, b"prepared")
    assert not any(f.masked for f in received if f)
    await client.aclose()


async def test_no_compression_when_the_client_does_not_offer_it(serve) -> None:
    async def script(ws: web.WebSocketResponse) -> None:
        assert not ws.compress
        await ws.send_str("text " * 100)
        await ws.receive(timeout=3)

    srv = await serve(scripted_handler(Probe(), script))
    client = await RawWS.connect(srv.host, srv.port)
    received = await client.recv()
    assert received is not None
    assert not received.rsv1
    assert received.payload == b"text " * 100
    await client.aclose()


async def test_compress_disabled_on_the_server_declines_the_offer(serve) -> None:
    async def script(ws: web.WebSocketResponse) -> None:
        assert not ws.compress
        await ws.send_str("text " * 100)
        await ws.receive(timeout=3)

    srv = await serve(scripted_handler(Probe(), script, compress=False))
    client = await RawWS.connect(srv.host, srv.port, extra=DEFLATE_OFFER)
    assert "sec-websocket-extensions" not in client.headers
    received = await client.recv()
    assert received is not None
    assert not received.rsv1
    await client.aclose()


async def test_odd_window_bits_offer_is_declined_not_a_500(serve) -> None:
    probe = Probe()
    srv = await serve(echo_handler(probe))
    offer = (("Sec-WebSocket-Extensions", "permessage-deflate; server_max_window_bits=\xb9"),)
    client = await RawWS.connect(srv.host, srv.port, extra=offer, expect=None)
    assert client.status == 101, client.head
    assert "sec-websocket-extensions" not in client.headers
    await client.aclose()


async def test_the_server_window_offer_is_honoured(serve) -> None:
    async def script(ws: web.WebSocketResponse) -> None:
        block = bytes(range(256)) * 4
        await ws.send_bytes(block + os.urandom(3000) + block)
        await ws.receive(timeout=3)

    srv = await serve(scripted_handler(Probe(), script))
    offer = (("Sec-WebSocket-Extensions", "permessage-deflate; server_max_window_bits=9"),)
    client = await RawWS.connect(srv.host, srv.port, extra=offer)
    assert "server_max_window_bits=9" in client.headers["sec-websocket-extensions"]
    received = await client.recv()
    assert received is not None
    assert received.rsv1
    assert len(inflate(received.payload, wbits=9)) == 1024 * 2 + 3000
    await client.aclose()


async def test_receive_after_failure_returns_closed(serve) -> None:
    seen: list[web.WSMessage] = []

    async def script(ws: web.WebSocketResponse) -> None:
        for _ in range(3):
            seen.append(await ws.receive(timeout=3))

    probe = Probe()
    srv = await serve(scripted_handler(probe, script))
    client = await RawWS.connect(srv.host, srv.port)
    client.send(frame(0x3, b""))
    await client.expect_close(1002)
    await probe.finished()
    assert seen[0].type is web.WSMsgType.ERROR
    assert isinstance(seen[0].data, web.WebSocketError)
    assert [m.type for m in seen[1:]] == [web.WSMsgType.CLOSED, web.WSMsgType.CLOSED]
    await client.aclose()


async def test_sending_after_a_protocol_error_raises(serve) -> None:
    outcome: list[BaseException] = []

    async def script(ws: web.WebSocketResponse) -> None:
        message = await ws.receive(timeout=3)
        assert message.type is web.WSMsgType.ERROR
        try:
            await ws.send_str("too late")
        except web.WSConnectionClosed as exc:
            outcome.append(exc)

    srv = await serve(scripted_handler(Probe(), script))
    client = await RawWS.connect(srv.host, srv.port)
    client.send(frame(TEXT, b"x", mask=False))
    await client.expect_close(1002)
    await asyncio.sleep(0.05)
    assert len(outcome) == 1
    assert isinstance(outcome[0], ConnectionResetError)
    await client.aclose()


async def test_close_in_the_middle_of_a_fragmented_message(serve) -> None:
    client, probe = await open_echo(serve)
    client.send(frame(TEXT, b"never ", fin=False) + frame(CLOSE, close_payload(1000)))
    frames = await client.expect_close(1000)
    assert frames == []
    await probe.finished()
    assert probe.messages == []
    assert probe.close_code == 1000
    await client.aclose()


async def test_empty_fragments_make_an_empty_message(serve) -> None:
    client, _probe = await open_echo(serve)
    client.send(frame(TEXT, b"", fin=False) + frame(CONT, b"", fin=False) + frame(CONT, b""))
    client.send(frame(BINARY, b"", fin=False) + frame(CONT, b"", fin=True))
    first = await client.recv()
    second = await client.recv()
    assert first is not None
    assert second is not None
    assert (first.opcode, first.payload) == (TEXT, b"")
    assert (second.opcode, second.payload) == (BINARY, b"")
    await client.aclose()


async def test_both_sides_close_at_once(serve) -> None:
    outcome: list[object] = []

    async def script(ws: web.WebSocketResponse) -> None:
        await ws.receive(timeout=3)  # "go"
        outcome.append(await ws.close(code=4000))
        outcome.append(ws.close_code)

    probe = Probe()
    srv = await serve(scripted_handler(probe, script))
    client = await RawWS.connect(srv.host, srv.port)
    # The client's own Close is already on its way when the handler closes.
    client.send(frame(TEXT, b"go") + frame(CLOSE, close_payload(4001)))
    frames, closing = await client.recv_until_close()
    assert frames == []
    assert closing is not None
    assert closing.close_code == 4000
    assert await client.at_eof()
    await probe.finished()
    # The close code is the one in the first Close received: the client's.
    assert outcome == [True, 4001]
    await client.aclose()


async def test_long_close_reason_is_truncated_to_fit(serve) -> None:
    async def script(ws: web.WebSocketResponse) -> None:
        await ws.close(code=4000, message="é" * 100)  # 200 bytes of UTF-8

    srv = await serve(scripted_handler(Probe(), script))
    client = await RawWS.connect(srv.host, srv.port)
    frames, closing = await client.recv_until_close()
    assert frames == []
    assert closing is not None
    assert closing.close_code == 4000
    assert len(closing.payload) <= 125
    closing.close_reason.decode("utf-8")  # cut on a character boundary
    client.send(frame(CLOSE, close_payload(4000)))
    assert await client.at_eof()
    await client.aclose()
