"""Fallback HTTP/1.1 keep-alive load client on raw asyncio sockets (used when wrk is missing).

Each of ``--connections`` connections keeps ``--depth`` requests in flight (depth 1
is what wrk does; depth > 1 is HTTP pipelining, which inflates numbers and is NOT
comparable with wrk).  Responses are framed by Content-Length only; a response
without it is an error.  Latency is measured from the write of a request to the
parse of its response, FIFO per connection.

Output: one line ``HTTPLOAD {json}`` (with ``--json``) or a short human summary.
Only loopback targets are accepted.  Numbers from this client are labelled
"python httpload" by bench/run.py and should only be compared with each other.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import cast

from loadtools import new_loop, process_cpu_seconds, require_loopback

HEAD_END = b"\r\n\r\n"
MAX_LATENCY_SAMPLES = 2_000_000


class HttpLoadError(Exception):
    """The server answered something this client cannot frame."""


@dataclass(frozen=True)
class HttpConfig:
    """What to request, where, and for how long."""

    host: str = "127.0.0.1"
    port: int = 8080
    path: str = "/"
    post_bytes: int = 0  # > 0: POST a body of that many bytes
    connections: int = 50
    depth: int = 1
    duration: float = 5.0
    warmup: float = 1.0
    server_pid: int | None = None


@dataclass
class HttpResult:
    """What one run measured over its measured window."""

    requests: int = 0
    elapsed_s: float = 0.0
    requests_per_s: float = 0.0
    p50_ms: float | None = None
    p99_ms: float | None = None
    non_200: int = 0
    client_cpu_pct: float = 0.0
    server_cpu_pct: float | None = None
    errors: list[str] = field(default_factory=list)


def build_request(cfg: HttpConfig) -> bytes:
    """The raw request bytes sent again and again."""
    lines = [f"{'POST' if cfg.post_bytes else 'GET'} {cfg.path} HTTP/1.1"]
    lines.append(f"Host: {cfg.host}:{cfg.port}")
    if cfg.post_bytes:
        lines.append("Content-Type: application/octet-stream")
        lines.append(f"Content-Length: {cfg.post_bytes}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    return head + b"x" * cfg.post_bytes


def content_length(head: bytes) -> int:
    """Content-Length of a response head; raise if it has none."""
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    raise HttpLoadError("response without Content-Length (chunked is not supported)")


class HttpConnection(asyncio.Protocol):
    """One keep-alive connection keeping ``depth`` requests in flight."""

    def __init__(self, request: bytes, depth: int, stats: Stats) -> None:
        self.request = request
        self.depth = depth
        self.stats = stats
        self.transport: asyncio.Transport | None = None
        self.sent_at: deque[float] = deque()
        self.buf = b""
        self.need_body = -1  # -1: reading a head; else body bytes still expected
        self.sending = False
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport, disable Nagle."""
        self.transport = cast(asyncio.Transport, transport)
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def start(self) -> None:
        """Put ``depth`` requests in flight."""
        self.sending = True
        self._send(self.depth)

    def _send(self, count: int) -> None:
        """Write ``count`` requests and remember when."""
        if self.transport is None:
            return
        now = time.perf_counter()
        self.sent_at.extend([now] * count)
        self.transport.write(self.request * count)

    def data_received(self, data: bytes) -> None:
        """Frame responses; each complete one triggers the next request."""
        buf = self.buf + data if self.buf else data
        done = 0
        try:
            while True:
                if self.need_body < 0:
                    end = buf.find(HEAD_END)
                    if end < 0:
                        break
                    head = buf[:end]
                    if not head.startswith(b"HTTP/1.1 200"):
                        self.stats.non_200 += 1
                    self.need_body = content_length(head)
                    buf = buf[end + 4 :]
                if len(buf) < self.need_body:
                    break
                buf = buf[self.need_body :]
                self.need_body = -1
                done += 1
        except HttpLoadError as exc:
            self.stats.errors.append(str(exc))
            self.sending = False
            if self.transport is not None:
                self.transport.abort()
            return
        self.buf = buf
        if done:
            self._completed(done)

    def _completed(self, count: int) -> None:
        """Record latencies and refill the pipeline."""
        now = time.perf_counter()
        self.stats.record(now, [self.sent_at.popleft() for _ in range(count)])
        if self.sending:
            self._send(count)

    def connection_lost(self, exc: Exception | None) -> None:
        """Note a connection the server dropped while we were still sending."""
        self.transport = None
        if self.sending:
            self.stats.errors.append(f"connection lost: {exc!r}")
        if not self.lost.done():
            self.lost.set_result(None)


