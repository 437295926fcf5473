"""Engine selection, the frame builder, and prepared messages."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from wsproto.frame_protocol import FrameProtocol

from tidewire import web
from tidewire.ws import engines
from tidewire.ws.engine import OP_BINARY, OP_PING, OP_TEXT, Side
from tidewire.ws.framing import build_frame, mask_payload
from tidewire.ws.prepared import PreparedMessage
from tidewire.ws.wsproto_engine import WsprotoEngine

from .rawclient import apply_mask, parse_frames

SRC = str(Path(engines.__file__).resolve().parents[2])
COMPILED_BUILT = importlib.util.find_spec("tidewire.ws._frames_c") is not None


def engine_in_a_fresh_process(switch: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "TIDEWIRE_NO_EXTENSIONS"}
    env["PYTHONPATH"] = SRC
    if switch is not None:
        env["TIDEWIRE_NO_EXTENSIONS"] = switch
    code = "from tidewire import web, ws; print(web.websocket_engine(), ws.ENGINE)"
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    name, same = result.stdout.split()
    assert name == same
    return name


@pytest.mark.parametrize("switch", ["1", "yes"])
def test_the_switch_forces_the_wsproto_engine(switch: str) -> None:
    assert engine_in_a_fresh_process(switch) == "wsproto"


@pytest.mark.parametrize("switch", [None, "", "0"])
def test_without_the_switch_the_compiled_engine_runs_when_built(switch: str | None) -> None:
    assert engine_in_a_fresh_process(switch) == ("compiled" if COMPILED_BUILT else "wsproto")


def test_the_engine_in_use_is_the_one_named() -> None:
    engine = engines.create_engine(Side.SERVER, None, 0)
    assert web.websocket_engine() == engines.ENGINE
    assert isinstance(engine, WsprotoEngine) == (engines.ENGINE == "wsproto")


# the frame builder ----------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 70000])
@pytest.mark.parametrize("kind", [str, bytes])
def test_prepared_frames_are_the_bytes_wsproto_builds(size: int, kind: type) -> None:
    data = "a" * size if kind is str else bytes(size)
    expected = bytes(FrameProtocol(client=False, extensions=[]).send_data(data, fin=True))
    message = PreparedMessage.encode(data)
    assert message.frame == expected
    assert message.size == len(expected)


@pytest.mark.parametrize("size", [0, 3, 4, 5, 126, 70000])
def test_masking_matches_rfc_6455_section_5_3(size: int) -> None:
    payload = os.urandom(size)
    key = b"\x37\xfa\x21\x3d"
    assert mask_payload(key, payload) == apply_mask(payload, key)
    assert mask_payload(key, mask_payload(key, payload)) == payload


def test_masked_frames_parse_back() -> None:
    wire = build_frame(OP_TEXT, b"Hello", mask=True) + build_frame(OP_PING, b"", mask=True)
    text, ping = parse_frames(wire)
    assert (text.opcode, text.masked, text.payload) == (OP_TEXT, True, b"Hello")
    assert (ping.opcode, ping.masked, ping.payload) == (OP_PING, True, b"")


def test_the_rfc_example_frames() -> None:
    # RFC 6455 section 5.7: a single-frame unmasked text message, and 256 bytes binary.
    assert build_frame(OP_TEXT, b"Hello", mask=False) == b"\x81\x05\x48\x65\x6c\x6c\x6f"
    assert build_frame(OP_BINARY, bytes(256), mask=False)[:4] == b"\x82\x7e\x01\x00"
    assert build_frame(OP_BINARY, bytes(65536), mask=False)[:10] == (
        b"\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00"
    )
