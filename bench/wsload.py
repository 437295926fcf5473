"""Pipelining WebSocket echo load client on raw asyncio sockets.

Each connection performs the RFC 6455 upgrade, then keeps ``window`` messages in
flight: it writes ``window`` pre-built, pre-masked frames at once and, every time
echoes come back, writes as many new frames as it has received.  Replies are
counted by walking frame headers only; payloads are skipped, never copied or
unmasked, so the client spends a few hundred nanoseconds per message.  Counting
starts after ``--warmup`` seconds and lasts ``--duration`` seconds.

The same frame bytes are reused for every message (one masking key per distinct
payload).  Servers must not, and do not, care; a conforming client would pick a new
key per frame, which costs CPU the benchmark should not spend on the client side.

With ``--deflate`` the client offers permessage-deflate, sends every message
compressed on its own (no context takeover on the client side, which is always
allowed to the compressor) and skips the compressed replies without inflating them.

``--check`` sends one message of the chosen kind, reads the echo with a plain
blocking socket, inflates it if needed, compares it and exits 0 or 1.

Output: one line ``WSLOAD {json}`` (with ``--json``) or a short human summary.
Only loopback targets are accepted.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import socket
import sys
import time
import zlib
from dataclasses import asdict, dataclass, field
from itertools import accumulate
from typing import Any, cast

from loadtools import new_loop, process_cpu_seconds, require_loopback

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 1, 2, 8, 9, 10
HEAD_END = b"\r\n\r\n"
DEFLATE_TAIL = b"\x00\x00\xff\xff"
TEXT_32 = b"0123456789abcdefghijklmnopqrstuv"
JSON_VARIANTS = 64


class LoadError(Exception):
    """The server misbehaved (handshake, framing or echo mismatch)."""


@dataclass(frozen=True)
class LoadConfig:
    """What to send, where, and for how long."""

    host: str = "127.0.0.1"
    port: int = 8080
    path: str = "/ws"
    kind: str = "text"  # text | binary | json
    size: int = 32  # payload bytes for text/binary; ignored for json
    connections: int = 4
    window: int = 32  # messages in flight per connection
    deflate: bool = False
    duration: float = 5.0
    warmup: float = 1.0
    server_pid: int | None = None


@dataclass
class LoadResult:
    """What one load run measured (all rates over the measured window only)."""

    messages: int = 0
    elapsed_s: float = 0.0
    messages_per_s: float = 0.0
    payload_bytes_per_msg: float = 0.0
    mb_per_s: float = 0.0  # echoed payload bytes received per second, 10**6 bytes
    client_cpu_pct: float = 0.0
    server_cpu_pct: float | None = None
    connections: int = 0
    window: int = 0
    extensions: str = ""
    client_loop: str = ""
    errors: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- frames


def mask(payload: bytes, key: bytes) -> bytes:
    """XOR ``payload`` with the 4-byte masking ``key`` (one big-int operation)."""
    n = len(payload)
    if n == 0:
        return b""
    keystream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(keystream, "big")).to_bytes(n, "big")


def frame_header(first_byte: int, length: int, masked: bool) -> bytes:
    """Header for one frame with the given first byte and payload length."""
    mask_bit = 0x80 if masked else 0
    if length < 126:
        return bytes([first_byte, mask_bit | length])
    if length < 65536:
        return bytes([first_byte, mask_bit | 126]) + length.to_bytes(2, "big")
    return bytes([first_byte, mask_bit | 127]) + length.to_bytes(8, "big")


def client_frame(opcode: int, payload: bytes, rsv1: bool = False) -> bytes:
    """One final, masked client frame (random key)."""
    key = os.urandom(4)
    first = 0x80 | (0x40 if rsv1 else 0) | opcode
    return frame_header(first, len(payload), masked=True) + key + mask(payload, key)


def deflate_alone(payload: bytes, wbits: int) -> bytes:
    """Compress one message on its own, as permessage-deflate wants it on the wire."""
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -max(9, wbits))
    data = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
    if not data.endswith(DEFLATE_TAIL):
        raise LoadError("zlib sync flush did not end in 00 00 ff ff")
    return data[: -len(DEFLATE_TAIL)]


def json_payloads(count: int = JSON_VARIANTS) -> list[bytes]:
    """Small chat-like JSON documents (~150 bytes), all different."""
    docs = []
    for i in range(count):
        doc = {
            "type": "chat.message",
            "room": "lobby",
            "user": f"user-{i % 7}",
            "seq": 100000 + i,
            "text": f"hello from the benchmark client, message number {i}",
            "tags": ["bench", "realtime"],
        }
        docs.append(json.dumps(doc, separators=(",", ":")).encode())
    return docs


def make_payloads(kind: str, size: int) -> tuple[int, list[bytes]]:
    """(opcode, payloads) for a message kind: text, binary or json."""
    if kind == "text":
        return OP_TEXT, [(TEXT_32 * (size // len(TEXT_32) + 1))[:size]]
    if kind == "binary":
        return OP_BINARY, [os.urandom(size)]
    if kind == "json":
        return OP_TEXT, json_payloads()
    raise ValueError(f"unknown message kind {kind!r}")


def build_frames(kind: str, size: int, deflate_wbits: int | None) -> tuple[list[bytes], int | None]:
    """Pre-masked client frames and the expected echo payload length (None: varies)."""
    opcode, payloads = make_payloads(kind, size)
    if deflate_wbits is not None:
        frames = [client_frame(opcode, deflate_alone(p, deflate_wbits), True) for p in payloads]
        return frames, None
    frames = [client_frame(opcode, p) for p in payloads]
    lengths = {len(p) for p in payloads}
    return frames, (lengths.pop() if len(lengths) == 1 else None)


class FrameRing:
    """Hands out ``count`` consecutive frames from a cycle without re-building them."""

    def __init__(self, frames: list[bytes], min_frames: int) -> None:
        reps = -(-max(min_frames, len(frames)) // len(frames))
        cycle = frames * reps
        self.length = len(cycle)
        doubled = cycle * 2
        self.offsets = list(accumulate([len(f) for f in doubled], initial=0))
        self.view = memoryview(b"".join(doubled))
        self.index = 0

    def take(self, count: int) -> bytes | memoryview:
        """The next ``count`` frames as one contiguous buffer."""
        parts: list[bytes | memoryview] = []
        while count > 0:
            step = min(count, self.length)
            start = self.index
            parts.append(self.view[self.offsets[start] : self.offsets[start + step]])
            self.index = (start + step) % self.length
            count -= step
        return parts[0] if len(parts) == 1 else b"".join(parts)


# ------------------------------------------------------------------------ handshake


def new_key() -> bytes:
    """A fresh Sec-WebSocket-Key."""
    return base64.b64encode(os.urandom(16))


def expected_accept(key: bytes) -> bytes:
    """The Sec-WebSocket-Accept a server must answer for ``key``."""
    return base64.b64encode(hashlib.sha1(key + WS_GUID).digest())


def upgrade_request(cfg: LoadConfig, key: bytes) -> bytes:
    """The HTTP/1.1 upgrade request, offering permessage-deflate if asked to."""
    lines = [
        f"GET {cfg.path} HTTP/1.1",
        f"Host: {cfg.host}:{cfg.port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key.decode()}",
        "Sec-WebSocket-Version: 13",
    ]
    if cfg.deflate:
        lines.append("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def parse_upgrade_response(head: bytes, key: bytes, want_deflate: bool) -> str:
    """Validate a 101 response head; return the negotiated extensions header."""
    lines = head.decode("latin-1").split("\r\n")
    if not lines[0].startswith("HTTP/1.1 101"):
        raise LoadError(f"upgrade refused: {lines[0]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        headers[name] = f"{headers[name]}, {value.strip()}" if name in headers else value.strip()
    if headers.get("sec-websocket-accept", "").encode() != expected_accept(key):
        raise LoadError("bad Sec-WebSocket-Accept")
    extensions = headers.get("sec-websocket-extensions", "")
    negotiated = "permessage-deflate" in extensions
    if want_deflate and not negotiated:
        raise LoadError("server did not accept permessage-deflate")
    if negotiated and not want_deflate:
        raise LoadError(f"server negotiated an extension nobody offered: {extensions}")
    return extensions


def client_window_bits(extensions: str) -> int:
    """client_max_window_bits the server allowed the client (15 when not limited)."""
    for param in extensions.replace(",", ";").split(";"):
        name, _, value = param.strip().partition("=")
        if name == "client_max_window_bits" and value.strip().strip('"').isdigit():
            return int(value.strip().strip('"'))
    return 15


# ----------------------------------------------------------------------- connection


class EchoConnection(asyncio.Protocol):
    """One pipelining WebSocket connection: handshake, then window-bounded echo traffic."""

    def __init__(self, cfg: LoadConfig, frames_for: dict[str, Any]) -> None:
        self.cfg = cfg
        self.frames_for = frames_for  # shared cache: extensions string -> frames
        self.key = new_key()
        self.transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[str] = loop.create_future()
        self.lost: asyncio.Future[None] = loop.create_future()
        self.head = b""
        self.is_open = False
        self.ring: FrameRing | None = None
        self.expect_len: int | None = None
        self.sending = False
        self.sent = 0
        self.received = 0
        self.bad_length = 0
        self.error: str | None = None
        self._partial = b""
        self._skip = 0

    # asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Send the upgrade request."""
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.transport.write(upgrade_request(self.cfg, self.key))

    def data_received(self, data: bytes) -> None:
        """Handshake bytes first, frames afterwards."""
        if self.is_open:
            self._frames(data)
        else:
            self._handshake(data)

    def connection_lost(self, exc: Exception | None) -> None:
        """Record an unexpected close and wake up waiters."""
        self.transport = None
        if self.sending and self.error is None:
            self.error = f"connection lost while sending: {exc!r}"
        if not self.opened.done():
            self.opened.set_exception(LoadError(f"connection lost during handshake: {exc!r}"))
        if not self.lost.done():
            self.lost.set_result(None)

    # handshake
    def _handshake(self, data: bytes) -> None:
        """Collect the 101 response head, validate it, pick the frames to send."""
        if self.opened.done():
            return  # handshake already failed; ignore whatever follows
        self.head += data
        end = self.head.find(HEAD_END)
        if end < 0:
            if len(self.head) > 65536:
                self.opened.set_exception(LoadError("upgrade response head too large"))
            return
        head, rest = self.head[:end], self.head[end + 4 :]
        self.head = b""
        try:
            extensions = parse_upgrade_response(head, self.key, self.cfg.deflate)
        except LoadError as exc:
            self.opened.set_exception(exc)
            return
        if extensions not in self.frames_for:
            wbits = client_window_bits(extensions) if self.cfg.deflate else None
            self.frames_for[extensions] = build_frames(self.cfg.kind, self.cfg.size, wbits)
        frames, self.expect_len = self.frames_for[extensions]
        self.ring = FrameRing(frames, self.cfg.window)
        self.is_open = True
        self.opened.set_result(extensions)
        if rest:
            self._frames(rest)

    # traffic
    def start(self) -> None:
        """Put the first ``window`` messages in flight."""
        assert self.ring is not None and self.transport is not None
        self.sending = True
        self.sent += self.cfg.window
        self.transport.write(self.ring.take(self.cfg.window))

    def stop_sending(self) -> None:
        """Stop refilling the window; in-flight echoes still arrive and are counted."""
        self.sending = False

    @property
    def outstanding(self) -> int:
        """Messages sent whose echo has not arrived yet."""
        return self.sent - self.received

    def close(self) -> None:
        """Send a Close frame (1000) and let the server finish the close handshake."""
        if self.transport is not None and self.is_open:
            self.transport.write(client_frame(OP_CLOSE, (1000).to_bytes(2, "big")))

    def _on_messages(self, count: int) -> None:
        """Count echoes and refill the window by the same number."""
        self.received += count
        if self.sending and self.transport is not None and self.ring is not None:
            self.sent += count
            self.transport.write(self.ring.take(count))

    def _control(self, opcode: int, payload: bytes) -> None:
        """Answer pings, note a server close."""
        if opcode == OP_PING and self.transport is not None:
            self.transport.write(client_frame(OP_PONG, payload))
        elif opcode == OP_CLOSE:
            if self.sending and self.error is None:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
                self.error = f"server closed the connection (code {code})"
            self.sending = False

    def _frames(self, data: bytes) -> None:
        """Walk server frame headers in ``data``; skip payloads; count final data frames."""
        n = len(data)
        pos = 0
        if self._skip:
            if self._skip >= n:
                self._skip -= n
                return
            pos, self._skip = self._skip, 0
        if self._partial:
            data = self._partial + data[pos:]
            pos, n, self._partial = 0, len(data), b""
        done = 0
        expect = self.expect_len
        while pos < n:
            if n - pos < 2:
                self._partial = data[pos:]
                break
            first, length = data[pos], data[pos + 1]
            if length < 126:
                start = pos + 2
            elif length == 126:
                if n - pos < 4:
                    self._partial = data[pos:]
                    break
                length, start = int.from_bytes(data[pos + 2 : pos + 4], "big"), pos + 4
            elif length == 127:
                if n - pos < 10:
                    self._partial = data[pos:]
                    break
                length, start = int.from_bytes(data[pos + 2 : pos + 10], "big"), pos + 10
            else:
                self.error = "server sent a masked frame"
                self.sending = False
                return
            end = start + length
            opcode = first & 0x0F
            if opcode >= OP_CLOSE:
                if end > n:
                    self._partial = data[pos:]
                    break
                self._control(opcode, data[start:end])
            elif first & 0x80:
                done += 1
                if expect is not None and length != expect:
                    self.bad_length += 1
            if end > n:
                self._skip = end - n
                break
            pos = end
        if done:
            self._on_messages(done)


