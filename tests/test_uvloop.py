"""The server on uvloop, whose transports are not asyncio.Transport subclasses."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import aiohttp

SERVER = textwrap.dedent(
    """
    import asyncio
    import sys
    import uvloop
    from tidewire import web

    async def handler(request):
        if request.path == "/ws":
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            async for msg in ws:
                await ws.send_str(msg.data.upper())
            return ws
        if request.path == "/file":
            return web.FileResponse(sys.argv[2])  # uvloop has no loop.sendfile: chunked reads
        body = await request.read()
        return web.Response(text=f"{type(request.transport).__module__} {len(body)}")

    async def main():
        runner = web.ServerRunner(web.Server(handler))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", int(sys.argv[1])).start()
        print("ready", flush=True)
        await asyncio.Event().wait()

    uvloop.run(main())
    """
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_http_and_websocket_on_uvloop(tmp_path: Path) -> None:
    script = tmp_path / "uvserver.py"
    script.write_text(SERVER)
    data = bytes(range(256)) * 8192  # 2 MiB
    (tmp_path / "data.bin").write_bytes(data)
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, str(script), str(port), str(tmp_path / "data.bin")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 10)
        assert line.strip() == "ready"
        async with aiohttp.ClientSession() as session:
            async with session.post(f"http://127.0.0.1:{port}/", data=b"x" * 70000) as resp:
                assert resp.status == 200
                assert await resp.text() == "uvloop.loop 70000"
            async with session.get(f"http://127.0.0.1:{port}/file") as resp:
                assert await resp.read() == data
            headers = {"Range": "bytes=1000-"}
            async with session.get(f"http://127.0.0.1:{port}/file", headers=headers) as resp:
                assert resp.status == 206
                assert await resp.read() == data[1000:]
            async with session.ws_connect(f"http://127.0.0.1:{port}/ws") as ws:
                await ws.send_str("tide")
                assert await ws.receive_str() == "TIDE"
    finally:
        process.terminate()
        process.wait(5)
