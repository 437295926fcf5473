"""Two hubs on the Redis backend (two "processes" in one test) against a real redis-server."""

from __future__ import annotations

import asyncio

import pytest
import redis
import redis.asyncio as aioredis
import websockets
from hubtools import HubServer, HubServerFactory, RedisServer, unused_port, wait_for

from tidewire.hub import Hub, PresenceChange, RedisBackend


class Node:
    """A hub on the Redis backend, served on its own port, recording presence changes."""

    def __init__(self, redis_server: RedisServer, prefix: str, ttl: float = 0.6) -> None:
        self.changes: list[PresenceChange] = []
        self.backend = RedisBackend(redis_server.url, prefix=prefix, presence_ttl=ttl)
        self.hub = Hub(self.backend, on_presence=self._record, sweep_interval=0.05)
        self.srv: HubServer | None = None

    async def _record(self, change: PresenceChange) -> None:
        self.changes.append(change)

    async def serve(self, hub_server: HubServerFactory) -> HubServer:
        self.srv = await hub_server(self.hub)
        return self.srv

    def left(self) -> list[str]:
        return [name for change in self.changes for name in change.left]


@pytest.fixture
async def nodes(
    redis_server: RedisServer, redis_prefix: str, hub_server: HubServerFactory
) -> list[Node]:
    pair = [Node(redis_server, redis_prefix), Node(redis_server, redis_prefix)]
    for node in pair:
        await node.serve(hub_server)
    return pair


async def test_a_message_published_on_one_node_reaches_the_other(nodes: list[Node]) -> None:
    a, b = nodes
    assert a.srv is not None and b.srv is not None
    on_a = await websockets.connect(a.srv.url("room"))
    on_b = await websockets.connect(b.srv.url("room"))
    try:
        await a.srv.wait_subscribers("room", 1)
        await b.srv.wait_subscribers("room", 1)
        await on_b.send("from b")  # the test server publishes what it receives
        assert await on_a.recv() == "from b"
        assert await on_b.recv() == "from b"
        await a.hub.publish("room", {"from": "a"})
        await a.hub.publish("room", b"\x01\x02")
        for client in (on_a, on_b):
            assert await client.recv() == '{"from":"a"}'
            assert await client.recv() == b"\x01\x02"
        assert (a.hub.stats.published, b.hub.stats.published) == (2, 1)
    finally:
        await on_a.close()
        await on_b.close()


async def test_subscribe_returns_once_remote_publications_arrive(nodes: list[Node]) -> None:
    a, b = nodes
    assert b.srv is not None
    client = await websockets.connect(b.srv.url("first"))
    try:
        await b.srv.wait_subscribers("first", 1)
        ws = b.srv.sockets[0]
        for n in range(20):
            await b.hub.subscribe(ws, f"topic-{n}")
            await a.hub.publish(f"topic-{n}", f"m{n}")  # at once, from the other node
            assert await asyncio.wait_for(client.recv(), 2) == f"m{n}"
    finally:
        await client.close()


async def test_presence_is_shared_and_unwatched_topics_are_released(
    nodes: list[Node], redis_server: RedisServer, redis_prefix: str
) -> None:
    a, b = nodes
    assert a.srv is not None and b.srv is not None
    alice = await websockets.connect(a.srv.url("room", member="alice"))
    bob = await websockets.connect(b.srv.url("room", member="bob"))
    bob2 = await websockets.connect(a.srv.url("room", member="bob"))  # bob's second tab
    await wait_members(a.hub, "room", ["alice", "bob"])
    await wait_members(b.hub, "room", ["alice", "bob"])
    joined = sorted(name for node in nodes for c in node.changes for name in c.joined)
    assert joined == ["alice", "bob"]  # bob's second tab is no news

    client = aioredis.Redis.from_url(redis_server.url)
    channel = a.backend.layout.channel("room")
    try:
        assert (await client.pubsub_numsub(channel))[0][1] == 2
        await bob.close()
        await b.srv.wait_subscribers("room", 0)
        assert await a.hub.members("room") == ["alice", "bob"]
        assert b.left() == []  # still there through the other tab
        await wait_numsub(client, channel, 1)  # b stopped listening to the topic
        await bob2.close()
        await a.srv.wait_subscribers("room", 1)
        assert await b.hub.members("room") == ["alice"]
        assert a.left() == ["bob"]
    finally:
        await alice.close()
        await client.aclose()


async def wait_members(hub: Hub, topic: str, expected: list[str]) -> None:
    """Wait until ``hub`` sees ``expected`` in ``topic`` (joins complete after the subscribe)."""
    for _ in range(200):
        if await hub.members(topic) == expected:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{topic!r} never had {expected}: {await hub.members(topic)}")