# ------------------------------------------------------------------------- the run


@dataclass
class Snapshot:
    """Counters at one instant."""

    wall: float
    messages: int
    client_cpu: float
    server_cpu: float | None


def snapshot(conns: list[EchoConnection], server_pid: int | None) -> Snapshot:
    """Read all counters now."""
    server_cpu = process_cpu_seconds(server_pid) if server_pid else None
    return Snapshot(
        time.perf_counter(), sum(c.received for c in conns), time.process_time(), server_cpu
    )


async def open_connections(cfg: LoadConfig) -> tuple[list[EchoConnection], str]:
    """Connect and upgrade ``cfg.connections`` sockets; return them and the extensions."""
    loop = asyncio.get_running_loop()
    cache: dict[str, Any] = {}
    conns: list[EchoConnection] = []
    for _ in range(cfg.connections):
        _, proto = await loop.create_connection(
            lambda: EchoConnection(cfg, cache), cfg.host, cfg.port
        )
        conns.append(proto)
    extensions = await asyncio.wait_for(asyncio.gather(*(c.opened for c in conns)), 10)
    return conns, extensions[0]


async def drain_and_close(conns: list[EchoConnection], grace: float = 3.0) -> None:
    """Wait (bounded) for in-flight echoes, then close every connection."""
    for conn in conns:
        conn.stop_sending()
    deadline = time.monotonic() + grace
    while any(c.outstanding > 0 and c.transport for c in conns) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    for conn in conns:
        conn.close()
    lost = [c.lost for c in conns]
    await asyncio.wait(lost, timeout=1.0)
    for conn in conns:
        if conn.transport is not None:
            conn.transport.abort()


