"""How the Redis backend lays out its data, as pure functions (no connection needed).

Keys and channels, all under one ``prefix`` (default ``tidewire``)::

    {prefix}:node:{node}        string, PX = presence TTL; a node is alive while it exists
    {prefix}:presence:{topic}   hash  {node}/{entry} -> member name; PX = presence TTL
    {prefix}:topic:{topic}      pub/sub channel carrying framed messages

Each server process is a *node* with a random id. Its heartbeat re-sets its node
key (and re-asserts its presence entries) every TTL/3, so a node that dies stops
counting after at most one TTL: readers drop entries whose node key expired.
Liveness is decided by Redis' own key expiry, so clocks of the machines need not
agree.

Messages travel already framed: the publishing node builds the WebSocket frame
once, and every node writes those bytes as they are to its sockets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = [
    "ENVELOPE_VERSION",
    "JOIN_SCRIPT",
    "LEAVE_SCRIPT",
    "PresenceEntries",
    "RedisLayout",
    "entry_field",
    "node_of",
    "pack_frame",
    "unpack_frame",
]

#: First byte of every pub/sub payload; bump it if the envelope ever changes.
ENVELOPE_VERSION = 1
_VERSION_BYTE = bytes([ENVELOPE_VERSION])
# FIN set, opcode TEXT or BINARY, unmasked: what PreparedMessage builds (RFC 6455 section 5.2).
_FRAME_FIRST_BYTES = frozenset({0x81, 0x82})


# Presence changes are decided inside Redis, atomically, so that two processes
# adding (or removing) the same name at once report exactly one join (or leave).

#: KEYS[1] presence hash; ARGV field, member, TTL in ms. Returns 1 if the name is new.
JOIN_SCRIPT = """
local values = redis.call('HVALS', KEYS[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
for _, value in ipairs(values) do
  if value == ARGV[2] then return 0 end
end
return 1
"""

#: KEYS[1] presence hash; ARGV field, member. Returns 1 if this removed the name's last entry.
LEAVE_SCRIPT = """
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
for _, value in ipairs(redis.call('HVALS', KEYS[1])) do
  if value == ARGV[2] then return 0 end
end
return 1
"""


class RedisLayout:
    """Key and channel names for one ``prefix``."""

    def __init__(self, prefix: str = "tidewire") -> None:
        if not prefix:
            raise ValueError("prefix must not be empty")
        self.prefix = prefix
        self._channel_head = f"{prefix}:topic:".encode()

    def node_key(self, node: str) -> str:
        """The liveness key of ``node``."""
        return f"{self.prefix}:node:{node}"

    def presence_key(self, topic: str) -> str:
        """The hash of presence entries of ``topic``."""
        return f"{self.prefix}:presence:{topic}"

    def channel(self, topic: str) -> bytes:
        """The pub/sub channel of ``topic``."""
        return self._channel_head + topic.encode()

    def topic_of(self, channel: bytes) -> str | None:
        """The topic a channel name belongs to; ``None`` for a foreign channel."""
        if not channel.startswith(self._channel_head):
            return None
        return channel[len(self._channel_head) :].decode("utf-8", "replace")


def entry_field(node: str, entry: str) -> str:
    """The hash field of presence entry ``entry`` of ``node``."""
    if "/" in node:
        raise ValueError("a node id must not contain '/'")
    return f"{node}/{entry}"


def node_of(field: str) -> str:
    """The node that owns a presence hash field."""
    return field.partition("/")[0]


def pack_frame(frame: bytes) -> bytes:
    """The pub/sub payload carrying ``frame`` (a complete, unmasked server frame)."""
    return _VERSION_BYTE + frame


def unpack_frame(payload: bytes) -> bytes:
    """The frame in a pub/sub payload; :class:`ValueError` if it is not one of ours."""
    if len(payload) < 3 or payload[0] != ENVELOPE_VERSION or payload[1] not in _FRAME_FIRST_BYTES:
        raise ValueError("not a tidewire hub envelope")
    return payload[1:]


@dataclass(frozen=True, slots=True)
class PresenceEntries:
    """A topic's presence hash split by the liveness of each entry's node.

    Build it with :meth:`split`; the caller must then delete the ``dead`` fields
    (one ``HDEL`` per field, to learn which deletions were its own) and report
    :meth:`vanished` names for the fields it did delete.
    """

    live: Mapping[str, str]
    dead: Mapping[str, str]

    @classmethod
    def split(
        cls,
        entries: Mapping[str, str],
        alive_nodes: Iterable[str],
        retired: Iterable[str] = (),
    ) -> PresenceEntries:
        """Split ``entries`` (field -> member) by whether the field's node is alive.

        ``retired`` fields count as dead whatever their node: a live node's
        entries that it no longer holds (a leave that failed or lost a race).
        """
        alive = set(alive_nodes)
        gone = set(retired)
        live: dict[str, str] = {}
        dead: dict[str, str] = {}
        for field, member in entries.items():
            (live if node_of(field) in alive and field not in gone else dead)[field] = member
        return cls(live, dead)

    @staticmethod
    def nodes(entries: Iterable[str]) -> list[str]:
        """The distinct nodes owning ``entries`` (hash fields), in first-seen order."""
        return list(dict.fromkeys(node_of(field) for field in entries))

    def members(self) -> list[str]:
        """Names present (live entries only), sorted."""
        return sorted(set(self.live.values()))

    def vanished(self, deleted_fields: Iterable[str]) -> list[str]:
        """Names that left with the ``deleted_fields``: no live entry carries them."""
        remaining = set(self.live.values())
        names = {self.dead[field] for field in deleted_fields if field in self.dead}
        return sorted(names - remaining)
