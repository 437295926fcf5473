"""History and recovery over Redis Streams, against a real redis-server.

Two hubs with their own RedisBackend play two server processes. A client recovers
through either of them; a flushed or restarted Redis changes the epoch and
recovery reports failure instead of a silent gap.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
import websockets
from hubtools import Envelope, RecoveryServer, RedisServer, envelope, serve_recovery, unused_port
from hubtools import wait_for as wait_until

from tidewire.hub import HistoryOptions, Hub, Position, RedisBackend


async def receive(client: websockets.ClientConnection, count: int) -> list[Envelope]:
    return [envelope(await asyncio.wait_for(client.recv(), 5)) for _ in range(count)]


class Pair:
    def __init__(self, hubs: list[Hub], servers: list[RecoveryServer]) -> None:
        self.hubs, self.servers = hubs, servers


async def make_pair(serve: Any, url: str, prefix: str, size: int = 1000) -> Pair:
    hubs = [
        Hub(RedisBackend(url, prefix=prefix), history=HistoryOptions(size=size, ttl=60))
        for _ in range(2)
    ]
    servers = [await serve_recovery(serve, hub) for hub in hubs]
    for hub in hubs:
        await hub.start()
    return Pair(hubs, servers)


@pytest.fixture
async def pair(serve: Any, redis_server: RedisServer, redis_prefix: str) -> AsyncIterator[Pair]:
    made = await make_pair(serve, redis_server.url, redis_prefix)
    yield made
    for hub in made.hubs:
        await hub.close()


@pytest.mark.parametrize(("publish_on", "recover_on"), [(0, 1), (1, 0), (0, 0)])
async def test_recovery_through_either_process(
    pair: Pair, publish_on: int, recover_on: int
) -> None:
    a_srv = pair.servers[1 - recover_on]
    client = await websockets.connect(a_srv.url("room"))
    await wait_until(lambda: len(a_srv.results) == 1)  # subscribe() returned: watching
    await pair.hubs[publish_on].publish("room", "first")
    (first,) = await receive(client, 1)
    assert (first.offset, first.data) == (1, "first")
    await client.close()
    for n in range(10):
        await pair.hubs[publish_on].publish("room", n)
    srv = pair.servers[recover_on]
    client = await websockets.connect(srv.url("room", since=first.position))
    missed = await receive(client, 10)
    assert [(m.offset, m.data) for m in missed] == [(n + 2, n) for n in range(10)]
    result = srv.results[-1]
    assert result is not None and result.recovered and result.missed == 10
    await pair.hubs[1 - recover_on].publish("room", "live")
    assert [m.data for m in await receive(client, 1)] == ["live"]
    await client.close()


async def test_offset_order_is_delivery_order_across_processes(pair: Pair) -> None:
    clients = [await websockets.connect(srv.url("room")) for srv in pair.servers]
    await wait_until(lambda: all(len(srv.results) == 1 for srv in pair.servers))

    async def publish(hub: Hub, tag: str) -> None:
        for n in range(100):
            await hub.publish("room", f"{tag}{n}")

    await asyncio.gather(publish(pair.hubs[0], "a"), publish(pair.hubs[1], "b"))
    seen = [await receive(client, 200) for client in clients]
    for got in seen:
        assert [m.offset for m in got] == list(range(1, 201))  # no gap, no reordering
    assert [m.data for m in seen[0]] == [m.data for m in seen[1]]
    for client in clients:
        await client.close()


async def test_no_gap_and_no_duplicate_at_the_seam_while_both_publish(pair: Pair) -> None:
    stop = asyncio.Event()

    async def publisher(hub: Hub) -> None:
        n = 0
        while not stop.is_set():
            await hub.publish("room", n)
            n += 1
            await asyncio.sleep(0.001)

    tasks = [asyncio.create_task(publisher(hub)) for hub in pair.hubs]
    try:
        first = await websockets.connect(pair.servers[0].url("room"))
        last = (await receive(first, 1))[0]
        await first.close()
        for round_ in range(16):  # alternate processes, reconnecting mid-stream
            srv = pair.servers[round_ % 2]
            client = await websockets.connect(srv.url("room", since=last.position))
            got = await receive(client, 40)
            assert [m.offset for m in got] == list(range(last.offset + 1, last.offset + 41))
            last = got[-1]
            await client.close()
        results = pair.servers[0].results[1:] + pair.servers[1].results
        assert len(results) == 16 and all(r is not None and r.recovered for r in results)
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def test_a_flushed_redis_changes_the_epoch_and_recovery_fails(
    pair: Pair, redis_server: RedisServer
) -> None:
    hub, srv = pair.hubs[0], pair.servers[1]
    position = await hub.publish("room", "kept?")
    assert position is not None and position.offset == 1
    admin = aioredis.Redis.from_url(redis_server.url)
    try:
        await admin.flushall()
    finally:
        await admin.aclose()
    again = await hub.publish("room", "after the flush")
    assert again is not None and again.epoch != position.epoch and again.offset == 1
    client = await websockets.connect(srv.url("room", since=position))
    await wait_until(lambda: len(srv.results) == 1)
    result = srv.results[0]
    assert result is not None and not result.recovered and result.reason == "epoch"
    assert result.position == again
    with pytest.raises(asyncio.TimeoutError):  # nothing replayed silently
        await asyncio.wait_for(client.recv(), 0.2)
    await client.close()
    assert pair.hubs[1].stats.recovery_failures == 1


async def test_a_restarted_redis_changes_the_epoch_and_recovery_fails(
    serve: Any, redis_prefix: str
) -> None:
    port = unused_port()
    server = RedisServer.start(port)  # its own server: this test restarts it
    made = await make_pair(serve, server.url, redis_prefix)
    try:
        position = await made.hubs[0].publish("room", "before")
        assert position is not None
        server.stop()
        server = RedisServer.start(port)  # no persistence: everything is gone
        for hub in made.hubs:  # redis-py reconnects on a later command
            for _ in range(50):
                try:
                    await hub.history("room")
                    break
                except Exception:
                    await asyncio.sleep(0.1)
        again = await made.hubs[0].publish("room", "after")
        assert again is not None and again.epoch != position.epoch
        srv = made.servers[1]
        client = await websockets.connect(srv.url("room", since=position, recent=5))
        (replayed,) = await receive(client, 1)  # the one publication of the new epoch
        assert (replayed.position, replayed.data) == (again, "after")
        result = srv.results[-1]
        assert result is not None and not result.recovered
        assert (result.reason, result.replayed) == ("epoch", 1)
        await client.close()
    finally:
        for hub in made.hubs:
            await hub.close()
        server.stop()


async def test_history_expires_with_its_ttl(
    serve: Any, redis_server: RedisServer, redis_prefix: str
) -> None:
    hub = Hub(RedisBackend(redis_server.url, prefix=redis_prefix), history=HistoryOptions(5, 0.2))
    try:
        position = await hub.publish("room", 1)
        assert position is not None
        admin = aioredis.Redis.from_url(redis_server.url)
        try:
            ttl = await admin.pttl(f"{redis_prefix}:stream:room")
            assert 0 < ttl <= 200
            assert 0 < await admin.pttl(f"{redis_prefix}:meta:room") <= 200
            assert await admin.xlen(f"{redis_prefix}:stream:room") == 1
        finally:
            await admin.aclose()
        await asyncio.sleep(0.3)
        assert await hub.history("room") == []
        again = await hub.publish("room", 2)
        assert again == Position(again.epoch, 1) and again.epoch != position.epoch
    finally:
        await hub.close()
