"""The broadcast scenario: one publisher, 1,000 subscribers, a burst published in a tight loop.

Compared: tidewire's hub (``Hub.publish``), a send loop over aiohttp's
``WebSocketResponse`` and ``websockets.broadcast`` (see
``servers/broadcast_server.py``). Two bursts, each repeated ``--rounds`` times
(the median round is reported): 100 messages of 32 B, and 20 of 4 KiB.

Reported per burst and server:

* deliveries/s: subscribers x messages / (last delivery - start of the loop)
* server CPU per delivery (µs): the server's user+system CPU from just before the
  burst until the last subscriber got its last message, divided by the deliveries
* first: time from the start of the loop to the first message reaching any client
* last: time from the start of the loop to the last message reaching the last client
* memory: the server's RSS after the bursts and its peak (VmHWM)
* lost: deliveries that never arrived (within ``--timeout`` seconds)

Times are ``time.monotonic()`` in both processes (CLOCK_MONOTONIC, one clock for
the whole machine). The server runs on CPU 0 and this client on CPU 1 when the
machine has two; the client is uvloop on raw sockets and counts frames by walking
their headers (no unmasking, no copies of payloads).

Usage: ``python bench/broadcast.py [--servers tidewire,aiohttp,websockets]
[--subscribers 1000] [--rounds 5] [--quick]``; ``bench/run.py`` runs it too.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
SERVER = BENCH_DIR / "servers" / "broadcast_server.py"
HOST = "127.0.0.1"
IMPLS = ("tidewire", "aiohttp", "websockets")
BURSTS = ((100, 32), (20, 4096))  # (messages, bytes each)
LABELS = {"tidewire": "tidewire hub", "aiohttp": "aiohttp send loop", "websockets": "websockets"}

# ----------------------------------------------------------------- the client


class Subscriber(asyncio.Protocol):
    """One subscriber connection: handshake, then count data frames."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.transport: asyncio.Transport | None = None
        self.head = b""
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.tail = b""
        self.count = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        key = base64.b64encode(os.urandom(16)).decode()
        self.transport.write(
            f"GET /ws HTTP/1.1\r\nHost: {HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def data_received(self, data: bytes) -> None:
        if not self.opened.done():
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            data, self.head = self.head[end + 4 :], b""
            self.opened.set_result(None)
            if not data:
                return
        buffer = self.tail + data if self.tail else data
        offset, end, frames = 0, len(buffer), 0
        while end - offset >= 2:
            length = buffer[offset + 1] & 0x7F
            header = 2
            if length == 126:
                if end - offset < 4:
                    break
                length = int.from_bytes(buffer[offset + 2 : offset + 4], "big")
                header = 4
            elif length == 127:
                if end - offset < 10:
                    break
                length = int.from_bytes(buffer[offset + 2 : offset + 10], "big")
                header = 10
            if end - offset < header + length:
                break
            offset += header + length
            frames += 1
        self.tail = buffer[offset:]
        if frames:
            self.count += frames
            self.client.frames(self, frames)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError("closed during the handshake"))