async def run_load(cfg: LoadConfig) -> LoadResult:
    """Run warm-up then the measured window; return the measured rates."""
    require_loopback(cfg.host, "wsload")
    result = LoadResult(connections=cfg.connections, window=cfg.window)
    loop = asyncio.get_running_loop()
    result.client_loop = f"{type(loop).__module__}.{type(loop).__qualname__}"
    conns, result.extensions = await open_connections(cfg)
    try:
        for conn in conns:
            conn.start()
        await asyncio.sleep(cfg.warmup)
        first = snapshot(conns, cfg.server_pid)
        await asyncio.sleep(cfg.duration)
        last = snapshot(conns, cfg.server_pid)
    finally:
        await drain_and_close(conns)
    fill_rates(result, cfg, first, last)
    result.errors = [c.error for c in conns if c.error]
    bad = sum(c.bad_length for c in conns)
    if bad:
        result.errors.append(f"{bad} echoes had the wrong payload length")
    return result


def fill_rates(result: LoadResult, cfg: LoadConfig, first: Snapshot, last: Snapshot) -> None:
    """Turn two snapshots into rates."""
    elapsed = last.wall - first.wall
    result.messages = last.messages - first.messages
    result.elapsed_s = round(elapsed, 4)
    result.messages_per_s = round(result.messages / elapsed, 1)
    size = cfg.size if cfg.kind != "json" else sum(map(len, json_payloads())) / JSON_VARIANTS
    result.payload_bytes_per_msg = size
    result.mb_per_s = round(result.messages * size / elapsed / 1e6, 3)
    result.client_cpu_pct = round(100 * (last.client_cpu - first.client_cpu) / elapsed, 1)
    if first.server_cpu is not None and last.server_cpu is not None:
        result.server_cpu_pct = round(100 * (last.server_cpu - first.server_cpu) / elapsed, 1)


