"""WebSocket *client* echo speed: tidewire.connect next to aiohttp's and websockets' clients.

One echo server (``bench/servers/<server>_server.py``, websockets' by default) runs
in its own process; each client then runs in its own process against it, one
after the other, on one connection:

- ``rtt``: send one message, wait for its echo, repeat (latency-bound);
- ``window``: keep ``--window`` messages in flight (send a batch, read the batch).

Messages are 32 B text and 64 KiB binary, no compression. For each client the
result is messages echoed per second and the client process's CPU seconds per
1,000 messages (from /proc). Short runs (``--seconds``, 3 by default): figures
are indicative; compare clients within one run only.

    .venv/bin/python bench/client_echo.py [--server websockets|aiohttp|tidewire] [--seconds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
CLIENTS = ("tidewire", "aiohttp", "websockets")
PAYLOADS = {"32B-text": "0123456789abcdefghijklmnopqrstuv", "64KiB-binary": b"\xa5" * 65536}


# ------------------------------------------------------------------ clients (one per process)


class _Tidewire:
    async def open(self, url: str) -> None:
        import tidewire

        self.ws = await tidewire.connect(url, compress=False, max_msg_size=0)

    async def send(self, data: str | bytes) -> None:
        if isinstance(data, str):
            await self.ws.send_str(data)
        else:
            await self.ws.send_bytes(data)

    async def recv(self) -> Any:
        return (await self.ws.receive()).data

    async def close(self) -> None:
        await self.ws.close()


class _Aiohttp:
    async def open(self, url: str) -> None:
        import aiohttp

        self.session = aiohttp.ClientSession()
        self.ws = await self.session.ws_connect(url, compress=0, max_msg_size=0, autoping=True)

    async def send(self, data: str | bytes) -> None:
        if isinstance(data, str):
            await self.ws.send_str(data)
        else:
            await self.ws.send_bytes(data)

    async def recv(self) -> Any:
        return (await self.ws.receive()).data

    async def close(self) -> None:
        await self.ws.close()
        await self.session.close()


class _Websockets:
    async def open(self, url: str) -> None:
        from websockets.asyncio.client import connect

        self.ws = await connect(url, compression=None, max_size=None, ping_interval=None)

    async def send(self, data: str | bytes) -> None:
        await self.ws.send(data)

    async def recv(self) -> Any:
        return await self.ws.recv()

    async def close(self) -> None:
        await self.ws.close()


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


async def _measure(client: Any, data: str | bytes, window: int, seconds: float) -> dict[str, float]:
    for _ in range(50):  # warm-up
        await client.send(data)
        assert await client.recv() == data
    count = 0
    cpu = _cpu_seconds()
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        for _ in range(window):
            await client.send(data)
        for _ in range(window):
            echoed = await client.recv()
        count += window
    assert echoed == data
    elapsed = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu
    return {"msg_per_s": count / elapsed, "cpu_ms_per_1k": 1e6 * cpu / count}


async def _client_main(name: str, url: str, seconds: float, window: int) -> dict[str, Any]:
    client = {"tidewire": _Tidewire, "aiohttp": _Aiohttp, "websockets": _Websockets}[name]()
    await client.open(url)
    results: dict[str, Any] = {}
    try:
        for label, data in PAYLOADS.items():
            results[f"{label} rtt"] = await _measure(client, data, 1, seconds)
            results[f"{label} window={window}"] = await _measure(client, data, window, seconds)
    finally:
        await client.close()
    return results


# ------------------------------------------------------------------ runner


def _start_server(server: str, port: int) -> subprocess.Popen[str]:
    script = BENCH_DIR / "servers" / f"{server}_server.py"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src")}
    proc = subprocess.Popen(
        [sys.executable, str(script), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("READY "):
            return proc
    raise SystemExit(f"the {server} server did not start")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    """Run every client against one server and print a table (``--json`` for one JSON line)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument(
        "--server", default="websockets", choices=("websockets", "aiohttp", "tidewire")
    )
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--window", type=int, default=16)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--client", choices=CLIENTS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:  # a child process: one client, JSON out
        result = asyncio.run(_client_main(args.client, args.url, args.seconds, args.window))
        print(json.dumps(result))
        return
    port = _free_port()
    server = _start_server(args.server, port)
    table: dict[str, dict[str, Any]] = {}
    try:
        for name in CLIENTS:
            out = subprocess.run(
                [sys.executable, __file__, "--client", name, "--url", f"ws://127.0.0.1:{port}/ws",
                 "--seconds", str(args.seconds), "--window", str(args.window)],
                capture_output=True, text=True, check=True,
                env={**os.environ, "PYTHONPATH": str(REPO_ROOT / "src")},
            )  # fmt: skip
            table[name] = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        server.terminate()
        server.wait(timeout=15)
    if args.json:
        print(json.dumps({"server": args.server, "results": table}))
        return
    scenarios = list(table[CLIENTS[0]])
    print(f"server: {args.server}; {args.seconds:g} s per scenario; msg/s (client CPU ms / 1k msg)")
    print(f"{'scenario':<24}" + "".join(f"{name:>24}" for name in CLIENTS))
    for scenario in scenarios:
        cells = []
        for name in CLIENTS:
            r = table[name][scenario]
            cells.append(f"{r['msg_per_s']:>11,.0f} ({r['cpu_ms_per_1k']:6.1f} ms)")
        print(f"{scenario:<24}" + "".join(f"{c:>24}" for c in cells))


if __name__ == "__main__":
    main()
