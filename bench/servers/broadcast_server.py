"""The broadcast scenario's server: many subscribers, one publishing loop.

``--impl`` picks what fans out:

* ``tidewire``   -> ``tidewire.hub.Hub``: ``await hub.publish(topic, message)`` per message
* ``aiohttp``    -> a send loop over aiohttp's ``WebSocketResponse``:
  ``for ws in subscribers: await ws.send_str(message)`` per message
* ``websockets`` -> ``websockets.broadcast(connections, message)`` per message

Routes: ``/ws`` subscribes the connection (it only reads until closed);
``/control`` is a WebSocket on which ``{"count": N, "size": S}`` runs one burst:
N text messages of S bytes published in a tight loop (no sleep between them).
The server answers ``{"start": t0, "end": t1}`` (``time.monotonic()``, a clock
every process on the machine shares) once the loop has returned.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
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

Publish = Callable[[str], Awaitable[None]]


def burst_messages(count: int, size: int) -> list[str]:
    """``count`` distinct text messages of ``size`` bytes (built before the clock starts)."""
    return [f"{n:08d}".ljust(size, "x")[:size] for n in range(count)]


async def run_burst(request: str, publish: Publish) -> str:
    """Run the burst described by ``request`` (JSON) through ``publish``; the timing as JSON."""
    spec = json.loads(request)
    messages = burst_messages(int(spec["count"]), int(spec["size"]))
    start = time.monotonic()
    for message in messages:
        await publish(message)
    end = time.monotonic()
    return json.dumps({"start": start, "end": end})


async def serve_tidewire(opts: ServerOptions, version: str) -> None:
    from tidewire import web
    from tidewire.hub import Hub

    max_delay = opts.extra.get("max_delay")
    hub = Hub() if max_delay is None else Hub(max_delay=float(max_delay))

    async def publish(message: str) -> None:
        await hub.publish("bench", message)

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        ws = web.WebSocketResponse(compress=False)
        await ws.prepare(request)
        if request.path == "/control":
            async for msg in ws:
                await ws.send_str(await run_burst(msg.data, publish))
            return ws
        await hub.subscribe(ws, "bench")
        try:
            async for _ in ws:
                pass
        finally:
            await hub.disconnect(ws)
        return ws

    runner = web.ServerRunner(web.Server(handler, access_log=None))
    await runner.setup()
    await web.TCPSite(runner, HOST, opts.port, backlog=2048).start()
    announce_ready("tidewire-hub", version, opts)
    await wait_for_stop_signal()
    await hub.close()
    await runner.cleanup()


async def serve_aiohttp(opts: ServerOptions, version: str) -> None:
    from aiohttp import web

    subscribers: set[web.WebSocketResponse] = set()

    async def publish(message: str) -> None:
        for ws in subscribers:
            await ws.send_str(message)

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        ws = web.WebSocketResponse(compress=False)
        await ws.prepare(request)
        if request.path == "/control":
            async for msg in ws:
                await ws.send_str(await run_burst(msg.data, publish))
            return ws
        subscribers.add(ws)
        try:
            async for _ in ws:
                pass
        finally:
            subscribers.discard(ws)
        return ws

    runner = web.ServerRunner(web.Server(handler, access_log=None))
    await runner.setup()
    await web.TCPSite(runner, HOST, opts.port, backlog=2048).start()
    announce_ready("aiohttp-sendloop", version, opts)
    await wait_for_stop_signal()
    await runner.cleanup()


async def serve_websockets(opts: ServerOptions, version: str) -> None:
    import websockets
    from websockets.asyncio.server import serve as ws_serve

    subscribers: set[Any] = set()

    async def publish(message: str) -> None:
        websockets.broadcast(subscribers, message)

    async def handler(ws: Any) -> None:
        if ws.request.path == "/control":
            async for message in ws:
                await ws.send(await run_burst(message, publish))
            return
        subscribers.add(ws)
        try:
            async for _ in ws:
                pass
        finally:
            subscribers.discard(ws)

    async with ws_serve(
        handler, HOST, opts.port, compression=None, ping_interval=None, backlog=2048
    ):
        announce_ready("websockets-broadcast", version, opts)
        await wait_for_stop_signal()


IMPLS = {"tidewire": serve_tidewire, "aiohttp": serve_aiohttp, "websockets": serve_websockets}


def main() -> None:
    """Parse options, import the chosen library and serve until SIGTERM."""

    def add(parser: Any) -> None:
        parser.add_argument("--impl", choices=sorted(IMPLS), default="tidewire")
        parser.add_argument("--max-delay", type=float, help="tidewire: Hub(max_delay=...)")

    opts = parse_options(__doc__ or "", add)
    impl = str(opts.extra["impl"])
    try:
        if impl == "tidewire":
            import tidewire.hub  # noqa: F401

            version = "0.1.0"
        elif impl == "aiohttp":
            import aiohttp

            version = aiohttp.__version__
        else:
            from websockets.version import version
    except Exception as exc:
        import_failed(impl, exc)
    if opts.check:
        report("CHECK", {"server": impl, "version": version})
        return
    run(IMPLS[impl](opts, version), opts.uvloop)


if __name__ == "__main__":
    main()
