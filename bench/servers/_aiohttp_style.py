"""One handler for every server with aiohttp's low-level API (aiohttp and tidewire).

Both ``aiohttp_server.py`` and ``tidewire_server.py`` pass their ``web`` module here,
so the two run byte-for-byte the same application code and differ only in the
library underneath.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import Any

from _common import HOST, ServerOptions, announce_ready, wait_for_stop_signal

Handler = Callable[[Any], Awaitable[Any]]


def make_handler(web: ModuleType, ws_deflate: bool) -> Handler:
    """Build the request handler serving ``/``, ``/post`` and ``/ws`` with ``web``."""
    text_type = web.WSMsgType.TEXT
    binary_type = web.WSMsgType.BINARY

    async def websocket_echo(request: Any) -> Any:
        """Echo every text or binary message back on the same connection."""
        ws = web.WebSocketResponse(compress=ws_deflate)
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == text_type:
                await ws.send_str(msg.data)
            elif msg.type == binary_type:
                await ws.send_bytes(msg.data)
        return ws

    async def handler(request: Any) -> Any:
        """Dispatch on the path; everything that is not /post or /ws answers OK."""
        path = request.path
        if path == "/ws":
            return await websocket_echo(request)
        if path == "/post":
            body = await request.read()
            return web.Response(text=str(len(body)))
        return web.Response(text="OK")

    return handler


async def serve(
    web: ModuleType, name: str, version: str, opts: ServerOptions, **server_kwargs: Any
) -> None:
    """Start ``web.Server`` behind ``ServerRunner``/``TCPSite`` and run until signalled."""
    server = web.Server(make_handler(web, opts.ws_deflate), **server_kwargs)
    runner = web.ServerRunner(server)
    await runner.setup()
    site = web.TCPSite(runner, HOST, opts.port)
    await site.start()
    announce_ready(name, version, opts)
    try:
        await wait_for_stop_signal()
    finally:
        await runner.cleanup()
