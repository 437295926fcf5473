"""Helpers shared by the HTTP tests: a tiny independent HTTP/1.1 response reader.

It reads responses off a raw asyncio stream the way a strict client would, so
the tests can look at the exact framing the server produced (status line,
headers, chunked bytes, connection close) without trusting the server's code.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

from multidict import CIMultiDict

STEP = 3.0  # upper bound for any single network wait in a test


@dataclass
class RawResponse:
    """One response as it was read from the wire."""

    version: str
    status: int
    reason: str
    headers: CIMultiDict[str]
    body: bytes
    raw_head: bytes
    raw_body: bytes = b""
    header_list: list[tuple[str, str]] = field(default_factory=list)

    @property
    def closes(self) -> bool:
        return "close" in self.headers.get("Connection", "").lower()


def _parse_head(head: bytes) -> tuple[str, int, str, CIMultiDict[str], list[tuple[str, str]]]:
    lines = head.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code, _, reason = rest.partition(" ")
    assert version.startswith("HTTP/"), f"bad status line {lines[0]!r}"
    headers: CIMultiDict[str] = CIMultiDict()
    pairs = []
    for line in lines[1:]:
        if not line:
            continue
        name, colon, value = line.partition(":")
        assert colon, f"bad header line {line!r}"
        assert name == name.strip(), f"whitespace around header name {name!r}"
        headers.add(name, value.strip())
        pairs.append((name, value.strip()))
    return version, int(code), reason, headers, pairs


async def read_response(
    reader: asyncio.StreamReader, *, method: str = "GET", timeout: float = STEP
) -> RawResponse:
    """Read exactly one response (interim 1xx responses are returned as such)."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    version, status, reason, headers, pairs = _parse_head(head[:-4])
    response = RawResponse(version, status, reason, headers, b"", head, b"", pairs)
    if 100 <= status < 200 or status in (204, 304) or method == "HEAD":
        return response
    if "chunked" in headers.get("Transfer-Encoding", "").lower():
        raw = bytearray()
        body = bytearray()
        while True:
            size_line = await asyncio.wait_for(reader.readuntil(b"\r\n"), timeout)
            raw += size_line
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                # trailer section: lines up to an empty one
                while True:
                    line = await asyncio.wait_for(reader.readuntil(b"\r\n"), timeout)
                    raw += line
                    if line == b"\r\n":
                        break
                break
            data = await asyncio.wait_for(reader.readexactly(size + 2), timeout)
            assert data.endswith(b"\r\n"), "chunk data not followed by CRLF"
            raw += data
            body += data[:-2]
        response.body = bytes(body)
        response.raw_body = bytes(raw)
    elif "Content-Length" in headers:
        length = int(headers["Content-Length"])
        response.body = await asyncio.wait_for(reader.readexactly(length), timeout)
        response.raw_body = response.body
    else:
        response.body = await asyncio.wait_for(reader.read(), timeout)
        response.raw_body = response.body
    return response


async def read_final_response(
    reader: asyncio.StreamReader, *, method: str = "GET", timeout: float = STEP
) -> RawResponse:
    """Read responses until a non-1xx one and return it."""
    while True:
        response = await read_response(reader, method=method, timeout=timeout)
        if response.status >= 200:
            return response


def parse_all(data: bytes, methods: tuple[str, ...] = ()) -> list[RawResponse]:
    """Split everything a server sent on one connection into responses (no event loop)."""
    out: list[RawResponse] = []
    rest = data
    while rest:
        end = rest.find(b"\r\n\r\n")
        assert end >= 0, f"incomplete response head {rest[:200]!r}"
        head, rest = rest[: end + 4], rest[end + 4 :]
        version, status, reason, headers, pairs = _parse_head(head[:-4])
        response = RawResponse(version, status, reason, headers, b"", head, b"", pairs)
        method = methods[len(out)] if len(out) < len(methods) else "GET"
        if 100 <= status < 200 or status in (204, 304) or method == "HEAD":
            pass
        elif "chunked" in headers.get("Transfer-Encoding", "").lower():
            body = bytearray()
            start = rest
            while True:
                line_end = rest.index(b"\r\n")
                size = int(rest[:line_end].split(b";")[0].strip(), 16)
                rest = rest[line_end + 2 :]
                if size == 0:
                    # optional trailer fields, then the empty line
                    if rest.startswith(b"\r\n"):
                        rest = rest[2:]
                    else:
                        rest = rest[rest.index(b"\r\n\r\n") + 4 :]
                    break
                assert rest[size : size + 2] == b"\r\n", "chunk data not followed by CRLF"
                body += rest[:size]
                rest = rest[size + 2 :]
            response.body = bytes(body)
            response.raw_body = start[: len(start) - len(rest)]
        elif "Content-Length" in headers:
            length = int(headers["Content-Length"])
            assert len(rest) >= length, "truncated body"
            response.body, rest = rest[:length], rest[length:]
            response.raw_body = response.body
        else:
            response.body, rest = rest, b""
            response.raw_body = response.body
        out.append(response)
    return out


async def open_conn(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.wait_for(asyncio.open_connection(host, port), STEP)


async def closed_by_peer(reader: asyncio.StreamReader, timeout: float = STEP) -> bool:
    """True when the peer closes the connection (EOF or reset) within ``timeout``."""
    try:
        data = await asyncio.wait_for(reader.read(65536), timeout)
    except (ConnectionResetError, BrokenPipeError):
        return True
    except asyncio.TimeoutError:
        return False
    assert data == b"", f"unexpected bytes before close: {data[:200]!r}"
    return True


async def read_until_close(
    reader: asyncio.StreamReader, timeout: float = STEP
) -> tuple[bytes, bool]:
    """Everything received until the peer closes; ``closed`` is False on timeout."""
    data = bytearray()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            return bytes(data), False
        try:
            chunk = await asyncio.wait_for(reader.read(65536), remaining)
        except asyncio.TimeoutError:
            return bytes(data), False
        except (ConnectionResetError, BrokenPipeError):
            return bytes(data), True
        if not chunk:
            return bytes(data), True
        data += chunk


async def drip_until_answered(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    body: bytes,
    *,
    interval: float = 0.2,
    limit: float = 10.0,
) -> RawResponse:
    """Send ``body`` one byte every ``interval`` seconds until a response comes (R.U.D.Y.).

    Gives up sending after ``limit`` seconds (or at the end of ``body``) and returns
    the response, which must then arrive within ``limit`` seconds.
    """
    response_task = asyncio.ensure_future(read_response(reader, timeout=limit))
    started = time.monotonic()
    sent = 0
    while not response_task.done() and time.monotonic() - started < limit and sent < len(body):
        writer.write(body[sent : sent + 1])
        sent += 1
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        await asyncio.wait({response_task}, timeout=interval)
    return await response_task


async def close_writer(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError, asyncio.TimeoutError):
        await asyncio.wait_for(writer.wait_closed(), 1.0)


def get(path: str = "/", *, host: str = "t", extra: str = "", version: str = "1.1") -> bytes:
    """A GET request's bytes."""
    return f"GET {path} HTTP/{version}\r\nHost: {host}\r\n{extra}\r\n".encode()
