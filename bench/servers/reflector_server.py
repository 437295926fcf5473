"""Do-nothing reference server used to measure the load clients' own ceiling.

It is NOT a WebSocket or HTTP implementation; it does the least work that still
satisfies the benchmark clients:

* HTTP: counts request terminators (``\\r\\n\\r\\n``) and writes that many canned
  ``200 OK`` responses.  Only valid for bodiless requests (the GET scenario).
* WebSocket: answers the upgrade, unmasks the first client frame to build the reply,
  then assumes every following frame has the same size and answers by byte counting.
  Only valid for fixed-size, uncompressed messages (the two plain echo scenarios).

Whatever rate a client reaches against it is an upper bound for that client on this
machine: no real server can be measured faster than that.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from typing import cast

from _common import (
    HOST,
    ServerOptions,
    announce_ready,
    parse_options,
    report,
    run,
    wait_for_stop_signal,
)

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
HTTP_OK = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 2\r\n\r\nOK"
)
END = b"\r\n\r\n"


def accept_key(client_key: bytes) -> bytes:
    """Sec-WebSocket-Accept value for a Sec-WebSocket-Key (RFC 6455 section 4.2.2)."""
    return base64.b64encode(hashlib.sha1(client_key + WS_GUID).digest())


def header_value(head: bytes, name: bytes) -> bytes:
    """Value of header ``name`` (lower case) in a raw request head, or b''."""
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip()
    return b""


def server_header(b0: int, length: int) -> bytes:
    """Unmasked frame header with first byte ``b0`` for ``length`` payload bytes."""
    if length < 126:
        return bytes([b0, length])
    if length < 65536:
        return bytes([b0, 126]) + length.to_bytes(2, "big")
    return bytes([b0, 127]) + length.to_bytes(8, "big")


def first_frame_reply(buf: bytes) -> tuple[bytes, int] | None:
    """Parse one masked client frame: (the unmasked echo frame, client frame size)."""
    if len(buf) < 2:
        return None
    length = buf[1] & 0x7F
    offset = 2
    if length == 126:
        if len(buf) < 4:
            return None
        length, offset = int.from_bytes(buf[2:4], "big"), 4
    elif length == 127:
        if len(buf) < 10:
            return None
        length, offset = int.from_bytes(buf[2:10], "big"), 10
    total = offset + 4 + length
    if len(buf) < total:
        return None
    key = buf[offset : offset + 4]
    keystream = (key * (length // 4 + 1))[:length]
    masked = int.from_bytes(buf[offset + 4 : total], "big")
    payload = (masked ^ int.from_bytes(keystream, "big")).to_bytes(length, "big")
    return server_header(buf[0], length) + payload, total


class Reflector(asyncio.Protocol):
    """Per-connection state machine: http -> (upgrade) -> ws-first -> ws."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.state = "http"
        self.buf = b""
        self.reply = b""
        self.frame_size = 0
        self.pending = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Remember the transport."""
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        """Route bytes to the handler of the current state."""
        if self.state == "ws":
            self.ws_bytes(len(data))
        elif self.state == "http":
            self.http_bytes(data)
        else:
            self.ws_first(data)

    def write(self, data: bytes) -> None:
        """Write to the transport if it is still there."""
        if self.transport is not None:
            self.transport.write(data)

    def http_bytes(self, data: bytes) -> None:
        """Answer complete request heads; switch to WebSocket on an upgrade."""
        buf = self.buf + data
        if self.buf == b"" and b"\r\nupgrade: websocket" in buf[:2048].lower():
            end = buf.find(END)
            if end < 0:
                self.buf = buf
                return
            key = header_value(buf[:end], b"sec-websocket-key")
            self.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept_key(key) + END
            )
            self.state, self.buf = "ws-first", b""
            self.ws_first(buf[end + 4 :])
            return
        count = buf.count(END)
        if count:
            self.write(HTTP_OK * count)
            buf = buf[buf.rfind(END) + 4 :]
        self.buf = buf[-3:] if len(buf) > 3 else buf

    def ws_first(self, data: bytes) -> None:
        """Collect the first frame, build the canned reply, then count bytes."""
        self.buf += data
        parsed = first_frame_reply(self.buf)
        if parsed is None:
            return
        self.reply, self.frame_size = parsed
        rest = len(self.buf)
        self.state, self.buf = "ws", b""
        self.ws_bytes(rest)

    def ws_bytes(self, count: int) -> None:
        """Answer one canned frame per complete client frame worth of bytes."""
        self.pending += count
        frames, self.pending = divmod(self.pending, self.frame_size)
        if frames:
            self.write(self.reply * frames)

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the transport."""
        self.transport = None


async def serve(opts: ServerOptions) -> None:
    """Listen on 127.0.0.1 and reflect until signalled."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Reflector, HOST, opts.port)
    announce_ready("reflector", "n/a", opts, kind="ceiling")
    try:
        await wait_for_stop_signal()
    finally:
        server.close()


def main() -> None:
    """Parse options and serve until SIGTERM."""
    opts = parse_options(__doc__ or "")
    if opts.check:
        report("CHECK", {"server": "reflector", "version": "n/a"})
        return
    run(serve(opts), opts.uvloop)


if __name__ == "__main__":
    main()
