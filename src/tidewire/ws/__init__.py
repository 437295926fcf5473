"""The WebSocket side of tidewire (RFC 6455, RFC 7692).

Public names are re-exported by :mod:`tidewire.web`. :data:`ENGINE` names the
frame engine in use: ``"compiled"`` or ``"wsproto"`` (see :mod:`tidewire.ws.engines`).
"""

from .engines import ENGINE

__all__ = ["ENGINE"]
