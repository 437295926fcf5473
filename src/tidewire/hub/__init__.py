"""Realtime hub: named topics of WebSockets with presence, encode-once fan-out,
slow-consumer policies, and an in-memory or Redis backend.

Public names: :class:`Hub`, :class:`HubStats`, :class:`PresenceChange`,
:class:`SlowPolicy`, :class:`MemoryBackend`, :class:`RedisBackend` (needs the
``redis`` extra only when started), :class:`Backend` and :class:`BackendSink`
(to write another backend); for history and recovery :class:`HistoryOptions`,
:class:`Position`, :class:`Publication`, :class:`Recovery`; and
:func:`json_envelope` (the default message of a topic with history).
"""

from __future__ import annotations

from .backend import Backend, BackendSink, MemoryBackend
from .history import HistoryOptions, Position, Publication, Recovery
from .hub import Envelope, HistoryRule, Hub, HubStats, PresenceCallback, PresenceChange
from .outbox import SlowPolicy
from .recovery import json_envelope
from .redis_backend import RedisBackend

__all__ = [
    "Backend",
    "BackendSink",
    "Envelope",
    "HistoryOptions",
    "HistoryRule",
    "Hub",
    "HubStats",
    "MemoryBackend",
    "Position",
    "PresenceCallback",
    "PresenceChange",
    "Publication",
    "Recovery",
    "RedisBackend",
    "SlowPolicy",
    "json_envelope",
]
