"""uvicorn serving a raw ASGI app, single process, httptools HTTP parser.

``--ws-impl`` picks uvicorn's WebSocket protocol: ``websockets-sansio`` (uvicorn's
current default when websockets is installed) or ``wsproto``.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from _common import HOST, ServerOptions, announce_ready, import_failed, parse_options, report, run

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

TEXT_PLAIN = (b"content-type", b"text/plain; charset=utf-8")


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Minimal ASGI 3 application: ``/`` OK, ``/post`` body length, ``/ws`` echo."""
    if scope["type"] == "http":
        await http_app(scope, receive, send)
    elif scope["type"] == "websocket":
        await websocket_app(receive, send)


async def http_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer ``OK``, or for ``/post`` join the whole body and answer its length."""
    if scope["path"] == "/post":
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = str(len(b"".join(chunks))).encode()
    else:
        body = b"OK"
    headers = [TEXT_PLAIN, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def websocket_app(receive: Receive, send: Send) -> None:
    """Accept the upgrade and echo messages until the client disconnects."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] != "websocket.receive":
            return
        text = message.get("text")
        if text is not None:
            await send({"type": "websocket.send", "text": text})
        else:
            await send({"type": "websocket.send", "bytes": message.get("bytes")})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """uvicorn specific flags."""
    parser.add_argument(
        "--ws-impl",
        default="websockets-sansio",
        choices=["websockets-sansio", "websockets", "wsproto"],
        help="uvicorn WebSocket protocol implementation",
    )
    parser.add_argument("--name", default="uvicorn", help="label used in the READY line")


async def serve(opts: ServerOptions, version: str) -> None:
    """Run ``uvicorn.Server.serve`` on the current loop and announce once it listens."""
    import uvicorn

    config = uvicorn.Config(
        app,
        host=HOST,
        port=opts.port,
        http="httptools",
        ws=opts.extra["ws_impl"],
        ws_per_message_deflate=opts.ws_deflate,
        ws_ping_interval=None,
        ws_ping_timeout=None,
        lifespan="off",
        access_log=False,
        log_level="warning",
    )
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve())
    while not server.started:
        if task.done():
            await task  # startup failed: re-raise its error
            raise SystemExit(1)
        await asyncio.sleep(0.02)
    announce_ready(opts.extra["name"], version, opts, http="httptools", ws=config.ws)
    await task


def main() -> None:
    """Parse options, import uvicorn + httptools and serve until SIGTERM."""
    opts = parse_options(__doc__ or "", add_arguments)
    try:
        import httptools  # noqa: F401
        import uvicorn
    except Exception as exc:
        import_failed(opts.extra["name"], exc)
    if opts.check:
        report("CHECK", {"server": opts.extra["name"], "version": uvicorn.__version__})
        return
    run(serve(opts, uvicorn.__version__), opts.uvloop)


if __name__ == "__main__":
    main()
