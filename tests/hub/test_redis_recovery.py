"""The Redis backend when things go wrong: races, failed leaves, stalls, half-open links.

Every test runs against a real redis-server; failures are made with Redis itself
(CLIENT PAUSE, a key of the wrong type, an expired node key) or with a real TCP
proxy that stops forwarding.
"""

from __future__ import annotations

import asyncio
import contextlib

import redis.asyncio as aioredis
import websockets
from hubtools import HubServerFactory, RedisServer, wait_for
from test_redis_hub import Node, wait_members

from tidewire.hub import Hub, PresenceChange, RedisBackend


def text(values: list[bytes]) -> list[str]:
    return sorted(value.decode() for value in values)


async def test_a_socket_closed_while_it_joins_leaves_no_ghost(
    redis_server: RedisServer, redis_prefix: str, hub_server: HubServerFactory
) -> None:
    node = Node(redis_server, redis_prefix, ttl=30.0)  # no expiry may hide a ghost
    node.hub = Hub(node.backend, on_presence=node._record, sweep_interval=0.01)
    srv = await node.serve(hub_server)
    admin = aioredis.Redis.from_url(redis_server.url)
    key = node.backend.layout.presence_key("room")
    try:
        await node.hub.start()
        await admin.execute_command("CLIENT", "PAUSE", "300", "ALL")  # the join waits
        client = await websockets.connect(srv.url("room", member="ghost"))
        await srv.wait_subscribers("room", 1)  # subscribed, its join held by Redis
        client.transport.abort()
        await wait_for(lambda: srv.sockets[0].closed)
        await asyncio.sleep(0.05)  # the sweeper has seen the closed socket
        await srv.wait_subscribers("room", 0, timeout=3.0)
        await wait_for(lambda: node.left() == ["ghost"], timeout=3.0)
        await asyncio.sleep(0.1)  # a heartbeat-free moment: nothing writes it back
        assert await admin.hvals(key) == []
        assert await node.hub.members("room") == []
        assert node.backend._entries == {}
    finally:
        await admin.aclose()


async def test_one_failed_leave_does_not_stop_the_others(
    redis_server: RedisServer, redis_prefix: str, hub_server: HubServerFactory
) -> None:
    node = Node(redis_server, redis_prefix, ttl=30.0)
    srv = await node.serve(hub_server)
    admin = aioredis.Redis.from_url(redis_server.url)
    layout = node.backend.layout
    client = await websockets.connect(srv.url("a", member="ann"))
    try:
        await srv.wait_subscribers("a", 1)
        ws = srv.sockets[0]
        for topic in ("b", "c"):
            await node.hub.subscribe(ws, topic, member="ann")
        # Topic "a"'s presence key becomes a string: its leave fails with WRONGTYPE.
        await admin.delete(layout.presence_key("a"))
        await admin.set(layout.presence_key("a"), b"not a hash")
        await node.hub.disconnect(ws)  # logs, does not raise
        assert node.hub.topics() == []
        for topic in ("b", "c"):
            assert await admin.hvals(layout.presence_key(topic)) == []
            assert (await admin.pubsub_numsub(layout.channel(topic)))[0][1] == 0
        assert (await admin.pubsub_numsub(layout.channel("a")))[0][1] == 0  # unwatched anyway
        assert sorted(node.left()) == ["ann", "ann"]  # b and c
    finally:
        await client.close()
        await admin.aclose()


