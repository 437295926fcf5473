"""The Redis backend: several server processes share topics and presence.

Messages go through Redis pub/sub (one channel per topic, subscribed while the
process has local subscribers); presence lives in one hash per topic whose
entries die with their process (see :mod:`tidewire.hub.redis_layout` for the key
layout and the liveness rule). Needs redis-py (``pip install tidewire[redis]``).

Pub/sub delivers at most once: a process that loses its Redis connection misses
what was published until it has reconnected. The backend notices a broken or
silent pub/sub connection itself (a PING unanswered within ``ping_timeout``),
reconnects it, and redis-py's connect callback then subscribes again to the
watched channels.

Topics with history are kept in Redis Streams (see
:mod:`tidewire.hub.redis_history`): numbering, storing and publishing a
publication is one atomic script, so every process receives a topic's
publications in offset order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import TYPE_CHECKING, Any

from ..ws.prepared import PreparedMessage
from .backend import BackendSink
from .history import HistoryOptions, HistorySlice, Position, Publication
from .redis_history import PUBLICATION_VERSION, RedisStreams, unpack_publication
from .redis_layout import (
    JOIN_SCRIPT,
    LEAVE_SCRIPT,
    PresenceEntries,
    RedisLayout,
    entry_field,
    pack_frame,
    unpack_frame,
)

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import PubSub
    from redis.commands.core import AsyncScript

__all__ = ["RedisBackend"]

logger = logging.getLogger("tidewire.hub.redis")

_MAX_RETRY_DELAY = 5.0
_PUBLICATION_BYTE = bytes([PUBLICATION_VERSION])


class RedisBackend:
    """Share a hub's topics and presence between processes through Redis.

    Options:

    - ``url``: where Redis is (``redis://host:port/db``); or pass ``client``, a
      ``redis.asyncio.Redis`` made with ``decode_responses=False`` (the hub then
      does not close it).
    - ``prefix``: namespace of every key and channel (several apps may share a Redis).
    - ``presence_ttl``: seconds after which a dead process' members are gone
      (30 s). The heartbeat (default ``presence_ttl / 3``) refreshes this
      process' entries; every process of an app must use the same TTL.
    - ``node_id``: this process' id in presence entries (random by default).
    - ``watch_timeout``: seconds to wait for Redis to confirm a subscription.
    - ``ping_interval``/``ping_timeout``: the pub/sub connection is pinged after
      ``ping_interval`` seconds of silence (5 s) and reconnected when no answer
      came within ``ping_timeout`` (5 s): a half-open connection costs at most
      their sum of missed messages.
    - ``socket_timeout``: seconds a command may wait for Redis (5 s), for the
      client made from ``url`` (with TCP keep-alive); a ``client`` keeps its own.

    If this process stalls longer than ``presence_ttl`` (others then report its
    members gone), the next heartbeat writes its entries back through the join
    script and reports the names that came back as joins.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        client: Redis | None = None,
        prefix: str = "tidewire",
        presence_ttl: float = 30.0,
        heartbeat: float | None = None,
        node_id: str | None = None,
        watch_timeout: float = 5.0,
        ping_interval: float = 5.0,
        ping_timeout: float = 5.0,
        socket_timeout: float = 5.0,
    ) -> None:
        if presence_ttl <= 0:
            raise ValueError("presence_ttl must be positive")
        if ping_interval <= 0 or ping_timeout <= 0 or socket_timeout <= 0:
            raise ValueError("ping_interval, ping_timeout and socket_timeout must be positive")
        self._url = url
        self._client: Redis | None = client
        self._own_client = client is None
        self.layout = RedisLayout(prefix)
        self.streams = RedisStreams(prefix)
        self.presence_ttl = presence_ttl
        self._ttl_ms = max(1, round(presence_ttl * 1000))
        self._interval = heartbeat if heartbeat is not None else presence_ttl / 3
        self.node_id = node_id or uuid.uuid4().hex[:16]
        entry_field(self.node_id, "")  # validates the id
        self._watch_timeout = watch_timeout
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._socket_timeout = socket_timeout
        self._sink: BackendSink | None = None
        self._pubsub: PubSub | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._watched: set[str] = set()
        self._watch_lock = asyncio.Lock()
        self._confirmations: dict[bytes, asyncio.Future[None]] = {}
        self._entries: dict[str, dict[str, str]] = {}  # topic -> field -> member (ours)
        self._written: set[str] = set()  # topics whose hash may hold fields of ours
        self._join_script: AsyncScript | None = None
        self._leave_script: AsyncScript | None = None

    @property
    def client(self) -> Redis:
        """The Redis client (for an application's own keys, e.g. a chat history)."""
        if self._client is None:
            raise RuntimeError("the backend is not started")
        return self._client

    # lifecycle ----------------------------------------------------------------------

    async def start(self, sink: BackendSink) -> None:
        if self._client is None:
            from redis.asyncio import Redis

            self._client = Redis.from_url(
                self._url,
                socket_timeout=self._socket_timeout,
                socket_connect_timeout=self._socket_timeout,
                socket_keepalive=True,
            )
        client = self._client
        if client.connection_pool.connection_kwargs.get("decode_responses"):
            raise ValueError("the Redis client must be made with decode_responses=False")
        await client.ping()  # fail now, not at the first publish
        self._sink = sink
        self._join_script = client.register_script(JOIN_SCRIPT)
        self._leave_script = client.register_script(LEAVE_SCRIPT)
        self.streams.register(client)
        pubsub = client.pubsub()
        try:
            await pubsub.connect()  # type: ignore[no-untyped-call]
            await self._beat()
        except BaseException:
            await pubsub.aclose()  # type: ignore[no-untyped-call]
            raise
        self._pubsub = pubsub
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._listen()), loop.create_task(self._heartbeat())]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        self._sink = None
        client = self._client
        if client is None:
            return
        with contextlib.suppress(Exception):
            pipe = client.pipeline(transaction=False)
            for topic, entries in self._entries.items():
                pipe.hdel(self.layout.presence_key(topic), *entries)
            pipe.delete(self.layout.node_key(self.node_id))
            await pipe.execute()
        self._entries.clear()
        self._written.clear()
        self._watched.clear()
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()  # type: ignore[no-untyped-call]
            self._pubsub = None
        if self._own_client:
            await client.aclose()
            self._client = None

    # messages -----------------------------------------------------------------------

    async def publish(self, topic: str, message: PreparedMessage) -> None:
        await self.client.publish(self.layout.channel(topic), pack_frame(message.frame))

    async def append(self, topic: str, data: str, options: HistoryOptions) -> Position:
        return await self.streams.append(topic, self.layout.channel(topic), data, options)

    async def history(self, topic: str, after: int | None, limit: int) -> HistorySlice:
        return await self.streams.read(self.client, topic, after, limit)

    async def watch(self, topic: str) -> None:
        async with self._watch_lock:  # FIFO: ordered with unwatch calls
            if topic in self._watched:
                return
            assert self._pubsub is not None
            channel = self.layout.channel(topic)
            confirmed = asyncio.get_running_loop().create_future()
            self._confirmations[channel] = confirmed
            try:
                await self._pubsub.subscribe(channel)
                await asyncio.wait_for(confirmed, self._watch_timeout)
            finally:
                self._confirmations.pop(channel, None)
            self._watched.add(topic)

    async def unwatch(self, topic: str) -> None:
        async with self._watch_lock:
            if topic not in self._watched:
                return
            self._watched.discard(topic)
            assert self._pubsub is not None
            await self._pubsub.unsubscribe(self.layout.channel(topic))

    async def _listen(self) -> None:
        """Read the pub/sub connection forever; reconnect with backoff when it fails."""
        pubsub = self._pubsub
        assert pubsub is not None
        delay = 0.1
        while True:
            try:
                await self._read(pubsub)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning(
                    "Redis pub/sub connection lost (%s); reconnecting in %.1fs", exc, delay
                )
            if pubsub.connection is not None:
                with contextlib.suppress(Exception):
                    await pubsub.connection.disconnect()
            await asyncio.sleep(delay)
            delay = min(delay * 2, _MAX_RETRY_DELAY)
            try:
                await pubsub.connect()  # type: ignore[no-untyped-call]  # subscribes again
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("Redis pub/sub reconnect failed: %s", exc)
                continue
            delay = 0.1

    async def _read(self, pubsub: PubSub) -> None:
        """Dispatch messages until the connection fails or a PING goes unanswered.

        Never waits without a deadline: after ``ping_interval`` seconds of silence
        it sends a PING, and raises :class:`ConnectionError` when nothing at all
        came back within ``ping_timeout`` (a half-open TCP connection).
        """
        loop = asyncio.get_running_loop()
        heard = loop.time()
        pinged: float | None = None
        poll = min(self._ping_interval, self._ping_timeout) / 4
        while True:
            message = await pubsub.get_message(timeout=poll)
            now = loop.time()
            if message is not None:
                heard, pinged = now, None
                await self._dispatch(message)
                continue
            if pinged is not None:
                if now - pinged > self._ping_timeout:
                    raise ConnectionError(f"no answer to PING within {self._ping_timeout}s")
            elif now - heard >= self._ping_interval:
                await pubsub.ping()
                pinged = now

    async def _dispatch(self, message: dict[str, Any]) -> None:
        kind, channel = message["type"], message["channel"]
        if kind == "message":
            topic = self.layout.topic_of(channel)
            data = message["data"]
            if data[:1] == _PUBLICATION_BYTE:
                try:
                    epoch, offset, text = unpack_publication(data)
                except ValueError:
                    logger.warning("ignoring a malformed publication on %r", channel)
                    return
                if topic is not None and self._sink is not None:
                    publication = Publication(Position(epoch, offset), text)
                    await self._sink.deliver_publication(topic, publication)
                return
            try:
                frame = unpack_frame(message["data"])
            except ValueError:
                logger.warning("ignoring a foreign message on %r", channel)
                return
            if topic is not None and self._sink is not None:
                await self._sink.deliver(topic, PreparedMessage(frame, len(frame)))
        elif kind == "subscribe":
            confirmed = self._confirmations.get(channel)
            if confirmed is not None and not confirmed.done():
                confirmed.set_result(None)

    # presence -----------------------------------------------------------------------

    async def join(self, topic: str, entry: str, member: str) -> bool:
        await self._snapshot([topic])  # prune the dead first: they must not hide a join
        field = entry_field(self.node_id, entry)
        self._entries.setdefault(topic, {})[field] = member
        self._written.add(topic)
        assert self._join_script is not None
        key = self.layout.presence_key(topic)
        return bool(await self._join_script(keys=[key], args=[field, member, self._ttl_ms]))

    async def leave(self, topic: str, entry: str, member: str) -> bool:
        field = entry_field(self.node_id, entry)
        entries = self._entries.get(topic)
        if entries is not None:
            entries.pop(field, None)
            if not entries:
                del self._entries[topic]
        assert self._leave_script is not None
        key = self.layout.presence_key(topic)
        return bool(await self._leave_script(keys=[key], args=[field, member]))

    async def members(self, topic: str) -> list[str]:
        return (await self._snapshot([topic]))[topic].members()

    async def _snapshot(self, topics: list[str]) -> dict[str, PresenceEntries]:
        """Live presence of ``topics``; deletes dead processes' entries on the way.

        Entries of this process that it no longer holds (a leave that failed, or
        that raced with a join) are deleted too. Names that vanished because this
        call deleted their last entry are reported to the hub (exactly one call
        deletes a given entry).
        """
        client, layout = self.client, self.layout
        pipe = client.pipeline(transaction=False)
        for topic in topics:
            pipe.hgetall(layout.presence_key(topic))
        tables = [
            {field.decode(): member.decode() for field, member in raw.items()}
            for raw in await pipe.execute()
        ]
        nodes = [
            node
            for node in PresenceEntries.nodes(field for table in tables for field in table)
            if node != self.node_id
        ]
        alive = {self.node_id}
        if nodes:
            pipe = client.pipeline(transaction=False)
            for node in nodes:
                pipe.exists(layout.node_key(node))
            found = await pipe.execute()
            alive.update(node for node, exists in zip(nodes, found, strict=True) if exists)
        mine = f"{self.node_id}/"
        snapshots: dict[str, PresenceEntries] = {}
        for topic, table in zip(topics, tables, strict=True):
            held = self._entries.get(topic, {})
            retired = [field for field in table if field.startswith(mine) and field not in held]
            snapshots[topic] = PresenceEntries.split(table, alive, retired)
        dead = [(topic, field) for topic, snap in snapshots.items() for field in snap.dead]
        if dead:
            pipe = client.pipeline(transaction=False)
            for topic, field in dead:
                pipe.hdel(layout.presence_key(topic), field)
            deleted: dict[str, list[str]] = {}
            for (topic, field), count in zip(dead, await pipe.execute(), strict=True):
                if count:
                    deleted.setdefault(topic, []).append(field)
            for topic, fields in deleted.items():
                names = snapshots[topic].vanished(fields)
                if names and self._sink is not None:
                    self._sink.presence_lost(topic, names)
        return snapshots

    async def _beat(self) -> None:
        """Prove this process alive and re-assert its entries (they survive a Redis flush).

        When the node key had expired (a stall longer than the TTL, or a flush),
        other processes may have reported this process' members gone: the entries
        are then written back through the join script, and the names that were
        missing are reported as joins.
        """
        client, layout = self.client, self.layout
        previous = await client.set(layout.node_key(self.node_id), b"1", px=self._ttl_ms, get=True)
        entries = [
            (topic, field, member)
            for topic, fields in self._entries.items()
            for field, member in fields.items()
        ]
        if not entries:
            return
        if previous is None:
            await self._rejoin(entries)
            return
        pipe = client.pipeline(transaction=False)
        for topic, fields in self._entries.items():
            key = layout.presence_key(topic)
            mapping: dict[Any, Any] = dict(fields)
            pipe.hset(key, mapping=mapping)
            pipe.pexpire(key, self._ttl_ms)
        await pipe.execute()

    async def _rejoin(self, entries: list[tuple[str, str, str]]) -> None:
        assert self._join_script is not None
        pipe = self.client.pipeline(transaction=False)
        for topic, field, member in entries:
            key = self.layout.presence_key(topic)
            await self._join_script(keys=[key], args=[field, member, self._ttl_ms], client=pipe)
        back: dict[str, set[str]] = {}
        for (topic, _, member), new in zip(entries, await pipe.execute(), strict=True):
            if new:
                back.setdefault(topic, set()).add(member)
        for topic, members in back.items():
            logger.warning("presence in %r had expired; %d name(s) restored", topic, len(members))
            if self._sink is not None:
                self._sink.presence_restored(topic, sorted(members))

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self._beat()
                topics = sorted(self._watched | self._written | set(self._entries))
                if topics:
                    snapshots = await self._snapshot(topics)  # prunes the dead, reports who left
                    mine = f"{self.node_id}/"
                    self._written -= {
                        topic
                        for topic, snap in snapshots.items()
                        if topic not in self._entries
                        and not any(field.startswith(mine) for field in snap.live)
                    }
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("Redis presence heartbeat failed: %s", exc)
