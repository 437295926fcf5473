"""Property-based streams through the sans-I/O protocol on every engine (hypothesis).

Random messages, fragmented at random, with pings between fragments, masked
(client to server) or not (server to client), compressed or not, and cut into
reads at random byte boundaries, must come out whole and in order, each ping
answered by one pong with its payload.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidewire.ws.compression import codec_for
from tidewire.ws.deflate import DeflateOptions, DeflateParams
from tidewire.ws.engine import Side
from tidewire.ws.messages import WSMessage, WSMsgType
from tidewire.ws.protocol import WebSocketProtocol

from .engines import ENGINE_CLASSES, ENGINE_IDS
from .rawclient import BINARY, CONT, PING, PONG, TEXT, deflate, frame, parse_frames

messages = st.lists(
    st.tuples(
        st.booleans(),
        st.one_of(st.text(max_size=300).map(str.encode), st.binary(max_size=300)),
        st.lists(st.integers(min_value=0, max_value=300), max_size=3),
        st.lists(st.binary(max_size=125), max_size=2),
    ),
    min_size=1,
    max_size=8,
)


def encode(
    items: list[Any], *, mask: bool, compress: bool
) -> tuple[bytes, list[WSMessage], list[bytes]]:
    """The wire bytes for ``items``, the messages they must give, and the pings sent."""
    wire = b""
    expected = []
    sent_pings = []
    for is_text, payload, cuts, pings in items:
        if is_text:
            try:
                text = payload.decode("utf-8")
            except UnicodeDecodeError:
                is_text, text = False, ""
        body = deflate(payload) if compress else payload
        bounds = sorted({min(c, len(body)) for c in cuts})
        pieces = [body[a:b] for a, b in zip([0, *bounds], [*bounds, len(body)], strict=True)]
        for i, piece in enumerate(pieces):
            opcode = (TEXT if is_text else BINARY) if i == 0 else CONT
            last = i == len(pieces) - 1
            wire += frame(opcode, piece, fin=last, rsv1=compress and i == 0, mask=mask)
            if i < len(pings):
                wire += frame(PING, pings[i], mask=mask)
                sent_pings.append(pings[i])
        expected.append(
            WSMessage(WSMsgType.TEXT, text, None)
            if is_text
            else WSMessage(WSMsgType.BINARY, payload, None)
        )
    return wire, expected, sent_pings


def run(proto: WebSocketProtocol, wire: bytes, cuts: list[int]) -> list[WSMessage]:
    out = []
    bounds = sorted({min(c, len(wire)) for c in cuts})
    for a, b in zip([0, *bounds], [*bounds, len(wire)], strict=True):
        proto.receive_data(wire[a:b])
        while (message := proto.next_event()) is not None:
            out.append(message)
    return out


CUTS = st.lists(st.integers(min_value=0, max_value=4000), max_size=12)


@pytest.mark.parametrize("engine_class", ENGINE_CLASSES, ids=ENGINE_IDS)
@settings(max_examples=40, deadline=None)
@given(items=messages, cuts=CUTS)
def test_server_side_streams(engine_class: Any, items: list[Any], cuts: list[int]) -> None:
    wire, expected, pings = encode(items, mask=True, compress=False)
    proto = WebSocketProtocol(Side.SERVER, engine=engine_class(Side.SERVER, None, 1 << 20))
    assert run(proto, wire, cuts) == expected
    pongs = parse_frames(proto.data_to_send())
    assert [(f.opcode, f.masked, f.payload) for f in pongs] == [(PONG, False, p) for p in pings]


@pytest.mark.parametrize("engine_class", ENGINE_CLASSES, ids=ENGINE_IDS)
@settings(max_examples=40, deadline=None)
@given(items=messages, cuts=CUTS)
def test_client_side_compressed_streams(
    engine_class: Any, items: list[Any], cuts: list[int]
) -> None:
    wire, expected, pings = encode(items, mask=False, compress=True)
    codec = codec_for(Side.CLIENT, DeflateParams(), DeflateOptions(), 1 << 20)
    proto = WebSocketProtocol(Side.CLIENT, engine=engine_class(Side.CLIENT, codec, 1 << 20))
    assert run(proto, wire, cuts) == expected
    pongs = parse_frames(proto.data_to_send())
    assert [(f.opcode, f.masked, f.payload) for f in pongs] == [(PONG, True, p) for p in pings]