async def test_the_heartbeat_removes_entries_this_process_no_longer_holds(
    redis_server: RedisServer, redis_prefix: str, hub_server: HubServerFactory
) -> None:
    node = Node(redis_server, redis_prefix, ttl=0.6)
    srv = await node.serve(hub_server)
    other = Node(redis_server, redis_prefix, ttl=0.6)
    admin = aioredis.Redis.from_url(redis_server.url)
    backend = node.backend
    client = await websockets.connect(srv.url("room", member="ann"))
    try:
        await wait_members(other.hub, "room", ["ann"])
        # A leave that never reached Redis: an entry of this live node nobody holds.
        await backend.join("gone", "zzz", "ghost")
        backend._entries.pop("gone")
        await admin.hset(backend.layout.presence_key("room"), f"{backend.node_id}/zzz", "ghost")
        await wait_for(lambda: sorted(node.left()) == ["ghost", "ghost"], timeout=3.0)
        assert await other.hub.members("room") == ["ann"]
        assert await other.hub.members("gone") == []
        await asyncio.sleep(0.5)  # later heartbeats report nothing more
        assert sorted(node.left()) == ["ghost", "ghost"]
        assert backend._written == {"room"}
    finally:
        await client.close()
        await other.hub.close()
        await admin.aclose()


async def test_a_stall_longer_than_the_ttl_is_reported_as_leave_then_join(
    redis_server: RedisServer, redis_prefix: str, hub_server: HubServerFactory
) -> None:
    a = Node(redis_server, redis_prefix, ttl=0.6)
    b = Node(redis_server, redis_prefix, ttl=0.6)
    srv = await a.serve(hub_server)
    admin = aioredis.Redis.from_url(redis_server.url)
    client = await websockets.connect(srv.url("room", member="alice"))
    try:
        await wait_members(b.hub, "room", ["alice"])
        # What a stall does: a's node key expires before its next heartbeat...
        await admin.delete(a.backend.layout.node_key(a.backend.node_id))
        assert await b.hub.members("room") == []  # ...and b reports alice gone
        await wait_for(lambda: b.left() == ["alice"])
        # a's next heartbeat writes alice back and says so.
        await wait_members(b.hub, "room", ["alice"])
        joins = [c for c in a.changes if c.joined]
        assert joins == [PresenceChange("room", joined=("alice",))] * 2
        assert b.left() == ["alice"]
    finally:
        await client.close()
        await b.hub.close()
        await admin.aclose()


class FreezingProxy:
    """A TCP proxy to Redis; :meth:`freeze` stops forwarding on the open connections
    without closing them (a half-open link), new connections are forwarded."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._pipes: list[asyncio.Task[None]] = []
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers += [writer, up_writer]
        loop = asyncio.get_running_loop()
        self._pipes += [
            loop.create_task(self._pipe(reader, up_writer)),
            loop.create_task(self._pipe(up_reader, writer)),
        ]

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    def freeze(self) -> None:
        for task in self._pipes:
            task.cancel()  # the sockets stay open; nothing passes any more
        self._pipes = []

    async def close(self) -> None:
        self.freeze()
        for writer in self._writers:
            writer.transport.abort()
        if self._server is not None:
            self._server.close()


async def test_a_half_open_pubsub_connection_is_replaced(
    redis_server: RedisServer, redis_prefix: str, hub_server: HubServerFactory
) -> None:
    proxy = FreezingProxy(redis_server.port)
    await proxy.start()
    listener = Hub(
        RedisBackend(
            f"redis://127.0.0.1:{proxy.port}/0",
            prefix=redis_prefix,
            ping_interval=0.2,
            ping_timeout=0.3,
            socket_timeout=0.5,
        )
    )
    publisher = Hub(RedisBackend(redis_server.url, prefix=redis_prefix))
    srv = await hub_server(listener)
    client = await websockets.connect(srv.url("t"))
    try:
        await srv.wait_subscribers("t", 1)
        await publisher.publish("t", "before")
        assert await asyncio.wait_for(client.recv(), 2) == "before"
        proxy.freeze()
        for _ in range(100):  # missed PING -> reconnect through a fresh connection
            await publisher.publish("t", "after")
            try:
                assert await asyncio.wait_for(client.recv(), 0.05) == "after"
                break
            except asyncio.TimeoutError:
                continue
        else:
            raise AssertionError("the listener never noticed its half-open connection")
    finally:
        await client.close()
        await listener.close()
        await publisher.close()
        await proxy.close()