# --------------------------------------------------------------------------- check


def recv_exact(sock: socket.socket, count: int) -> bytes:
    """Read exactly ``count`` bytes or raise."""
    chunks = []
    while count:
        chunk = sock.recv(min(count, 1 << 20))
        if not chunk:
            raise LoadError("connection closed by the server")
        chunks.append(chunk)
        count -= len(chunk)
    return b"".join(chunks)


def read_frame(sock: socket.socket) -> tuple[int, bytes]:
    """Read one whole server frame: (first byte, payload)."""
    first, length = recv_exact(sock, 2)
    if length & 0x80:
        raise LoadError("server sent a masked frame")
    if length == 126:
        length = int.from_bytes(recv_exact(sock, 2), "big")
    elif length == 127:
        length = int.from_bytes(recv_exact(sock, 8), "big")
    return first, recv_exact(sock, length)


def check_echo(cfg: LoadConfig, rounds: int = 3) -> str:
    """Echo ``rounds`` real messages and compare them; return the extensions header."""
    require_loopback(cfg.host, "wsload")
    opcode, payloads = make_payloads(cfg.kind, cfg.size)
    key = new_key()
    with socket.create_connection((cfg.host, cfg.port), timeout=5) as sock:
        sock.sendall(upgrade_request(cfg, key))
        head = b""
        while HEAD_END not in head:
            chunk = sock.recv(4096)
            if not chunk:
                raise LoadError("connection closed during the upgrade")
            head += chunk
        head, _, rest = head.partition(HEAD_END)
        if rest:
            raise LoadError("unexpected bytes right after the 101 response")
        extensions = parse_upgrade_response(head, key, cfg.deflate)
        inflater = zlib.decompressobj(-15)
        for i in range(rounds):
            payload = payloads[i % len(payloads)]
            wire = payload
            if cfg.deflate:
                wire = deflate_alone(payload, client_window_bits(extensions))
            sock.sendall(client_frame(opcode, wire, rsv1=cfg.deflate))
            first, echoed = read_frame(sock)
            if first & 0x40:
                echoed = inflater.decompress(echoed + DEFLATE_TAIL)
            if first & 0x0F != opcode or not first & 0x80 or echoed != payload:
                raise LoadError(f"echo mismatch (first byte {first:#x}, {len(echoed)} bytes)")
        sock.sendall(client_frame(OP_CLOSE, (1000).to_bytes(2, "big")))
    return extensions


