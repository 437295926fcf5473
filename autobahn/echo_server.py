"""WebSocket echo server used as the Autobahn testsuite's server under test.

It is written only with tidewire's public, aiohttp-compatible API
(``web.Server``, ``web.ServerRunner``, ``web.TCPSite``,
``web.WebSocketResponse``, ``web.WSMsgType``): every text or binary message
is sent back unchanged, with permessage-deflate offered.

Usage::

    python autobahn/echo_server.py --port 9001 [--host 127.0.0.1] [--uvloop]

It prints one "listening" line once the socket is bound and exits with
status 0 on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

# Test the working tree, whatever tidewire may also be installed in the venv.
_SRC_DIR = Path(__file__).resolve().parent.parent / "src"
if _SRC_DIR.is_dir():
    sys.path.insert(0, str(_SRC_DIR))

from tidewire import web  # noqa: E402

# Autobahn's 9.x cases send messages of up to 16 MiB; leave headroom.
DEFAULT_MAX_MSG_SIZE = 32 * 1024 * 1024


def make_handler(max_msg_size: int) -> Any:
    """Return a request handler that echoes every data message it receives."""

    async def handler(request: Any) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=max_msg_size, compress=True)
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == web.WSMsgType.TEXT:
                await ws.send_str(msg.data)
            elif msg.type == web.WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
        return ws

    return handler


async def serve(host: str, port: int, max_msg_size: int) -> None:
    """Serve until SIGTERM or SIGINT arrives, then shut down cleanly."""
    runner = web.ServerRunner(web.Server(make_handler(max_msg_size)))
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        print(f"echo_server: engine {web.websocket_engine()}", flush=True)
        print(f"echo_server: listening on ws://{host}:{port}", flush=True)
        await stop.wait()
        print("echo_server: shutting down", flush=True)
    finally:
        await runner.cleanup()


def run(main: Coroutine[Any, Any, None], use_uvloop: bool) -> None:
    """Run ``main`` on uvloop when asked for and importable, else on asyncio's loop."""
    if use_uvloop:
        try:
            import uvloop
        except ImportError:
            print("echo_server: uvloop is not installed; using asyncio's loop", flush=True)
        else:
            uvloop.run(main)
            return
    asyncio.run(main)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    parser.add_argument("--port", type=int, default=9001, help="port to bind (default %(default)s)")
    parser.add_argument(
        "--uvloop",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="run on uvloop if it is importable (default: asyncio's own loop)",
    )
    parser.add_argument(
        "--max-msg-size",
        type=int,
        default=DEFAULT_MAX_MSG_SIZE,
        help="largest accepted message in bytes, 0 for no limit (default %(default)s)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point: serve until signalled, return the exit status."""
    args = parse_args(argv)
    run(serve(args.host, args.port, args.max_msg_size), args.uvloop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
