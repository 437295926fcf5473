"""Memory per idle WebSocket: open many connections, read the server's RSS from /proc.

A benchmark tool, not a test. It opens ``--warm`` connections first (so that the
server has imported and allocated whatever its first WebSocket needs), reads the
server's VmRSS, opens ``--connections`` more, lets them sit idle for ``--idle``
seconds, reads VmRSS again and reports the growth per connection. Before it
closes them, it checks that a sample of the idle connections still echoes.

    .venv/bin/python bench/idle.py --port 8080 --server-pid 1234 --connections 1000

With ``--json`` it prints one ``IDLE {json}`` line (bench/run.py reads it).
Only 127.0.0.1 is ever targeted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import wsload
from loadtools import require_loopback

Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def rss_kib(pid: int) -> int:
    """VmRSS of ``pid`` in KiB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


async def open_ws(cfg: wsload.LoadConfig) -> Conn:
    """One upgraded WebSocket connection (no extension offered)."""
    reader, writer = await asyncio.open_connection(cfg.host, cfg.port)
    key = wsload.new_key()
    writer.write(wsload.upgrade_request(cfg, key))
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    wsload.parse_upgrade_response(head[:-4], key, False)
    return reader, writer


async def open_many(cfg: wsload.LoadConfig, count: int, batch: int = 50) -> list[Conn]:
    """``count`` connections, ``batch`` handshakes at a time."""
    conns: list[Conn] = []
    while len(conns) < count:
        todo = min(batch, count - len(conns))
        conns.extend(await asyncio.gather(*(open_ws(cfg) for _ in range(todo))))
    return conns


async def echoes(conn: Conn, payload: bytes) -> bool:
    """Send one masked text frame; True if the same payload comes back."""
    reader, writer = conn
    writer.write(wsload.client_frame(0x1, payload))
    head = await asyncio.wait_for(reader.readexactly(2), 5)
    length = head[1] & 0x7F
    if length == 126:
        length = int.from_bytes(await reader.readexactly(2), "big")
    body = await asyncio.wait_for(reader.readexactly(length), 5)
    return head[0] == 0x81 and body == payload


async def measure(args: argparse.Namespace) -> dict[str, object]:
    """Warm, baseline, open, idle, measure, verify, close."""
    require_loopback(args.host, "idle")
    cfg = wsload.LoadConfig(host=args.host, port=args.port, path=args.path)
    warm = await open_many(cfg, args.warm)
    for conn in warm:
        if not await echoes(conn, b"warm"):
            raise RuntimeError("warm-up connection did not echo")
    await asyncio.sleep(0.5)
    before = rss_kib(args.server_pid)
    started = time.monotonic()
    conns = await open_many(cfg, args.connections)
    opened_s = time.monotonic() - started
    await asyncio.sleep(args.idle)
    after = rss_kib(args.server_pid)
    sample = random.Random(7).sample(conns, min(10, len(conns)))
    alive = sum([await echoes(conn, b"still here") for conn in sample])
    for _, writer in [*warm, *conns]:
        writer.transport.abort()
    return {
        "connections": args.connections,
        "rss_before_mib": round(before / 1024, 1),
        "rss_after_mib": round(after / 1024, 1),
        "kib_per_conn": round((after - before) / args.connections, 2),
        "open_s": round(opened_s, 2),
        "sample_alive": f"{alive}/{len(sample)}",
        "errors": [] if alive == len(sample) else [f"only {alive}/{len(sample)} echoed"],
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--path", default="/ws")
    p.add_argument("--server-pid", type=int, required=True)
    p.add_argument("--connections", type=int, default=1000)
    p.add_argument("--warm", type=int, default=10)
    p.add_argument("--idle", type=float, default=1.0, help="seconds idle before the reading")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    result = asyncio.run(measure(args))
    if args.json:
        print(f"IDLE {json.dumps(result, sort_keys=True)}", flush=True)
    else:
        print(
            f"{result['kib_per_conn']} KiB per idle connection "
            f"(RSS {result['rss_before_mib']} -> {result['rss_after_mib']} MiB, "
            f"{result['connections']} connections, alive {result['sample_alive']})"
        )
    return 0 if not result["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
