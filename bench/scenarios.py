"""What bench/run.py runs (servers, scenarios) and what one run yields."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: % of one core used by processes outside the benchmark that makes a run suspect.
BUSY_THRESHOLD = 15.0


@dataclass(frozen=True)
class ServerSpec:
    """One server under test (or the reference reflector)."""

    name: str
    script: str
    args: tuple[str, ...] = ()
    http: bool = True
    ws: bool = True
    http_note: str = "n/a"
    reference: bool = False  # the do-nothing reflector: a client ceiling, not a contender
    deflate: bool = True  # speaks permessage-deflate (else deflate scenarios are n/a)


@dataclass(frozen=True)
class Scenario:
    """One measured workload."""

    key: str
    title: str
    kind: str  # "http", "ws" or "ws_idle"
    unit: str
    path: str = "/"
    post_bytes: int = 0
    ws_kind: str = "text"
    size: int = 32
    connections: int = 16
    window: int = 64
    deflate: bool = False
    reflector_ok: bool = False  # the reflector can serve it (fixed-size, bodiless)


SERVERS: tuple[ServerSpec, ...] = (
    ServerSpec("tidewire", "tidewire_server.py"),
    # the same tidewire on its reference (wsproto) frame engine: TIDEWIRE_NO_EXTENSIONS=1
    ServerSpec("tidewire-ref", "tidewire_server.py", ("--reference-engine",), http=False),
    ServerSpec("aiohttp", "aiohttp_server.py"),
    ServerSpec("websockets", "websockets_server.py", http=False, http_note="n/a"),
    ServerSpec(
        "uvicorn", "uvicorn_server.py", ("--ws-impl", "websockets-sansio", "--name", "uvicorn")
    ),
    ServerSpec(
        "uvicorn-wsproto",
        "uvicorn_server.py",
        ("--ws-impl", "wsproto", "--name", "uvicorn-wsproto"),
        http=False,
        http_note="=uvicorn",
    ),
    ServerSpec("picows", "picows_server.py", http=False, deflate=False),
    # tidewire's frame engine under a bare asyncio echo (not tidewire's stack): see the script.
    ServerSpec("engine-only", "engine_echo_server.py", http=False),
    ServerSpec("ceiling", "reflector_server.py", reference=True),
)

SCENARIOS: tuple[Scenario, ...] = (
    Scenario("http_get", "HTTP GET / keep-alive", "http", "req/s", reflector_ok=True),
    Scenario("http_post64k", "HTTP POST 64 KiB body", "http", "req/s", "/post", 65536),
    Scenario("ws_small", "WS echo 32 B text", "ws", "msg/s", "/ws", reflector_ok=True),
    Scenario(
        "ws_small_1c", "WS echo 32 B text, 1 conn", "ws", "msg/s", "/ws", connections=1, window=64
    ),
    Scenario(
        "ws_small_100c",
        "WS echo 32 B text, 100 conns",
        "ws",
        "msg/s",
        "/ws",
        connections=100,
        window=8,
    ),
    Scenario(
        "ws_64k",
        "WS echo 64 KiB binary",
        "ws",
        "MB/s",
        "/ws",
        ws_kind="binary",
        size=65536,
        connections=4,
        window=16,
    ),
    Scenario(
        "ws_1m",
        "WS echo 1 MiB binary",
        "ws",
        "MB/s",
        "/ws",
        ws_kind="binary",
        size=1024 * 1024,
        connections=2,
        window=2,
    ),
    Scenario(
        "ws_deflate",
        "WS echo ~150 B JSON, deflate",
        "ws",
        "msg/s",
        "/ws",
        ws_kind="json",
        deflate=True,
    ),
    # Memory per idle WebSocket: bench/idle.py opens 1,000 connections (lower is better).
    Scenario("ws_idle", "WS memory per idle conn", "ws_idle", "KiB/conn", "/ws", connections=1000),
)

#: Units where a lower number is better (ratios are still other/baseline).
LOWER_IS_BETTER = {"KiB/conn"}


@dataclass
class Options:
    """Run-wide settings resolved from the command line."""

    servers: list[ServerSpec]
    scenarios: list[Scenario]
    duration: float
    warmup: float
    uvloop: bool
    http_client: str  # "wrk" or "python"
    wrk_connections: int
    repeat: int
    baseline: str
    quick: bool
    wait_quiet: float


@dataclass
class RunResult:
    """One (scenario, server, round) measurement or the reason there is none."""

    scenario: str
    server: str
    status: str  # ok | n/a | skipped | failed
    value: float | None = None
    unit: str = ""
    p99_ms: float | None = None
    server_cpu_pct: float | None = None
    client_cpu_pct: float | None = None
    other_cpu_pct: float | None = None  # CPU used by processes not in this run
    rss_mib: float | None = None
    hwm_mib: float | None = None
    note: str = ""
    errors: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
