"""websockets' asyncio server (``websockets.asyncio.server.serve``): WebSocket echo only.

websockets is not an HTTP server, so the HTTP scenarios are reported as n/a for it.
Every path upgrades to the echo handler.
"""

from __future__ import annotations

from typing import Any

from _common import (
    HOST,
    ServerOptions,
    announce_ready,
    import_failed,
    parse_options,
    report,
    run,
    wait_for_stop_signal,
)


async def echo(ws: Any) -> None:
    """Send every received message back (str stays text, bytes stay binary)."""
    async for message in ws:
        await ws.send(message)


async def serve(opts: ServerOptions, version: str) -> None:
    """Listen with compression off (or on with ``--ws-deflate``) and no keepalive pings."""
    from websockets.asyncio.server import serve as ws_serve

    compression = "deflate" if opts.ws_deflate else None
    async with ws_serve(
        echo,
        HOST,
        opts.port,
        compression=compression,
        ping_interval=None,
        max_size=4 * 1024 * 1024,
    ):
        announce_ready("websockets", version, opts, speedups=_has_speedups())
        await wait_for_stop_signal()


def _has_speedups() -> bool:
    """True when websockets' C extension (masking speedups) is importable."""
    try:
        import websockets.speedups  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> None:
    """Parse options, import websockets and serve until SIGTERM."""
    opts = parse_options(__doc__ or "")
    try:
        import websockets.asyncio.server  # noqa: F401  (the server module, not just the package)
        from websockets.version import version
    except Exception as exc:
        import_failed("websockets", exc)
    if opts.check:
        report("CHECK", {"server": "websockets", "version": version})
        return
    run(serve(opts, version), opts.uvloop)


if __name__ == "__main__":
    main()
