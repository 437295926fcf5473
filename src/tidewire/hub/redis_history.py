"""Topic history in Redis Streams, for :class:`~tidewire.hub.RedisBackend`.

Keys, under the backend's ``prefix``::

    {prefix}:stream:{topic}   stream: one entry per publication, id "<offset>-0", field d = JSON
    {prefix}:meta:{topic}     hash: epoch (random hex), offset (the last one given)

Publishing is one Lua script (:data:`APPEND_SCRIPT`): it numbers the
publication, appends it to the stream (``XADD`` with ``MAXLEN``), refreshes the
TTL and ``PUBLISH``-es it on the topic's channel, all atomically. Redis runs one
script at a time, so the order of offsets is the order in which every process
receives the publications.

The epoch changes whenever the history may have been lost: when the meta hash or
the stream is missing (never written, expired, flushed, or a restarted Redis
without persistence), the script starts a new epoch at offset 1. A client that
recovers with the old epoch is then told that recovery failed, never handed a
silent gap.

The pub/sub payload of a publication is ``b"\\x02" + epoch + b":" + offset +
b":" + JSON`` (version byte 2; version 1 carries a ready frame, see
:mod:`tidewire.hub.redis_layout`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .history import HistoryOptions, HistorySlice, Position, Publication, new_epoch

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

__all__ = [
    "APPEND_SCRIPT",
    "PUBLICATION_VERSION",
    "RedisStreams",
    "entry_offset",
    "unpack_publication",
]

#: First byte of a pub/sub payload that carries a publication with a position.
PUBLICATION_VERSION = 2

#: KEYS meta hash, stream; ARGV new epoch, MAXLEN, TTL ms (0: none), channel, JSON.
#: Returns {epoch, offset}.
APPEND_SCRIPT = """
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if (not epoch) or redis.call('EXISTS', KEYS[2]) == 0 then
  epoch = ARGV[1]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'offset', 0)
end
local offset = redis.call('HINCRBY', KEYS[1], 'offset', 1)
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[2], offset .. '-0', 'd', ARGV[5])
if tonumber(ARGV[3]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
redis.call('PUBLISH', ARGV[4], '\\2' .. epoch .. ':' .. offset .. ':' .. ARGV[5])
return {epoch, offset}
"""


def unpack_publication(payload: bytes) -> tuple[str, int, str]:
    """``(epoch, offset, json)`` from a version-2 pub/sub payload; ValueError otherwise."""
    if not payload or payload[0] != PUBLICATION_VERSION:
        raise ValueError("not a tidewire publication")
    epoch, offset, data = payload[1:].split(b":", 2)
    return epoch.decode("ascii"), int(offset), data.decode("utf-8")


def entry_offset(entry_id: bytes) -> int:
    """The offset of a stream entry id ``b"<offset>-0"``."""
    return int(entry_id.partition(b"-")[0])


class RedisStreams:
    """Appends to and reads the streams of one key ``prefix``.

    The caller must call :meth:`register` with its client before anything else.
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._script: AsyncScript | None = None

    def stream_key(self, topic: str) -> str:
        """The stream holding ``topic``'s publications."""
        return f"{self.prefix}:stream:{topic}"

    def meta_key(self, topic: str) -> str:
        """The hash holding ``topic``'s epoch and last offset."""
        return f"{self.prefix}:meta:{topic}"

    def register(self, client: Redis) -> None:
        """Load the script on ``client`` (redis-py sends it again if Redis forgot it)."""
        self._script = client.register_script(APPEND_SCRIPT)

    async def append(
        self, topic: str, channel: bytes, data: str, options: HistoryOptions
    ) -> Position:
        """Number, store and publish ``data`` in one step; its position."""
        assert self._script is not None, "register() first"
        ttl_ms = round(options.ttl * 1000) if options.ttl is not None else 0
        keys = [self.meta_key(topic), self.stream_key(topic)]
        args: list[Any] = [new_epoch(), options.size, max(ttl_ms, 0), channel, data]
        epoch, offset = await self._script(keys=keys, args=args)
        return Position(epoch.decode("ascii"), int(offset))

    async def read(self, client: Redis, topic: str, after: int | None, limit: int) -> HistorySlice:
        """``topic``'s history at one instant (one MULTI/EXEC transaction)."""
        stream = self.stream_key(topic)
        pipe = client.pipeline(transaction=True)
        pipe.hmget(self.meta_key(topic), ["epoch", "offset"])
        pipe.exists(stream)
        if after is None:
            pipe.xrevrange(stream, "+", "-", count=max(limit, 1))
        else:
            pipe.xrange(stream, f"{after + 1}-0", "+", count=max(limit, 1))
        pipe.xrange(stream, "-", "+", count=1)
        (raw_epoch, raw_top), exists, entries, oldest = await pipe.execute()
        if raw_epoch is None or raw_top is None or not exists:
            return HistorySlice(None, 0, None)
        epoch = raw_epoch.decode("ascii")
        if after is None:
            entries = list(reversed(entries))[-limit:] if limit > 0 else []
        publications = [
            Publication(Position(epoch, entry_offset(entry_id)), fields[b"d"].decode("utf-8"))
            for entry_id, fields in entries
        ]
        first = entry_offset(oldest[0][0]) if oldest else None
        return HistorySlice(epoch, int(raw_top), first, publications)
