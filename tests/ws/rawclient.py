"""A hand-rolled WebSocket client for sending exact bytes.

It performs the opening handshake over a plain asyncio stream and builds
frames byte by byte, so tests can send what no well-behaved client would:
unmasked frames, reserved opcodes and bits, oversized control frames, bad
UTF-8, huge declared lengths and compressed payloads.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import struct
import zlib
from dataclasses import dataclass

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def upgrade_request(
    path: str = "/ws",
    *,
    method: str = "GET",
    key: str | None = RFC_KEY,
    version: str | None = "13",
    upgrade: str | None = "websocket",
    connection: str | None = "Upgrade",
    extra: tuple[tuple[str, str], ...] = (),
) -> bytes:
    """The bytes of an opening handshake request; ``None`` leaves a header out."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    if upgrade is not None:
        lines.append(f"Upgrade: {upgrade}")
    if connection is not None:
        lines.append(f"Connection: {connection}")
    if key is not None:
        lines.append(f"Sec-WebSocket-Key: {key}")
    if version is not None:
        lines.append(f"Sec-WebSocket-Version: {version}")
    lines.extend(f"{name}: {value}" for name, value in extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv1: bool = False,
    rsv2: bool = False,
    rsv3: bool = False,
    mask: bool = True,
    length: int | None = None,
    mask_key: bytes | None = None,
) -> bytes:
    """One frame as a client sends it; ``length`` overrides the declared payload length."""
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | (0x20 if rsv2 else 0)
    first |= (0x10 if rsv3 else 0) | opcode
    declared = len(payload) if length is None else length
    mask_bit = 0x80 if mask else 0
    if declared < 126:
        head = bytes([first, mask_bit | declared])
    elif declared < 1 << 16:
        head = bytes([first, mask_bit | 126]) + struct.pack("!H", declared)
    else:
        head = bytes([first, mask_bit | 127]) + struct.pack("!Q", declared)
    if not mask:
        return head + payload
    key = mask_key if mask_key is not None else os.urandom(4)
    return head + key + apply_mask(payload, key)


