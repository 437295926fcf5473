"""tidewire: a WebSocket-first realtime server toolkit for asyncio.

Everything public is exported by :mod:`tidewire.web` (``from tidewire import web``).
"""

__version__ = "0.1.0"
