"""tidewire's compiled frame engine alone, under a bare asyncio echo protocol (NOT tidewire).

This is a measuring device for issue 8, not a contender: it shows what the frame
engine (``tidewire.ws._frames_c``, else the pure ``_frames_py``) costs in a real
server loop before it is wired into tidewire's WebSocket stack. It has no HTTP
routes, no flow control, no close handshake beyond echoing the Close, and a
minimal upgrade (tidewire's accept token and permessage-deflate negotiation), so
its numbers are an upper bound for the merged engine, not tidewire's figures.
"""

from __future__ import annotations

import asyncio
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

MAX_SIZE = 4 * 1024 * 1024


def make_protocol(engine_cls: Any, deflate: bool) -> type[asyncio.Protocol]:
    """An asyncio protocol class: HTTP upgrade, then echo through ``engine_cls``."""
    from tidewire.ws.compression import codec_for
    from tidewire.ws.deflate import DeflateOptions, negotiate_deflate
    from tidewire.ws.engine import OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, FrameError, Side
    from tidewire.ws.handshake import accept_token

    options = DeflateOptions()

    class EchoProtocol(asyncio.Protocol):
        def __init__(self) -> None:
            self.transport: asyncio.Transport | None = None
            self.head = b""
            self.engine: Any = None
            self.pieces: list[Any] = []

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport  # type: ignore[assignment]

        def data_received(self, data: bytes) -> None:
            if self.engine is None:
                self.head += data
                end = self.head.find(b"\r\n\r\n")
                if end < 0:
                    return
                rest = self.head[end + 4 :]
                self.upgrade(self.head[:end].decode("latin-1"))
                if not rest:
                    return
                data = rest
            engine = self.engine
            engine.receive_data(data)
            out = []
            try:
                while (event := engine.next_event()) is not None:
                    opcode, payload, fin = event
                    if opcode in (OP_TEXT, OP_BINARY):
                        if fin:
                            if self.pieces:
                                self.pieces.append(payload)
                                sep = "" if opcode == OP_TEXT else b""
                                payload = sep.join(self.pieces)  # type: ignore[attr-defined]
                                self.pieces = []
                            out.append(engine.encode_message(payload))
                        else:
                            self.pieces.append(payload)
                    elif opcode == OP_PING:
                        out.append(engine.encode_control(OP_PONG, payload))
                    elif opcode == OP_CLOSE:
                        out.append(engine.encode_close(payload[0] if payload[0] != 1005 else None))
                        self.send(out)
                        assert self.transport is not None
                        self.transport.close()
                        return
            except FrameError as exc:
                out.append(engine.encode_close(exc.code))
                self.send(out)
                assert self.transport is not None
                self.transport.close()
                return
            self.send(out)

        def send(self, frames: list[bytes]) -> None:
            """Small frames coalesced into one write; large ones written as they are.

            Joining 64 KiB frames cost more than the extra write calls (cProfile).
            """
            transport = self.transport
            if not frames or transport is None:
                return
            if len(frames) == 1:
                transport.write(frames[0])
            elif sum(map(len, frames)) <= 16384:
                transport.write(b"".join(frames))
            else:
                for frame in frames:
                    transport.write(frame)

        def upgrade(self, head: str) -> None:
            headers = {}
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                key = name.strip().lower()
                headers[key] = (
                    f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
                )
            lines = [
                "HTTP/1.1 101 Switching Protocols",
                "Upgrade: websocket",
                "Connection: Upgrade",
                f"Sec-WebSocket-Accept: {accept_token(headers['sec-websocket-key'])}",
            ]
            codec = None
            offers = headers.get("sec-websocket-extensions")
            agreed = negotiate_deflate([offers], options) if deflate and offers else None
            if agreed is not None:
                lines.append(f"Sec-WebSocket-Extensions: {agreed[0]}")
                codec = codec_for(Side.SERVER, agreed[1], options, MAX_SIZE)
            self.engine = engine_cls(Side.SERVER, codec, MAX_SIZE)
            assert self.transport is not None
            self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode())

    return EchoProtocol


async def serve(opts: ServerOptions, engine_cls: Any, engine_name: str) -> None:
    """Listen on 127.0.0.1 until signalled."""
    loop = asyncio.get_running_loop()
    protocol = make_protocol(engine_cls, opts.ws_deflate)
    server = await loop.create_server(protocol, HOST, opts.port)
    announce_ready("engine-only", "0", opts, engine=engine_name)
    try:
        await wait_for_stop_signal()
    finally:
        server.close()


def main() -> None:
    """Parse options, import the engine and serve until SIGTERM."""
    opts = parse_options(__doc__ or "")
    try:
        try:
            from tidewire.ws._frames_c import Engine

            name = "compiled"
        except ImportError:
            from tidewire.ws._frames_py import Engine  # type: ignore[assignment]

            name = "pure"
    except Exception as exc:
        import_failed("engine-only", exc)
    if opts.check:
        report("CHECK", {"server": "engine-only", "engine": name})
        return
    run(serve(opts, Engine, name), opts.uvloop)


if __name__ == "__main__":
    main()
