"""Where an HTTP request's time goes: CPU per request, optionally under cProfile.

Serves the benchmark's handler (``servers/_aiohttp_style.py``) in this process with
tidewire or aiohttp, loads it with wrk for a few seconds, and prints the server's CPU
time per request (process CPU, so it holds up on a busy machine better than req/s)
and, with ``--profile``, the functions that used it::

    PYTHONPATH=src .venv/bin/python bench/profile_http.py --server tidewire --scenario get
    PYTHONPATH=src .venv/bin/python bench/profile_http.py --scenario post64k --profile
    PYTHONPATH=src .venv/bin/python bench/profile_http.py --server aiohttp --uvloop
    PYTHONPATH=src .venv/bin/python bench/profile_http.py --server bare   # the loop's ceiling

This is a measuring tool, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import re
import socket
import sys
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR / "servers"))

from _aiohttp_style import make_handler  # noqa: E402  (servers/ is put on sys.path above)

POST_BYTES = 64 * 1024


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Bare(asyncio.Protocol):
    """The event loop's ceiling: one canned response per read, no HTTP at all."""

    ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport

    def data_received(self, data: bytes) -> None:
        if data.endswith(b"\r\n\r\n"):  # GET requests arrive whole, one per read
            self.transport.write(self.ANSWER)


async def _start(server_name: str, port: int) -> Any:
    """Start ``server_name`` on ``port``; returns what must be awaited to stop it."""
    if server_name == "bare":
        bare = await asyncio.get_running_loop().create_server(_Bare, "127.0.0.1", port)

        async def stop_bare() -> None:
            bare.close()

        return stop_bare
    if server_name == "tidewire":
        from tidewire import web
    else:
        from aiohttp import web  # type: ignore[no-redef]
    server = web.Server(make_handler(web, False), access_log=None)
    runner = web.ServerRunner(server)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    return runner.cleanup


async def _run(args: argparse.Namespace) -> None:
    port = _free_port()
    stop = await _start(args.server, port)
    env = dict(os.environ)
    path = "/"
    if args.scenario == "post64k":
        env["BENCH_POST_BYTES"] = str(POST_BYTES)
        path = "/post"
    command = [
        "taskset", "-c", "1",
        "wrk", "-t1", f"-c{args.connections}", f"-d{args.seconds}s",
        "-s", str(BENCH_DIR / "wrk" / "report.lua"), f"http://127.0.0.1:{port}{path}",
    ]  # fmt: skip
    profiler = cProfile.Profile() if args.profile else None
    wrk = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    await asyncio.sleep(0.3)  # let wrk connect before the measured window
    cpu_before = time.process_time()
    if profiler is not None:
        profiler.enable()
    out, _ = await wrk.communicate()
    if profiler is not None:
        profiler.disable()
    cpu = time.process_time() - cpu_before
    await stop()
    match = re.search(rb"WRKJSON (\{.*\})", out)
    if match is None:
        raise SystemExit(f"wrk gave no report: {out.decode(errors='replace')}")
    report: dict[str, Any] = json.loads(match.group(1))
    requests = report["requests"]
    seconds = report["duration_us"] / 1e6
    print(
        f"{args.server} {args.scenario} loop={'uvloop' if args.uvloop else 'asyncio'}: "
        f"{requests / seconds:,.0f} req/s, p99 {report['latency_us']['p99'] / 1000:.2f} ms, "
        f"server CPU {cpu * 1e6 / max(requests, 1):.1f} us/request"
        + (" (under cProfile)" if profiler is not None else "")
    )
    if profiler is not None:
        stats = pstats.Stats(profiler)
        stats.sort_stats(args.sort).print_stats(args.top)


def main() -> None:
    """Parse the options and run one measurement."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", choices=("tidewire", "aiohttp", "bare"), default="tidewire")
    parser.add_argument("--scenario", choices=("get", "post64k"), default="get")
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--uvloop", action="store_true")
    parser.add_argument("--profile", action="store_true", help="run the server under cProfile")
    parser.add_argument("--sort", default="tottime", help="pstats sort key (tottime, cumtime)")
    parser.add_argument("--top", type=int, default=30, help="profile lines to print")
    args = parser.parse_args()
    os.sched_setaffinity(0, {0})
    if args.uvloop:
        import uvloop

        uvloop.run(_run(args))
    else:
        asyncio.run(_run(args))


if __name__ == "__main__":
    main()