def apply_mask(payload: bytes, key: bytes) -> bytes:
    """XOR ``payload`` with the 4-byte ``key`` (RFC 6455 section 5.3)."""
    if not payload:
        return b""
    repeated = (key * (len(payload) // 4 + 1))[: len(payload)]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(
        len(payload), "big"
    )


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return struct.pack("!H", code) + reason


def deflate(data: bytes, wbits: int = 15) -> bytes:
    """``data`` compressed as one permessage-deflate message (no empty-block tail)."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -wbits)
    out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def inflate(data: bytes, wbits: int = 15) -> bytes:
    return zlib.decompressobj(-wbits).decompress(data + b"\x00\x00\xff\xff")


@dataclass
class Frame:
    fin: bool
    rsv1: bool
    rsv2: bool
    rsv3: bool
    opcode: int
    masked: bool
    payload: bytes

    @property
    def close_code(self) -> int | None:
        assert self.opcode == CLOSE
        if len(self.payload) < 2:
            return None
        return int(struct.unpack("!H", self.payload[:2])[0])

    @property
    def close_reason(self) -> bytes:
        return self.payload[2:]


class RawWS:
    """A raw client connection; :meth:`connect` does the handshake."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.status = 0
        self.head = b""
        self.headers: dict[str, str] = {}

    @classmethod
    async def open(cls, host: str, port: int, *, rcvbuf: int | None = None) -> RawWS:
        """A TCP connection without a handshake (optionally with a small receive buffer)."""
        if rcvbuf is None:
            reader, writer = await asyncio.open_connection(host, port)
        else:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, (host, port))
            reader, writer = await asyncio.open_connection(sock=sock, limit=rcvbuf)
        return cls(reader, writer)

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        path: str = "/ws",
        *,
        extra: tuple[tuple[str, str], ...] = (),
        after: bytes = b"",
        rcvbuf: int | None = None,
        expect: int | None = 101,
    ) -> RawWS:
        """Open and send an upgrade request (plus ``after`` in the same write)."""
        client = await cls.open(host, port, rcvbuf=rcvbuf)
        client.writer.write(upgrade_request(path, extra=extra) + after)
        await client.read_head()
        if expect is not None:
            assert client.status == expect, client.head
        return client

    async def read_head(self, timeout: float = 3.0) -> None:
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), timeout)
        self.head = head
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        for line in lines[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                self.headers[name.strip().lower()] = value.strip()

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def send_frame(self, opcode: int, payload: bytes = b"", **options: object) -> None:
        self.writer.write(frame(opcode, payload, **options))  # type: ignore[arg-type]
        await self.writer.drain()

    async def recv(self, timeout: float = 3.0) -> Frame | None:
        """The next frame from the server, ``None`` at end of stream.

        Raises :class:`asyncio.TimeoutError` when nothing complete arrives in ``timeout``.
        """
        try:
            return await asyncio.wait_for(self._recv(), timeout)
        except (asyncio.IncompleteReadError, ConnectionResetError):
            return None

    async def _recv(self) -> Frame:
        first, second = await self.reader.readexactly(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
        masked = bool(second & 0x80)
        key = await self.reader.readexactly(4) if masked else b""
        payload = await self.reader.readexactly(length)
        if masked:
            payload = apply_mask(payload, key)
        return Frame(
            fin=bool(first & 0x80),
            rsv1=bool(first & 0x40),
            rsv2=bool(first & 0x20),
            rsv3=bool(first & 0x10),
            opcode=first & 0x0F,
            masked=masked,
            payload=payload,
        )

    async def recv_until_close(self, timeout: float = 3.0) -> tuple[list[Frame], Frame | None]:
        """Frames received before a Close, and that Close (``None`` if the stream ended)."""
        frames: list[Frame] = []
        while True:
            received = await self.recv(timeout)
            if received is None:
                return frames, None
            if received.opcode == CLOSE:
                return frames, received
            frames.append(received)

    async def expect_close(self, code: int, timeout: float = 3.0) -> list[Frame]:
        """Read until the server's Close; check its code and that TCP then ends."""
        frames, closing = await self.recv_until_close(timeout)
        assert closing is not None, f"no Close frame; got {frames!r}"
        assert closing.close_code == code, (closing.close_code, closing.close_reason, frames)
        assert await self.at_eof(timeout), "the server did not close the TCP connection"
        return frames

    async def at_eof(self, timeout: float = 3.0) -> bool:
        """True once the server ended the stream (bytes before that are discarded)."""

        async def drain_to_eof() -> None:
            while await self.reader.read(65536):
                pass

        try:
            await asyncio.wait_for(drain_to_eof(), timeout)
        except asyncio.TimeoutError:
            return False
        except ConnectionResetError:
            return True
        return True

    async def aclose(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


def handshake_key() -> str:
    return base64.b64encode(os.urandom(16)).decode("ascii")


def parse_frames(data: bytes) -> list[Frame]:
    """Split server bytes into frames (every frame must be complete)."""
    frames = []
    view = memoryview(data)
    pos = 0
    while pos < len(view):
        first, second = view[pos], view[pos + 1]
        pos += 2
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", view[pos : pos + 2])
            pos += 2
        elif length == 127:
            (length,) = struct.unpack("!Q", view[pos : pos + 8])
            pos += 8
        masked = bool(second & 0x80)
        key = bytes(view[pos : pos + 4]) if masked else b""
        pos += 4 if masked else 0
        payload = bytes(view[pos : pos + length])
        assert len(payload) == length, "truncated frame"
        pos += length
        frames.append(
            Frame(
                fin=bool(first & 0x80),
                rsv1=bool(first & 0x40),
                rsv2=bool(first & 0x20),
                rsv3=bool(first & 0x10),
                opcode=first & 0x0F,
                masked=masked,
                payload=apply_mask(payload, key) if masked else payload,
            )
        )
    return frames


def zero_bomb(size: int = 100 * 1024 * 1024, wbits: int = 15) -> bytes:
    """``size`` zero bytes deflated as one permessage-deflate payload (about size/1000).

    One MiB of zeros is deflated once and ended with a full flush, which resets
    the compressor: the same bytes can then be repeated to stand for every MiB.
    """
    mib = 1024 * 1024
    assert size % mib == 0
    compressor = zlib.compressobj(6, zlib.DEFLATED, -wbits)
    segment = compressor.compress(bytes(mib)) + compressor.flush(zlib.Z_FULL_FLUSH)
    assert segment.endswith(b"\x00\x00\xff\xff")
    return (segment * (size // mib))[:-4]
