"""One subscriber never reads while three others receive 10,000 messages.

The stuck subscriber is a raw TCP socket (SO_RCVBUF 4 KiB) that completed the
WebSocket handshake and then never calls recv(); its server-side socket has a
small SO_SNDBUF, so the kernel absorbs little and the hub's limits are what
bound the memory. The fast subscribers are ``websockets`` clients.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
import tracemalloc
from dataclasses import dataclass, field

import pytest
import websockets
from hubtools import HubServer, HubServerFactory, wait_for

from tidewire import web
from tidewire.hub import Hub, SlowPolicy

MESSAGES = 10_000
PAYLOAD = 1000  # bytes per message: 10 MB offered to each subscriber
# The publisher runs at most WINDOW messages ahead of the slowest fast reader, so a fast
# reader never holds more than (WINDOW + CHECK) * PAYLOAD bytes in flight: less than the
# write limit plus its backlog allowance, whatever the kernel's socket buffers hold.
WINDOW = 64
CHECK = 16
FAST = 3
MAX_QUEUE = 256
MAX_QUEUE_BYTES = 128 * 1024

HANDSHAKE = (
    b"GET /ws?topic=feed&sndbuf=8192&close_timeout=30 HTTP/1.1\r\nHost: test\r\n"
    b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n"
)


@dataclass
class FastReader:
    """A websockets client checking it gets every message, in order."""

    client: websockets.ClientConnection
    received: int = 0
    errors: list[str] = field(default_factory=list)

    async def run(self) -> None:
        async for message in self.client:
            assert isinstance(message, str)
            number = int(message[:8])
            if number != self.received:
                self.errors.append(f"expected {self.received}, got {number}")
            self.received = number + 1


async def stuck_socket(srv: HubServer) -> socket.socket:
    """Handshake, then never read again."""
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await loop.sock_connect(sock, (srv.host, srv.port))
    await loop.sock_sendall(sock, HANDSHAKE)
    head = b""
    while b"\r\n\r\n" not in head:
        head += await loop.sock_recv(sock, 1)  # byte by byte: leave the frames unread
    assert head.startswith(b"HTTP/1.1 101 ")
    return sock


@dataclass
class Run:
    hub: Hub
    readers: list[FastReader]
    slow_ws: web.WebSocketResponse
    slow_sock: socket.socket
    max_backlog: tuple[int, int] = (0, 0)
    max_transport_buffer: int = 0
    traced_peak: int = 0
    seconds: float = 0.0


async def publish_10k(hub_server: HubServerFactory, policy: SlowPolicy, *, trace: bool) -> Run:
    """Publish the messages, pacing on the fast readers; ``trace`` measures with tracemalloc."""
    hub = Hub(
        policy=policy,
        max_queue=MAX_QUEUE,
        max_queue_bytes=MAX_QUEUE_BYTES,
        sweep_interval=0.05,
    )
    srv = await hub_server(hub)
    readers = [FastReader(await websockets.connect(srv.url("feed"))) for _ in range(FAST)]
    tasks = [asyncio.create_task(reader.run()) for reader in readers]
    await srv.wait_subscribers("feed", FAST)
    slow_sock = await stuck_socket(srv)
    await srv.wait_subscribers("feed", FAST + 1)
    run = Run(hub, readers, srv.sockets[-1], slow_sock)
    filler = "x" * (PAYLOAD - 8)

    if trace:
        tracemalloc.start()
        baseline = tracemalloc.get_traced_memory()[0]
    started = time.perf_counter()
    for number in range(MESSAGES):
        await hub.publish("feed", f"{number:08d}{filler}")
        if number % CHECK == CHECK - 1:
            backlog = hub.backlog(run.slow_ws)
            run.max_backlog = max(run.max_backlog, backlog)
            run.max_transport_buffer = max(run.max_transport_buffer, run.slow_ws.write_buffer_size)
            deadline = time.monotonic() + 5
            while min(r.received for r in readers) <= number - WINDOW:
                assert time.monotonic() < deadline, "the fast readers stalled"
                await asyncio.sleep(0)
    await wait_for(lambda: all(r.received == MESSAGES for r in readers), timeout=20)
    run.seconds = time.perf_counter() - started
    if trace:
        run.traced_peak = tracemalloc.get_traced_memory()[1] - baseline
        tracemalloc.stop()

    for reader in readers:
        await reader.client.close()
    await asyncio.gather(*tasks)
    return run


def report(run: Run) -> str:
    stats = run.hub.stats
    return (
        f"{MESSAGES} msgs x {PAYLOAD} B to {FAST} fast + 1 stuck in {run.seconds:.2f}s; "
        f"stuck backlog max {run.max_backlog}, transport max {run.max_transport_buffer} B; "
        f"traced peak +{run.traced_peak / 1024:.0f} KiB (0: not traced); {stats}"
    )


async def test_drop_oldest_keeps_the_others_whole_and_memory_bounded(
    hub_server: HubServerFactory,
) -> None:
    run = await publish_10k(hub_server, SlowPolicy.DROP_OLDEST, trace=True)
    print(report(run))
    try:
        assert [r.errors for r in run.readers] == [[], [], []]
        assert [r.received for r in run.readers] == [MESSAGES] * FAST
        # The stuck subscriber's memory never exceeded the limits.
        messages, size = run.max_backlog
        assert messages <= MAX_QUEUE and size <= MAX_QUEUE_BYTES
        # Below the drain task, the WebSocket layer holds at most the transport's high-water
        # mark (64 KiB) plus one batch of coalesced writes (64 KiB) plus one frame.
        assert run.max_transport_buffer <= 2 * 64 * 1024 + PAYLOAD + 16
        # 10 MB were offered to it; the process grew by a small fraction of that.
        assert run.traced_peak < 3 * 1024 * 1024
        # The policy was applied, and every message is accounted for.
        stats = run.hub.stats
        assert stats.dropped > MESSAGES // 2
        assert stats.closed == 0
        assert stats.delivered + stats.dropped + stats.queued_messages == MESSAGES * (FAST + 1)
        assert stats.slow == 1 and not run.slow_ws.closed
    finally:
        run.slow_sock.close()


async def test_close_policy_closes_the_stuck_subscriber_with_1013(
    hub_server: HubServerFactory,
) -> None:
    run = await publish_10k(hub_server, SlowPolicy.CLOSE, trace=False)
    print(report(run))
    sock = run.slow_sock
    try:
        assert [r.errors for r in run.readers] == [[], [], []]
        assert [r.received for r in run.readers] == [MESSAGES] * FAST
        stats = run.hub.stats
        assert stats.closed == 1
        assert stats.dropped > 0 and stats.queued_messages == 0
        assert run.max_backlog[1] <= MAX_QUEUE_BYTES
        assert run.slow_ws.closed
        await wait_for(lambda: run.hub.subscriber_count("feed") == 0)  # readers closed too
        # The stuck client finally reads: complete messages in order, then Close 1013.
        code, numbers = await read_until_close(sock)
        assert code == web.WSCloseCode.TRY_AGAIN_LATER
        assert numbers == list(range(len(numbers))) and 0 < len(numbers) < MESSAGES
    finally:
        sock.close()


async def read_until_close(sock: socket.socket) -> tuple[int, list[int]]:
    """Parse unmasked server frames (RFC 6455 section 5.2) until a Close frame."""
    loop = asyncio.get_running_loop()
    buffer = b""
    numbers: list[int] = []

    async def need(count: int) -> None:
        nonlocal buffer
        while len(buffer) < count:
            chunk = await asyncio.wait_for(loop.sock_recv(sock, 65536), 5)
            if not chunk:
                pytest.fail("connection closed before the Close frame")
            buffer += chunk

    while True:
        await need(2)
        opcode, length = buffer[0] & 0x0F, buffer[1] & 0x7F
        header = 2
        if length == 126:
            await need(4)
            (length,) = struct.unpack("!H", buffer[2:4])
            header = 4
        elif length == 127:
            await need(10)
            (length,) = struct.unpack("!Q", buffer[2:10])
            header = 10
        await need(header + length)
        payload, buffer = buffer[header : header + length], buffer[header + length :]
        if opcode == 0x8:
            return struct.unpack("!H", payload[:2])[0], numbers
        numbers.append(int(payload[:8]))