@dataclass
class Client:
    """Counts one burst's frames on every subscriber."""

    expected: int = 0
    first: float | None = None
    complete: int = 0
    subscribers: list[Subscriber] = field(default_factory=list)
    done: asyncio.Future[float] | None = None

    def frames(self, subscriber: Subscriber, count: int) -> None:
        if self.first is None:
            self.first = time.monotonic()
        if subscriber.count >= self.expected and subscriber.count - count < self.expected:
            self.complete += 1
            if self.complete == len(self.subscribers) and self.done and not self.done.done():
                self.done.set_result(time.monotonic())

    def reset(self, expected: int) -> None:
        for subscriber in self.subscribers:
            subscriber.count = 0
        self.expected, self.first, self.complete = expected, None, 0
        self.done = asyncio.get_running_loop().create_future()


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def client_main(port: int, pid: int, subscribers: int, rounds: int, timeout: float) -> None:
    """Connect, warm up, run the bursts; print one ``RESULT {json}`` line per burst."""
    from websockets.asyncio.client import connect

    loop = asyncio.get_running_loop()
    client = Client()
    for start in range(0, subscribers, 100):
        batch = []
        for _ in range(min(100, subscribers - start)):
            _, protocol = await loop.create_connection(lambda: Subscriber(client), HOST, port)
            batch.append(protocol)
        await asyncio.gather(*(s.opened for s in batch))
        client.subscribers += batch
    async with connect(f"ws://{HOST}:{port}/control", compression=None, max_size=None) as control:

        async def burst(count: int, size: int) -> dict[str, Any]:
            client.reset(count)
            cpu_before = cpu_seconds(pid)
            await control.send(json.dumps({"count": count, "size": size}))
            timing = json.loads(await control.recv())
            assert client.done is not None
            try:
                last = await asyncio.wait_for(client.done, timeout)
            except asyncio.TimeoutError:
                last = None
            await asyncio.sleep(0.05)  # stragglers beyond the expected count, if any
            cpu = cpu_seconds(pid) - cpu_before
            received = sum(min(s.count, count) for s in client.subscribers)
            deliveries = count * len(client.subscribers)
            start = timing["start"]
            return {
                "messages": count,
                "size": size,
                "deliveries": deliveries,
                "lost": deliveries - received,
                "first_ms": (client.first - start) * 1000 if client.first else None,
                "last_ms": (last - start) * 1000 if last else None,
                "loop_ms": (timing["end"] - start) * 1000,
                "per_s": deliveries / (last - start) if last else None,
                "cpu_us": cpu / deliveries * 1e6,
            }

        for _ in range(50):  # warm-up: until a 1-message burst reaches every subscriber
            if (await burst(1, 32))["lost"] == 0:
                break
            await asyncio.sleep(0.2)
        else:
            raise SystemExit("subscribers never all received the warm-up message")
        for count, size in BURSTS:
            await burst(count, size)  # one unmeasured round per burst
            runs = [await burst(count, size) for _ in range(rounds)]
            runs.sort(key=lambda run: run["per_s"] or 0.0)
            median = runs[(len(runs) - 1) // 2]
            median["first_ms_median"] = statistics.median(
                r["first_ms"] for r in runs if r["first_ms"] is not None
            )
            print("RESULT " + json.dumps(median), flush=True)
    for subscriber in client.subscribers:
        if subscriber.transport is not None:
            subscriber.transport.close()


# ----------------------------------------------------------------- the orchestrator


def pinned(cpu: int) -> Any:
    if (os.cpu_count() or 1) < 2 or not hasattr(os, "sched_setaffinity"):
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def memory_mib(pid: int) -> tuple[float | None, float | None]:
    values: dict[str, float] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = int(rest.split()[0]) / 1024
    except OSError:
        return None, None
    return values.get("VmRSS"), values.get("VmHWM")


@dataclass
class BroadcastResult:
    """One server's figures for one burst (or why there are none)."""

    server: str
    messages: int
    size: int
    status: str = "ok"
    per_s: float | None = None
    cpu_us: float | None = None
    first_ms: float | None = None
    last_ms: float | None = None
    rss_mib: float | None = None
    hwm_mib: float | None = None
    lost: int = 0
    note: str = ""


def measure(
    impl: str, subscribers: int, rounds: int, uvloop: bool, max_delay: float | None = None
) -> list[BroadcastResult]:
    """Start ``impl``'s server, run the client against it, stop the server."""
    port = free_port()
    command = [sys.executable, str(SERVER), "--impl", impl, "--port", str(port)]
    if uvloop:
        command.append("--uvloop")
    if max_delay is not None and impl == "tidewire":
        command += ["--max-delay", str(max_delay)]
    log_dir = BENCH_DIR / "results" / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / f"broadcast-{impl}.log", "w") as log:  # the servers' stderr
        server = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            preexec_fn=pinned(0),
            cwd=BENCH_DIR,
        )
    failed = [BroadcastResult(impl, count, size, status="failed") for count, size in BURSTS]
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        if not line.startswith("READY"):
            for result in failed:
                result.note = f"server did not start: {line.strip()[:200]}"
            return failed
        client = subprocess.run(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--client",
                "--port",
                str(port),
                "--pid",
                str(server.pid),
                "--subscribers",
                str(subscribers),
                "--rounds",
                str(rounds),
            ],
            capture_output=True,
            text=True,
            preexec_fn=pinned(1),
            timeout=600,
        )
        rss, hwm = memory_mib(server.pid)
        results = []
        for out in client.stdout.splitlines():
            if out.startswith("RESULT "):
                raw = json.loads(out[7:])
                results.append(
                    BroadcastResult(
                        impl,
                        raw["messages"],
                        raw["size"],
                        per_s=raw["per_s"],
                        cpu_us=raw["cpu_us"],
                        first_ms=raw["first_ms_median"],
                        last_ms=raw["last_ms"],
                        rss_mib=rss,
                        hwm_mib=hwm,
                        lost=raw["lost"],
                    )
                )
        if not results:
            for result in failed:
                result.note = f"client failed: {client.stderr.strip()[-300:]}"
            return failed
        return results
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def print_table(results: list[BroadcastResult], subscribers: int) -> None:
    """The figures, one table per burst, with ratios against tidewire's hub."""
    for count, size in BURSTS:
        rows = [r for r in results if (r.messages, r.size) == (count, size)]
        base = next((r for r in rows if r.server == "tidewire" and r.per_s), None)
        print(f"\nBroadcast: {subscribers} subscribers, {count} messages x {size} B")
        print(
            f"  {'server':<18} {'deliv/s':>11} {'x hub':>6} {'cpu µs/dlv':>10} "
            f"{'first ms':>9} {'last ms':>9} {'RSS MiB':>8} {'peak':>7} {'lost':>6}"
        )
        for r in rows:
            if r.status != "ok":
                print(f"  {LABELS[r.server]:<18} FAIL {r.note}")
                continue
            ratio = f"{r.per_s / base.per_s:.2f}" if base and base.per_s and r.per_s else "-"
            print(
                f"  {LABELS[r.server]:<18} {fmt(r.per_s, 0):>11} {ratio:>6} {fmt(r.cpu_us, 2):>10} "
                f"{fmt(r.first_ms, 2):>9} {fmt(r.last_ms):>9} {fmt(r.rss_mib):>8} "
                f"{fmt(r.hwm_mib):>7} {r.lost:>6}"
            )
    print(
        "  (x hub: deliveries/s relative to tidewire's hub; first/last: from the start of the "
        "publishing loop; cpu: server CPU per delivery)"
    )


