"""Plumbing shared by the benchmark servers: command line, event loop, READY line.

Every server script in this folder serves the same three routes on 127.0.0.1:

* ``/``     -> 200 ``OK`` (any path that is not one of the two below)
* ``/post`` -> reads the whole request body and answers its length in decimal
* ``/ws``   -> WebSocket echo (text stays text, binary stays binary)

A server announces that it listens by printing one line ``READY {json}`` on stdout;
``bench/run.py`` waits for that line.  ``--check`` only imports the library, prints
the same kind of line with ``CHECK`` and exits, so the runner can skip a server whose
import fails without starting anything.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, NoReturn

HOST = "127.0.0.1"


@dataclass(frozen=True)
class ServerOptions:
    """Options every benchmark server understands."""

    port: int
    ws_deflate: bool
    uvloop: bool
    check: bool
    extra: dict[str, Any]


def parse_options(
    description: str, add_arguments: Callable[[argparse.ArgumentParser], None] | None = None
) -> ServerOptions:
    """Parse the common command line; ``add_arguments`` may add server specific flags."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, default=8080, help="TCP port on 127.0.0.1")
    parser.add_argument(
        "--ws-deflate", action="store_true", help="permessage-deflate on /ws (default off)"
    )
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop instead of asyncio")
    parser.add_argument("--check", action="store_true", help="import the library, report, exit")
    if add_arguments is not None:
        add_arguments(parser)
    ns = parser.parse_args()
    known = {"port", "ws_deflate", "uvloop", "check"}
    extra = {key: value for key, value in vars(ns).items() if key not in known}
    return ServerOptions(ns.port, ns.ws_deflate, ns.uvloop, ns.check, extra)


def report(tag: str, info: dict[str, Any]) -> None:
    """Print one ``TAG {json}`` line on stdout and flush it at once."""
    print(f"{tag} {json.dumps(info, sort_keys=True)}", flush=True)


def announce_ready(name: str, version: str, opts: ServerOptions, **details: Any) -> None:
    """Tell the runner that the server listens; call it from inside the running loop."""
    loop = asyncio.get_running_loop()
    info: dict[str, Any] = {
        "server": name,
        "version": version,
        "pid": os.getpid(),
        "port": opts.port,
        "loop": f"{type(loop).__module__}.{type(loop).__qualname__}",
        "ws_deflate": opts.ws_deflate,
        "python": sys.version.split()[0],
    }
    info.update(details)
    report("READY", info)


def import_failed(name: str, exc: BaseException) -> NoReturn:
    """Report an import failure in one clear line and exit with status 3."""
    report("IMPORT-FAILED", {"server": name, "error": f"{type(exc).__name__}: {exc}"})
    raise SystemExit(3)


async def wait_for_stop_signal() -> None:
    """Sleep until SIGTERM or SIGINT arrives."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def run(main: Coroutine[Any, Any, None], use_uvloop: bool) -> None:
    """Run ``main`` to completion on a fresh asyncio or uvloop event loop."""
    if use_uvloop:
        import uvloop

        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(main)
    finally:
        loop.close()