# ----------------------------------------------------------------------------- CLI


def parse_args(argv: list[str] | None = None) -> tuple[LoadConfig, argparse.Namespace]:
    """Command line -> LoadConfig (+ the raw namespace for output options)."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--path", default="/ws")
    p.add_argument("--kind", choices=["text", "binary", "json"], default="text")
    p.add_argument("--size", type=int, default=32, help="payload bytes (text/binary)")
    p.add_argument("--connections", type=int, default=4)
    p.add_argument("--window", type=int, default=32, help="messages in flight per connection")
    p.add_argument("--deflate", action="store_true", help="offer/use permessage-deflate")
    p.add_argument("--duration", type=float, default=5.0, help="measured seconds (max 120)")
    p.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds first (max 30)")
    p.add_argument("--server-pid", type=int, default=None, help="sample this pid's CPU time")
    p.add_argument("--client-loop", choices=["uvloop", "asyncio"], default="uvloop")
    p.add_argument("--check", action="store_true", help="verify a few echoes and exit")
    p.add_argument("--json", action="store_true", help="print one 'WSLOAD {json}' line")
    ns = p.parse_args(argv)
    cfg = LoadConfig(
        host=ns.host,
        port=ns.port,
        path=ns.path,
        kind=ns.kind,
        size=ns.size,
        connections=max(1, min(ns.connections, 256)),
        window=max(1, min(ns.window, 4096)),
        deflate=ns.deflate,
        duration=max(0.1, min(ns.duration, 120.0)),
        warmup=max(0.0, min(ns.warmup, 30.0)),
        server_pid=ns.server_pid,
    )
    return cfg, ns


def main(argv: list[str] | None = None) -> int:
    """Entry point: --check or a load run, bounded by a hard timeout."""
    cfg, ns = parse_args(argv)
    if ns.check:
        try:
            extensions = check_echo(cfg)
        except (LoadError, OSError) as exc:
            print(f"wsload check failed: {exc}", file=sys.stderr)
            return 1
        print(f"wsload check ok ({cfg.kind}, extensions: {extensions or 'none'})")
        return 0
    loop = new_loop(ns.client_loop)
    hard_limit = cfg.warmup + cfg.duration + 20
    try:
        result = loop.run_until_complete(asyncio.wait_for(run_load(cfg), hard_limit))
    except (LoadError, OSError, asyncio.TimeoutError) as exc:
        result = LoadResult(errors=[f"{type(exc).__name__}: {exc}"])
    finally:
        loop.close()
    if ns.json:
        print("WSLOAD " + json.dumps(asdict(result)), flush=True)
    else:
        print(
            f"{result.messages_per_s:,.0f} msg/s  {result.mb_per_s:,.2f} MB/s  "
            f"client cpu {result.client_cpu_pct}%  server cpu {result.server_cpu_pct}%  "
            f"errors {result.errors or 'none'}"
        )
    return 0 if result.messages and not result.errors else 1


if __name__ == "__main__":
    sys.exit(main())