def run_all(
    servers: tuple[str, ...] = IMPLS,
    subscribers: int = 1000,
    rounds: int = 5,
    uvloop: bool = False,
    max_delay: float | None = None,
) -> list[BroadcastResult]:
    """Measure every server in ``servers``, in order; prints one line per server."""
    results: list[BroadcastResult] = []
    for impl in servers:
        print(f"  broadcast {impl}: {subscribers} subscribers ...", flush=True)
        results += measure(impl, subscribers, rounds, uvloop, max_delay)
    return results


def write_json(path: Path, results: list[BroadcastResult], subscribers: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"subscribers": subscribers, "results": [asdict(r) for r in results]}
    path.write_text(json.dumps(document, indent=2))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--servers", default=",".join(IMPLS))
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="2 rounds instead of 5")
    parser.add_argument("--uvloop", action="store_true", help="servers on uvloop")
    parser.add_argument("--max-delay", type=float, help="tidewire's Hub(max_delay=...) (seconds)")
    parser.add_argument("--timeout", type=float, default=20.0, help=argparse.SUPPRESS)
    parser.add_argument("--output", default=str(BENCH_DIR / "results" / "broadcast.json"))
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--pid", type=int, help=argparse.SUPPRESS)
    ns = parser.parse_args(argv)
    if ns.client:
        try:
            import uvloop

            runner: Any = uvloop.run
        except ImportError:
            runner = asyncio.run
        runner(client_main(ns.port, ns.pid, ns.subscribers, ns.rounds, ns.timeout))
        return 0
    servers = tuple(s.strip() for s in ns.servers.split(",") if s.strip())
    unknown = [s for s in servers if s not in IMPLS]
    if unknown:
        raise SystemExit(f"unknown server(s): {', '.join(unknown)}; known: {', '.join(IMPLS)}")
    rounds = 2 if ns.quick else max(1, ns.rounds)
    results = run_all(servers, ns.subscribers, rounds, ns.uvloop, ns.max_delay)
    print_table(results, ns.subscribers)
    write_json(Path(ns.output), results, ns.subscribers)
    return 0 if all(r.status == "ok" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
