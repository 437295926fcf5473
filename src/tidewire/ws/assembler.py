"""Reassembly of fragmented messages under a size limit (RFC 6455 section 5.4)."""

from __future__ import annotations

from wsproto.events import BytesMessage, TextMessage

from .messages import WSMessage, WSMsgType

__all__ = ["MessageAssembler", "MessageTooBig"]


class MessageTooBig(Exception):
    """A message passed ``max_size`` bytes; the caller must close with 1009."""


class MessageAssembler:
    """Joins wsproto's partial message events into whole :class:`WSMessage` objects.

    Feed every ``TextMessage``/``BytesMessage`` event to :meth:`add`; it returns
    the message when its last piece arrived, else ``None``. ``max_size`` (0: no
    limit) counts payload bytes (UTF-8 bytes for text) as they arrive, so an
    oversized message is refused before it is held whole.
    """

    __slots__ = ("_max_size", "_parts", "_size")

    def __init__(self, max_size: int) -> None:
        self._max_size = max_size
        self._parts: list[str] | list[bytes] = []
        self._size = 0

    def add(self, event: TextMessage | BytesMessage) -> WSMessage | None:
        """Add one piece; return the whole message once ``message_finished``."""
        data = event.data
        if self._max_size:
            if isinstance(data, str) and not data.isascii():
                self._size += len(data.encode("utf-8"))
            else:
                self._size += len(data)
            if self._size > self._max_size:
                raise MessageTooBig(f"message larger than {self._max_size} bytes")
        parts = self._parts
        if not event.message_finished:
            parts.append(data)  # type: ignore[arg-type]
            return None
        if parts:
            parts.append(data)  # type: ignore[arg-type]
            data = "".join(parts) if isinstance(data, str) else b"".join(parts)  # type: ignore[arg-type]
            self._parts = []
        self._size = 0
        if isinstance(data, str):
            return WSMessage(WSMsgType.TEXT, data, None)
        return WSMessage(WSMsgType.BINARY, bytes(data), None)
