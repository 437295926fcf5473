"""The tidewire chat: ``python examples/chat/server.py [--host H] [--port P] [--redis URL]
[--workers N]``, then open http://H:P/ in a browser.

Without ``--redis`` rooms, presence and history live in this process. With
``--redis redis://127.0.0.1:6379/0`` several server processes (on one machine or
many) share them; ``--workers N`` starts N such processes on one port
(SO_REUSEPORT; Linux spreads connections between them).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from chatapp import ChatApp

from tidewire import web
from tidewire.hub import RedisBackend

STOP_GRACE = 10.0  # seconds a worker has to stop after SIGTERM before it is killed


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    # No abbreviations: "--work 3" must not slip past worker_args() as a worker count.
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--redis", metavar="URL", help="share rooms through Redis at URL")
    parser.add_argument("--workers", type=int, default=1, help="processes (needs --redis)")
    parser.add_argument(
        "--presence-ttl",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="with --redis: a crashed process' people leave the lists after this (15)",
    )
    parser.add_argument("--prefix", default="tidewire-chat", help="Redis key prefix")
    parser.add_argument(
        "--history-ttl",
        type=int,
        default=24 * 3600,
        metavar="SECONDS",
        help="a room's history expires this long after its last event (1 day)",
    )
    parser.add_argument(
        "--metrics",
        action="store_true",
        help="serve Prometheus metrics on /metrics (needs prometheus-client)",
    )
    parser.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--parent-pid", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.history_ttl < 1:
        parser.error("--history-ttl must be at least 1")
    if args.workers > 1 and not args.redis:
        parser.error("--workers needs --redis (the processes share rooms through it)")
    return args


async def serve(args: argparse.Namespace) -> None:
    """Run one server process until SIGINT/SIGTERM, then leave the rooms cleanly."""
    backend = None
    if args.redis:
        backend = RedisBackend(args.redis, prefix=args.prefix, presence_ttl=args.presence_ttl)
    app = ChatApp(backend, history_ttl=args.history_ttl)
    await app.start()
    server = web.Server(app.handle)
    if args.metrics:
        app.enable_metrics(server)
    runner = web.ServerRunner(server, shutdown_timeout=5.0)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port, reuse_port=args.reuse_port or None)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    watchdog = loop.create_task(_exit_with_parent(args.parent_pid, stop))
    try:
        await site.start()
        hub = "redis " + args.redis if args.redis else "memory"
        print(f"chat on {site.name} (hub: {hub})", flush=True)
        await stop.wait()
    finally:
        watchdog.cancel()
        # Sockets get 1001 and shutdown waits for their handlers, which leave the rooms.
        await runner.cleanup()
        await app.close()


async def _exit_with_parent(parent_pid: int | None, stop: asyncio.Event) -> None:
    """A worker stops when its supervisor is gone (even if it was SIGKILLed)."""
    if parent_pid is None:
        return
    while os.getppid() == parent_pid:
        await asyncio.sleep(1.0)
    stop.set()


def supervise(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """Start ``args.workers`` copies of this server on one port; stop them on SIGINT/SIGTERM.

    A worker that does not exit within ``STOP_GRACE`` seconds of SIGTERM is killed.
    """
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    # Before the first worker exists: a signal from now on stops them all.
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    command = [sys.executable, str(Path(__file__).resolve())]
    workers: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(args.workers):
            if stopping:
                break
            workers.append(subprocess.Popen([*command, *worker_args(argv, os.getpid())]))
        while not stopping and all(worker.poll() is None for worker in workers):
            time.sleep(0.2)
    finally:
        codes = stop_workers(workers, STOP_GRACE)
    return 0 if stopping else max(abs(code) for code in codes) or 1


def stop_workers(workers: Sequence[subprocess.Popen[bytes]], grace: float) -> list[int]:
    """SIGTERM the running ``workers``, SIGKILL those still running after ``grace`` seconds."""
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    codes: list[int] = []
    for worker in workers:
        try:
            codes.append(worker.wait(max(0.0, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            worker.kill()
            codes.append(worker.wait())
    return codes


def worker_args(argv: Sequence[str], parent_pid: int) -> list[str]:
    """The command line of one worker: the supervisor's, as a single process.

    ``--workers`` is removed and ``--workers 1`` appended (argparse keeps the last
    value), so that no spelling of the option makes a worker start workers.
    """
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--workers":
            skip = True
        elif not arg.startswith("--workers="):
            out.append(arg)
    return [*out, "--reuse-port", "--parent-pid", str(parent_pid), "--workers", "1"]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.workers > 1:
        return supervise(args, argv)
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
