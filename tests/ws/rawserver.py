"""A scripted raw WebSocket server for client tests: plain asyncio sockets, no library."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from tidewire.ws.handshake import accept_token

from .rawclient import Frame, parse_frames

Script = Callable[["RawPeer"], Awaitable[None]]


class RawPeer:
    """The server side of one raw connection, after the head of the client's request."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes):
        self.reader = reader
        self.writer = writer
        self.head = head

    @property
    def key(self) -> str:
        for line in self.head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.strip().lower() == "sec-websocket-key":
                return value.strip()
        raise AssertionError("no Sec-WebSocket-Key in the request")

    async def accept(self, *extra: str, accept: str | None = None) -> None:
        """Answer 101 with the right accept key (or ``accept``) and ``extra`` header lines."""
        lines = [
            "HTTP/1.1 101 Switching Protocols",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Accept: {accept if accept is not None else accept_token(self.key)}",
            *extra,
        ]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        await self.writer.drain()

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def read_frames(self, count: int, timeout: float = 3.0) -> list[Frame]:
        """Read until ``count`` whole frames arrived (or EOF); return them parsed."""
        data = b""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                frames = parse_frames(data)
            except Exception:
                frames = []
            if len(frames) >= count:
                return frames
            chunk = await asyncio.wait_for(self.reader.read(65536), deadline - loop.time())
            if not chunk:
                return frames
            data += chunk


@asynccontextmanager
async def raw_server(script: Script) -> AsyncIterator[str]:
    """Serve ``script`` for every connection on a free port; yields the ``ws://`` base URL."""
    tasks: set[asyncio.Task[None]] = set()

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            await script(RawPeer(reader, writer, head))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            tasks.discard(task)

    server = await asyncio.start_server(on_connection, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"ws://127.0.0.1:{port}"
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
