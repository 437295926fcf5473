"""The upgrade hand-over: giving an accepted upgrade's connection to its receiver.

The HTTP side knows nothing of what takes over (a WebSocket, say): an upgrade
is a generic hand-over of the transport and of the bytes already read after the
request head, in the order :class:`~.channel.UpgradedProtocol` documents.
:class:`UpgradeHandOver` is a part of :class:`~.protocol.HTTPProtocol` (a mixin
that holds no state of its own); holding those bytes while the handler decides,
and reading on when it declines, is the reading side's job in :mod:`.protocol`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, cast

from ..flow import WriteFlow
from .channel import UpgradedProtocol
from .deadline import Deadline
from .request import BaseRequest

__all__ = ["UpgradeHandOver"]


class UpgradeHandOver:
    """Hands the connection over; mixed into :class:`~.protocol.HTTPProtocol`.

    The connection must set up every attribute declared below in its
    ``__init__`` and provide ``_upgraded_lost()``, the callback the receiver
    calls once when the connection ends, and ``_release_http_reading()``,
    which drops what only reading HTTP needs, so that an idle upgraded
    connection keeps none of it. It passes :meth:`_hand_over` to its
    :class:`~.channel.ResponseChannel`, through which
    :meth:`BaseRequest.hand_over` reaches it.
    """

    # Connection state this part reads and writes (HTTPProtocol.__init__ sets it).
    transport: asyncio.Transport | None
    _write_flow: WriteFlow
    _deadline: Deadline
    _closed: bool
    _shutting_down: bool
    _read_paused: int
    _upgrade_request: BaseRequest | None
    _upgrade_tail: bytes | None
    _upgraded: UpgradedProtocol | None

    if TYPE_CHECKING:

        def _upgraded_lost(self) -> None: ...

        def _release_http_reading(self) -> None: ...

    def _hand_over(self, request: BaseRequest, receiver: UpgradedProtocol) -> None:
        """Give the connection to ``receiver`` (:meth:`BaseRequest.hand_over`)."""
        tail = self._upgrade_tail
        transport = self.transport
        if tail is None or request is not self._upgrade_request:
            raise RuntimeError("this request is not an upgrade without a body")
        if transport is None or self._closed:
            raise RuntimeError("the connection is closed")
        self._upgrade_tail = self._upgrade_request = None
        self._upgraded = receiver
        self._deadline.cancel()
        self._release_http_reading()
        request.head.compact()  # the request may live as long as the connection
        receiver.on_connection_lost(self._upgraded_lost)
        # From now on the transport calls the receiver (it is an asyncio protocol in all but name).
        transport.set_protocol(cast(asyncio.BaseProtocol, receiver))
        receiver.connection_made(transport)
        if self._write_flow.paused:
            receiver.pause_writing()
        if self._read_paused:
            self._read_paused = 0
            transport.resume_reading()
        if tail:
            receiver.data_received(tail)
        if self._shutting_down:
            receiver.begin_shutdown()