class Stats:
    """Counters shared by all connections; latencies kept only while ``measuring``."""

    def __init__(self) -> None:
        self.completed = 0
        self.non_200 = 0
        self.measuring = False
        self.latencies: list[float] = []
        self.errors: list[str] = []

    def record(self, now: float, sent: list[float]) -> None:
        """Count finished requests, sample their latency while measuring."""
        self.completed += len(sent)
        if self.measuring and len(self.latencies) < MAX_LATENCY_SAMPLES:
            self.latencies.extend(now - t for t in sent)


def percentile_ms(samples: list[float], pct: float) -> float | None:
    """The ``pct`` percentile of ``samples`` (seconds) in milliseconds."""
    if not samples:
        return None
    ordered = sorted(samples)
    index = min(len(ordered) - 1, int(len(ordered) * pct / 100))
    return round(ordered[index] * 1000, 3)


async def run_load(cfg: HttpConfig) -> HttpResult:
    """Open the connections, warm up, measure, stop."""
    require_loopback(cfg.host, "httpload")
    loop = asyncio.get_running_loop()
    stats = Stats()
    request = build_request(cfg)
    conns: list[HttpConnection] = []
    for _ in range(cfg.connections):
        _, proto = await loop.create_connection(
            lambda: HttpConnection(request, cfg.depth, stats), cfg.host, cfg.port
        )
        conns.append(proto)
    for conn in conns:
        conn.start()
    await asyncio.sleep(cfg.warmup)
    cpu0, done0, t0 = time.process_time(), stats.completed, time.perf_counter()
    server0 = process_cpu_seconds(cfg.server_pid) if cfg.server_pid else None
    stats.measuring = True
    await asyncio.sleep(cfg.duration)
    stats.measuring = False
    cpu1, done1, t1 = time.process_time(), stats.completed, time.perf_counter()
    server1 = process_cpu_seconds(cfg.server_pid) if cfg.server_pid else None
    for conn in conns:
        conn.sending = False
        if conn.transport is not None:
            conn.transport.close()
    await asyncio.wait([c.lost for c in conns], timeout=2.0)
    elapsed = t1 - t0
    result = HttpResult(
        requests=done1 - done0,
        elapsed_s=round(elapsed, 4),
        requests_per_s=round((done1 - done0) / elapsed, 1),
        p50_ms=percentile_ms(stats.latencies, 50),
        p99_ms=percentile_ms(stats.latencies, 99),
        non_200=stats.non_200,
        client_cpu_pct=round(100 * (cpu1 - cpu0) / elapsed, 1),
        errors=stats.errors[:5],
    )
    if server0 is not None and server1 is not None:
        result.server_cpu_pct = round(100 * (server1 - server0) / elapsed, 1)
    return result


def parse_args(argv: list[str] | None = None) -> tuple[HttpConfig, argparse.Namespace]:
    """Command line -> HttpConfig (+ namespace for output options)."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--path", default="/")
    p.add_argument("--post-bytes", type=int, default=0, help="POST a body of N bytes")
    p.add_argument("--connections", type=int, default=50)
    p.add_argument("--depth", type=int, default=1, help="requests in flight per connection")
    p.add_argument("--duration", type=float, default=5.0, help="measured seconds (max 120)")
    p.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds (max 30)")
    p.add_argument("--server-pid", type=int, default=None)
    p.add_argument("--client-loop", choices=["uvloop", "asyncio"], default="uvloop")
    p.add_argument("--json", action="store_true", help="print one 'HTTPLOAD {json}' line")
    ns = p.parse_args(argv)
    cfg = HttpConfig(
        host=ns.host,
        port=ns.port,
        path=ns.path,
        post_bytes=max(0, ns.post_bytes),
        connections=max(1, min(ns.connections, 1024)),
        depth=max(1, min(ns.depth, 256)),
        duration=max(0.1, min(ns.duration, 120.0)),
        warmup=max(0.0, min(ns.warmup, 30.0)),
        server_pid=ns.server_pid,
    )
    return cfg, ns


def main(argv: list[str] | None = None) -> int:
    """Entry point, bounded by a hard timeout."""
    cfg, ns = parse_args(argv)
    loop = new_loop(ns.client_loop)
    try:
        limit = cfg.warmup + cfg.duration + 15
        result = loop.run_until_complete(asyncio.wait_for(run_load(cfg), limit))
    except (OSError, asyncio.TimeoutError) as exc:
        result = HttpResult(errors=[f"{type(exc).__name__}: {exc}"])
    finally:
        loop.close()
    if ns.json:
        print("HTTPLOAD " + json.dumps(asdict(result)), flush=True)
    else:
        print(
            f"{result.requests_per_s:,.0f} req/s  p50 {result.p50_ms} ms  p99 {result.p99_ms} ms  "
            f"client cpu {result.client_cpu_pct}%  server cpu {result.server_cpu_pct}%  "
            f"non-200 {result.non_200}  errors {result.errors or 'none'}"
        )
    return 0 if result.requests and not result.errors else 1


if __name__ == "__main__":
    sys.exit(main())
