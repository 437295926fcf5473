"""Raw frame-engine speed: tidewire's engines against wsproto's frame layer, no sockets.

A benchmark script, not a test. For each message kind it measures, on the server
side, messages per second for

- **parse**: masked client frames fed in 64 KiB reads (or one read per frame when a
  frame is larger) and pulled until the buffer is empty, events assembled as
  tidewire's protocol will (the message's pieces joined);
- **build**: one unmasked frame per message (``encode_message``).

Engines: ``wsproto`` (tidewire's ``WsprotoEngine``: wsproto's frame layer with
tidewire's size limit and bounded codec, the reference engine), ``py`` (the pure
build of ``tidewire.ws._frames_py``) and ``c`` (``tidewire.ws._frames_c``, when it
was built). Run from the repository root::

    .venv/bin/python bench/engine_micro.py            # ~1 minute
    .venv/bin/python bench/engine_micro.py --quick    # ~15 s
    .venv/bin/python bench/engine_micro.py --json out.json

Each figure is the best of ``--repeat`` timed rounds (the machine is shared and
noisy; the best round is the least disturbed one).
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from tidewire.ws import _frames_py  # noqa: E402
from tidewire.ws.compression import codec_for  # noqa: E402
from tidewire.ws.deflate import DeflateOptions, DeflateParams  # noqa: E402
from tidewire.ws.engine import Side  # noqa: E402
from tidewire.ws.wsproto_engine import WsprotoEngine  # noqa: E402

try:
    from tidewire.ws import _frames_c
except ImportError:
    _frames_c = None  # type: ignore[assignment]

READ = 65536
MAX_SIZE = 4 * 1024 * 1024
PARAMS = DeflateParams()
OPTIONS = DeflateOptions()


def json_message(i: int) -> str:
    """A ~150-byte JSON chat message, 64 variants."""
    return json.dumps(
        {
            "type": "message",
            "room": f"room-{i % 8}",
            "user": f"user-{i % 64:02d}",
            "text": "hello everyone, the build is green again",
            "ts": 1_700_000_000 + i % 64,
        }
    )


def scenarios() -> dict[str, tuple[list[str | bytes], bool]]:
    """Name -> (messages, compressed)."""
    return {
        "32 B text": (["x" * 32] * 2000, False),
        "64 KiB binary": ([os.urandom(65536)] * 64, False),
        "1 MiB binary": ([os.urandom(1 << 20)] * 8, False),
        "150 B JSON deflate": ([json_message(i) for i in range(2000)], True),
    }


def masked_frame(b0: int, body: bytes, key: bytes) -> bytes:
    """One masked frame as a client sends it (RFC 6455 section 5.2, 5.3)."""
    n = len(body)
    if n < 126:
        head = struct.pack("!BB", b0, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", b0, 0x80 | 127, n)
    mask = int.from_bytes((key * (n // 4 + 1))[:n], "little")
    return head + key + (int.from_bytes(body, "little") ^ mask).to_bytes(n, "little")


def client_frames(messages: list[str | bytes], compressed: bool) -> list[bytes]:
    """The frames a client sends for ``messages`` (masked; compressed like a browser)."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -PARAMS.client_window_bits)
    frames = []
    for i, message in enumerate(messages):
        raw = message.encode() if isinstance(message, str) else message
        b0 = 0x81 if isinstance(message, str) else 0x82
        if compressed:
            raw = (compressor.compress(raw) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]
            b0 |= 0x40
        frames.append(masked_frame(b0, raw, i.to_bytes(4, "little")))
    return frames


def reads(frames: list[bytes]) -> list[bytes]:
    """The frames regrouped into socket-sized reads."""
    out, current = [], bytearray()
    for frame in frames:
        current += frame
        if len(current) >= READ:
            out.append(bytes(current))
            current = bytearray()
    if current:
        out.append(bytes(current))
    return out


def tidewire_parser(cls: Any, compressed: bool) -> Callable[[list[bytes]], int]:
    def parse(chunks: list[bytes]) -> int:
        codec = codec_for(Side.SERVER, PARAMS, OPTIONS, MAX_SIZE) if compressed else None
        engine = cls(Side.SERVER, codec, MAX_SIZE)
        count = 0
        pieces: list[Any] = []
        for chunk in chunks:
            engine.receive_data(chunk)
            while (event := engine.next_event()) is not None:
                if event[2]:
                    count += 1
                    pieces.clear()
                else:
                    pieces.append(event[1])
        return count

    return parse


def tidewire_builder(cls: Any, compressed: bool) -> Callable[[list[str | bytes]], int]:
    def build(messages: list[str | bytes]) -> int:
        codec = codec_for(Side.SERVER, PARAMS, OPTIONS, MAX_SIZE) if compressed else None
        encode = cls(Side.SERVER, codec, MAX_SIZE).encode_message
        for message in messages:
            encode(message)
        return len(messages)

    return build


def best_rate(run: Callable[[Any], int], arg: Any, repeat: int, min_time: float) -> float:
    """Messages per second of the best of ``repeat`` rounds of at least ``min_time`` each."""
    best = 0.0
    for _ in range(repeat):
        count, start = 0, time.perf_counter()
        while True:
            count += run(arg)
            elapsed = time.perf_counter() - start
            if elapsed >= min_time:
                break
        best = max(best, count / elapsed)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", help="write the results here")
    ns = parser.parse_args()
    repeat, min_time = (3, 0.2) if ns.quick else (ns.repeat, 0.5)
    engines: dict[str, Any] = {"py": _frames_py.Engine}
    if _frames_c is not None:
        engines["c"] = _frames_c.Engine
    else:
        print("tidewire.ws._frames_c is not built: only the pure engine is measured")
    results: dict[str, dict[str, float]] = {}
    all_engines: dict[str, Any] = {"wsproto": WsprotoEngine, **engines}
    names = list(all_engines)
    header = f"{'scenario':<20} {'op':<6}" + "".join(f"{n:>14}" for n in names)
    header += "".join(f"{n + '/wsproto':>14}" for n in engines)
    print(header)
    for label, (messages, compressed) in scenarios().items():
        chunks = reads(client_frames(messages, compressed))
        for op in ("parse", "build"):
            row: dict[str, float] = {}
            if op == "parse":
                arg: Any = chunks
                runners = {n: tidewire_parser(c, compressed) for n, c in all_engines.items()}
            else:
                arg = messages
                runners = {n: tidewire_builder(c, compressed) for n, c in all_engines.items()}
            for name, runner in runners.items():
                row[name] = best_rate(runner, arg, repeat, min_time)
            results[f"{label} {op}"] = row
            line = f"{label:<20} {op:<6}" + "".join(f"{row[n]:>14,.0f}" for n in names)
            line += "".join(f"{row[n] / row['wsproto']:>13.2f}x" for n in engines)
            print(line, flush=True)
    print("messages/s, best of", repeat, "rounds; server side (parse masked, build unmasked)")
    if ns.json:
        Path(ns.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
