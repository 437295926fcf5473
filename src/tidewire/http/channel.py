"""The connection as requests and responses see it: :class:`ResponseChannel`.

The HTTP protocol makes one channel per connection and keeps it up to date;
requests read the connection's facts from it and responses write through it.
Applications never get the protocol object itself: what they may do with the
connection is what the channel offers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Protocol

from ..flow import WriteFlow

if TYPE_CHECKING:
    from .request import BaseRequest

__all__ = ["ResponseChannel", "UpgradedProtocol"]


class UpgradedProtocol(Protocol):
    """What takes over a connection after an accepted upgrade (a WebSocket, say).

    The HTTP side calls, in this order: :meth:`on_connection_lost` with a
    zero-argument callback, then (after ``transport.set_protocol(receiver)``)
    :meth:`connection_made`, :meth:`pause_writing` if the transport's buffer is
    full, and :meth:`data_received` with the bytes that followed the request
    head. From then on the transport calls the receiver directly.

    The receiver must call the callback exactly once, from its own
    :meth:`connection_lost`: the server then forgets the connection and, with
    ``handler_cancellation=True``, cancels the handler's task if it is still
    running. :meth:`begin_shutdown` is called when the server shuts down
    gracefully, :meth:`handler_failed` when the handler that upgraded raised.
    """

    def on_connection_lost(self, callback: Callable[[], None]) -> None: ...

    def connection_made(self, transport: asyncio.BaseTransport) -> None: ...

    def data_received(self, data: bytes) -> None: ...

    def eof_received(self) -> bool | None: ...

    def connection_lost(self, exc: Exception | None) -> None: ...

    def pause_writing(self) -> None: ...

    def resume_writing(self) -> None: ...

    def begin_shutdown(self) -> None: ...

    def handler_failed(self) -> None: ...


class _HandOver(Protocol):
    def __call__(self, request: BaseRequest, receiver: UpgradedProtocol) -> None: ...


class ResponseChannel:
    """One connection's writing side and facts, shared by its requests and responses.

    Responses call :meth:`send` and, when :attr:`writing_paused`, :meth:`drain`.
    ``closing`` is True once the server decided to close the connection after
    the current response (shutdown, a framing error): responses then say
    ``Connection: close``. ``started`` is True once a byte of the current
    response was sent (the protocol resets it per request). ``task`` is the
    connection's task, which runs the handlers of its requests one after the
    other (set once per connection, when the first request starts).
    """

    __slots__ = (
        "_hand_over",
        "_write_flow",
        "closing",
        "local_host",
        "remote",
        "secure",
        "server_header",
        "started",
        "task",
        "transport",
    )

    def __init__(self, server_header: str, write_flow: WriteFlow, hand_over: _HandOver) -> None:
        self.server_header = server_header
        self.transport: asyncio.Transport | None = None
        self.secure = False
        self.remote: str | None = None
        self.local_host = "localhost"
        self.closing = False
        self.started = False
        self.task: asyncio.Task[None] | None = None
        self._write_flow = write_flow
        self._hand_over = hand_over

    def learn(self, transport: asyncio.Transport) -> None:
        """Record the transport and the connection facts (once, when it is made)."""
        self.transport = transport
        self.secure = transport.get_extra_info("sslcontext") is not None
        peer = transport.get_extra_info("peername")
        if isinstance(peer, (tuple, list)):
            self.remote = str(peer[0])
        else:
            self.remote = str(peer) if peer else None
        sock = transport.get_extra_info("sockname")
        if isinstance(sock, (tuple, list)):
            self.local_host = f"{sock[0]}:{sock[1]}"

    def send(self, data: bytes) -> None:
        """Write ``data`` to the transport; ``ConnectionResetError`` once it is closing."""
        transport = self.transport
        if transport is None or transport.is_closing():
            raise ConnectionResetError("cannot write: connection closed")
        self.started = True
        transport.write(data)

    @property
    def writing_paused(self) -> bool:
        """True while the transport's write buffer is above its high-water mark."""
        return self._write_flow.paused

    async def drain(self) -> None:
        """Wait until the transport's buffer is below its low-water mark.

        Raises ``ConnectionResetError`` once the connection is lost.
        """
        await self._write_flow.drain()

    async def sendfile(self, file: IO[bytes], offset: int, count: int) -> bool:
        """Send ``count`` bytes of ``file`` from ``offset`` with ``loop.sendfile``.

        The kernel copies the file to the socket (``os.sendfile``), after what is
        already queued on the transport. Returns False, having sent nothing, when
        the transport has no native sendfile (TLS, uvloop): the caller must then
        send the bytes with :meth:`send`. Raises ``ConnectionResetError`` when the
        connection is gone or breaks mid-file.
        """
        transport = self.transport
        if transport is None or transport.is_closing():
            raise ConnectionResetError("cannot write: connection closed")
        loop = asyncio.get_running_loop()
        try:
            await loop.sendfile(transport, file, offset, count, fallback=False)
        except (RuntimeError, NotImplementedError):
            # Raised before any byte is sent: no native sendfile, or the transport closing.
            if transport.is_closing():
                raise ConnectionResetError("connection closed before the file was sent") from None
            return False
        except OSError as exc:
            raise ConnectionResetError(f"connection broke mid-file: {exc!r}") from exc
        self.started = True
        return True

    def hand_over(self, request: BaseRequest, receiver: UpgradedProtocol) -> None:
        """Give the connection to ``receiver`` (see :meth:`BaseRequest.hand_over`)."""
        self._hand_over(request, receiver)