async def wait_numsub(client: aioredis.Redis, channel: bytes, count: int) -> None:
    for _ in range(200):
        if (await client.pubsub_numsub(channel))[0][1] == count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{channel!r} never had {count} subscribers")


async def test_a_dead_nodes_entries_are_pruned_and_reported_once(
    nodes: list[Node], redis_server: RedisServer
) -> None:
    a, b = nodes
    assert a.srv is not None and b.srv is not None
    alice = await websockets.connect(a.srv.url("room", member="alice"))
    bob = await websockets.connect(b.srv.url("room", member="bob"))
    client = aioredis.Redis.from_url(redis_server.url)
    layout = a.backend.layout
    try:
        await wait_members(a.hub, "room", ["alice", "bob"])
        # A process that died: its entries are there, its node key expired.
        await client.hset(layout.presence_key("room"), "deadbeef/1", "ghost")
        await client.hset(layout.presence_key("room"), "deadbeef/2", "bob")
        # No read needed: the heartbeats (every 0.2 s here) prune it.
        await wait_for(lambda: "ghost" in a.left() + b.left(), timeout=2.0)
        await asyncio.sleep(0.5)  # a few more heartbeats on both nodes
        assert sorted(a.left() + b.left()) == ["ghost"]  # once; bob is alive elsewhere
        fields = [
            f.decode() if isinstance(f, bytes) else f
            for f in await client.hkeys(layout.presence_key("room"))
        ]
        assert len(fields) == 2  # alice's and bob's
        assert not any(f.startswith("deadbeef/") for f in fields)
        assert await a.hub.members("room") == ["alice", "bob"]
    finally:
        await alice.close()
        await bob.close()
        await client.aclose()


async def test_presence_survives_a_redis_flush(
    redis_server: RedisServer, redis_prefix: str, hub_server: HubServerFactory
) -> None:
    node = Node(redis_server, redis_prefix)
    node.backend = RedisBackend(
        redis_server.url.replace("/0", "/3"), prefix=redis_prefix, presence_ttl=0.6
    )
    node.hub = Hub(node.backend)
    srv = await node.serve(hub_server)
    alice = await websockets.connect(srv.url("room", member="alice"))
    client = aioredis.Redis.from_url(redis_server.url.replace("/0", "/3"))
    try:
        await wait_members(node.hub, "room", ["alice"])
        await client.flushdb()
        assert await client.dbsize() == 0
        for _ in range(100):  # the next heartbeat writes the entries back
            if await node.hub.members("room") == ["alice"]:
                break
            await asyncio.sleep(0.02)
        assert await node.hub.members("room") == ["alice"]
        await node.hub.close()
        assert await client.dbsize() == 0  # a clean close leaves nothing behind
    finally:
        await alice.close()
        await client.aclose()


async def test_the_backend_refuses_decoded_clients(redis_server: RedisServer) -> None:
    client = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    hub = Hub(RedisBackend(client=client))
    try:
        with pytest.raises(ValueError):
            await hub.start()
    finally:
        await client.aclose()


async def test_a_redis_restart_is_survived(hub_server: HubServerFactory) -> None:
    """Pub/sub subscribes again by itself and the heartbeat writes presence back."""
    port = unused_port()
    server = RedisServer.start(port)
    listener = Hub(RedisBackend(server.url, presence_ttl=0.6))
    publisher = Hub(RedisBackend(server.url, presence_ttl=0.6))
    srv = await hub_server(listener)
    client = await websockets.connect(srv.url("t", member="alice"))
    try:
        await wait_members(publisher, "t", ["alice"])
        server.stop()
        await asyncio.sleep(0.3)  # both hubs notice: reads and heartbeats fail
        server = RedisServer.start(port)  # empty: no channels, no presence
        for _ in range(200):  # pub/sub reconnects with backoff
            await publisher.publish("t", "after the restart")
            try:
                assert await asyncio.wait_for(client.recv(), 0.05) == "after the restart"
                break
            except asyncio.TimeoutError:
                continue
        else:
            raise AssertionError("no delivery after the restart")
        await wait_members(publisher, "t", ["alice"])
    finally:
        await client.close()
        await publisher.close()
        server.stop()


async def test_an_unreachable_redis_fails_start_and_close_still_works() -> None:
    hub = Hub(RedisBackend(f"redis://127.0.0.1:{unused_port()}/0"))
    with pytest.raises(redis.ConnectionError):
        await hub.publish("t", "x")
    with pytest.raises(redis.ConnectionError):  # tried again, not a cached failure
        await hub.members("t")
    await hub.close()
