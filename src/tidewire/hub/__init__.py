"""Realtime hub: named topics of WebSockets with presence, encode-once fan-out,
slow-consumer policies, and an in-memory or Redis backend.

Public names: :class:`Hub`, :class:`HubStats`, :class:`PresenceChange`,
:class:`SlowPolicy`, :class:`MemoryBackend`, :class:`RedisBackend` (needs the
``redis`` extra only when started), :class:`Backend` and :class:`BackendSink`
(to write another backend).
"""

from __future__ import annotations

from .backend import Backend, BackendSink, MemoryBackend
from .hub import Hub, HubStats, PresenceCallback, PresenceChange
from .outbox import SlowPolicy
from .redis_backend import RedisBackend

__all__ = [
    "Backend",
    "BackendSink",
    "Hub",
    "HubStats",
    "MemoryBackend",
    "PresenceCallback",
    "PresenceChange",
    "RedisBackend",
    "SlowPolicy",
]
