"""``TestClient``: a small HTTP/1.1 client for tests, on the same parser limits as the server.

It sends one request at a time and keeps the connection while the server
keeps it alive. Responses are read whole with
:class:`~tidewire.http.response_reader.ResponseReader` (httptools, the server's
head limits); ``max_body`` bounds a body.
"""

from __future__ import annotations

import asyncio
import contextlib
import json as jsonlib
import ssl
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

from multidict import CIMultiDictProxy

from ..http.response_reader import BadResponse, ResponseReader

__all__ = ["TestClient", "TestResponse"]

_READ_SIZE = 65536


class TestResponse:
    """A whole response: ``status``, ``reason``, ``headers`` and ``body`` (bytes)."""

    __test__ = False
    __slots__ = ("body", "headers", "reason", "status")

    def __init__(
        self, status: int, reason: str, headers: CIMultiDictProxy[str], body: bytes
    ) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body

    def text(self, encoding: str = "utf-8") -> str:
        """The body decoded (UTF-8 unless told otherwise)."""
        return self.body.decode(encoding)

    def json(self) -> Any:
        """The body parsed as JSON."""
        return jsonlib.loads(self.body)

    def __repr__(self) -> str:
        return f"<TestResponse {self.status} {self.reason} {len(self.body)} bytes>"


class TestClient:
    """HTTP requests to one server: ``await client.get("/path")`` returns a :class:`TestResponse`.

    ``base_url`` is ``http://host:port`` (or ``https://`` with ``ssl``: an
    :class:`ssl.SSLContext`, or ``False`` to skip verification). Each call waits
    ``timeout`` seconds at most for the whole response and raises
    :class:`asyncio.TimeoutError` past it; a body larger than ``max_body`` bytes
    raises :class:`~tidewire.http.response_reader.BadResponse`. The caller must
    :meth:`close` it (or use ``async with``) to release the kept connection.
    """

    __test__ = False

    def __init__(
        self,
        base_url: str,
        *,
        ssl: ssl.SSLContext | bool | None = None,
        timeout: float = 10.0,
        max_body: int = 16 * 1024 * 1024,
    ) -> None:
        scheme, _, rest = base_url.partition("://")
        if scheme not in ("http", "https") or not rest:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        hostport = rest.split("/", 1)[0]
        host, _, port = hostport.rpartition(":")
        if not host:
            host, port = hostport, ("443" if scheme == "https" else "80")
        self.base_url = f"{scheme}://{hostport}"
        self._host = host.strip("[]")
        self._port = int(port)
        self._hostport = hostport
        self._ssl = _client_ssl(ssl) if scheme == "https" else None
        self._timeout = timeout
        self._max_body = max_body
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(
        self,
        method: str,
        path: str = "/",
        *,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        data: bytes | str | None = None,
        json: Any = None,
    ) -> TestResponse:
        """Send ``method path`` with ``headers`` and a body (``data``, or ``json`` serialized).

        ``Host``, ``Content-Length`` and, for ``json``, ``Content-Type`` are added
        unless given.
        """
        if json is not None:
            data = jsonlib.dumps(json)
        body = data.encode("utf-8") if isinstance(data, str) else (data or b"")
        pairs = list(headers.items() if isinstance(headers, Mapping) else headers)
        names = {name.lower() for name, _ in pairs}
        if "host" not in names:
            pairs.insert(0, ("Host", self._hostport))
        if json is not None and "content-type" not in names:
            pairs.append(("Content-Type", "application/json"))
        if (body or method in ("POST", "PUT", "PATCH")) and "content-length" not in names:
            pairs.append(("Content-Length", str(len(body))))
        head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{n}: {v}\r\n" for n, v in pairs)
        message = head.encode("latin-1") + b"\r\n" + body
        return await asyncio.wait_for(self._exchange(message, method == "HEAD"), self._timeout)

    async def get(self, path: str = "/", **kwargs: Any) -> TestResponse:
        """``GET path`` (keywords as :meth:`request`)."""
        return await self.request("GET", path, **kwargs)

    async def head(self, path: str = "/", **kwargs: Any) -> TestResponse:
        """``HEAD path`` (keywords as :meth:`request`)."""
        return await self.request("HEAD", path, **kwargs)

    async def post(self, path: str = "/", **kwargs: Any) -> TestResponse:
        """``POST path`` (keywords as :meth:`request`)."""
        return await self.request("POST", path, **kwargs)

    async def put(self, path: str = "/", **kwargs: Any) -> TestResponse:
        """``PUT path`` (keywords as :meth:`request`)."""
        return await self.request("PUT", path, **kwargs)

    async def delete(self, path: str = "/", **kwargs: Any) -> TestResponse:
        """``DELETE path`` (keywords as :meth:`request`)."""
        return await self.request("DELETE", path, **kwargs)

    async def _exchange(self, message: bytes, head_only: bool) -> TestResponse:
        reused = self._writer is not None
        try:
            return await self._exchange_once(message, head_only)
        except (ConnectionError, _KeptConnectionClosed) as exc:
            if not reused:
                if isinstance(exc, _KeptConnectionClosed):
                    raise BadResponse("closed without a response") from None
                raise
        # The server closed a kept-alive connection between requests: retry once, fresh.
        return await self._exchange_once(message, head_only)

    async def _exchange_once(self, message: bytes, head_only: bool) -> TestResponse:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(
                self._host,
                self._port,
                ssl=self._ssl,
                server_hostname=self._host if self._ssl is not None else None,
            )
        try:
            return await self._read_response(message, head_only)
        except BaseException:
            self._drop()  # a half-read response (timeout, error) leaves the connection unusable
            raise

    async def _read_response(self, message: bytes, head_only: bool) -> TestResponse:
        reader, writer = self._reader, self._writer
        assert reader is not None and writer is not None
        writer.write(message)
        parser = ResponseReader(head_only=head_only, max_body=self._max_body)
        received = 0
        while not parser.complete:
            data = await reader.read(_READ_SIZE)
            if not data:
                self._drop()
                if received == 0:
                    raise _KeptConnectionClosed
                parser.feed_eof()
                break
            received += len(data)
            parser.feed(data)
        head = parser.head
        assert head is not None
        if head_only or not head.keep_alive or head.status == 101:
            self._drop()
        return TestResponse(head.status, head.reason, head.headers, parser.body)

    def _drop(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()

    async def close(self) -> None:
        """Close the kept connection, if any."""
        writer = self._writer
        self._drop()
        if writer is not None:
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await writer.wait_closed()

    async def __aenter__(self) -> TestClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class _KeptConnectionClosed(Exception):
    """The server closed the connection before answering anything."""


def _client_ssl(option: ssl.SSLContext | bool | None) -> ssl.SSLContext:
    if isinstance(option, ssl.SSLContext):
        return option
    context = ssl.create_default_context()
    if option is False:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
