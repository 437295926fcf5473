"""The hub with real WebSocket clients (the ``websockets`` package) and the memory backend."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets
from hubtools import HubServerFactory, wait_for

from tidewire import web
from tidewire.hub import Hub, PresenceChange, SlowPolicy
from tidewire.hub.hub import compact_json


async def test_publish_reaches_every_subscriber_once(hub_server: HubServerFactory) -> None:
    hub = Hub()
    srv = await hub_server(hub)
    clients = [await websockets.connect(srv.url("news")) for _ in range(5)]
    other = await websockets.connect(srv.url("sport"))
    try:
        await srv.wait_subscribers("news", 5)
        await hub.publish("news", "héllo")
        await hub.publish("news", b"\x00\xff")
        await hub.publish("news", {"n": 1, "s": "é"})
        for client in clients:
            assert await client.recv() == "héllo"
            assert await client.recv() == b"\x00\xff"
            assert json.loads(await client.recv()) == {"n": 1, "s": "é"}
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(other.recv(), 0.1)
        stats = hub.stats
        assert (stats.published, stats.delivered, stats.dropped) == (3, 15, 0)
        assert (stats.subscribers, stats.topics) == (6, 2)
    finally:
        for client in [*clients, other]:
            await client.close()


async def test_one_frame_serves_compressed_and_plain_connections(
    hub_server: HubServerFactory,
) -> None:
    calls = 0

    def counting_dumps(value: Any) -> str:
        nonlocal calls
        calls += 1
        return compact_json(value)

    hub = Hub(dumps=counting_dumps)
    srv = await hub_server(hub)
    deflate = await websockets.connect(srv.url())  # offers permessage-deflate
    plain = await websockets.connect(srv.url(), compression=None)
    try:
        await srv.wait_subscribers("t", 2)
        assert sorted(ws.compress for ws in srv.sockets) == [False, True]
        await hub.publish("t", {"text": "x" * 5000})
        assert json.loads(await deflate.recv()) == json.loads(await plain.recv())
        assert calls == 1  # serialized once, framed once, for both
        # The hub leaves the compressed connection usable for its own messages.
        compressed_ws = next(ws for ws in srv.sockets if ws.compress)
        await compressed_ws.send_str("y" * 5000)
        assert await deflate.recv() == "y" * 5000
    finally:
        await deflate.close()
        await plain.close()


async def test_messages_from_clients_fan_out(hub_server: HubServerFactory) -> None:
    hub = Hub()
    srv = await hub_server(hub)
    alice = await websockets.connect(srv.url("room"))
    bob = await websockets.connect(srv.url("room"))
    try:
        await srv.wait_subscribers("room", 2)
        for i in range(100):
            await alice.send(f"m{i}")
        for client in (alice, bob):
            assert [await client.recv() for _ in range(100)] == [f"m{i}" for i in range(100)]
    finally:
        await alice.close()
        await bob.close()


async def test_presence_members_and_callbacks(hub_server: HubServerFactory) -> None:
    changes: list[PresenceChange] = []

    async def on_presence(change: PresenceChange) -> None:
        changes.append(change)

    hub = Hub(on_presence=on_presence)
    srv = await hub_server(hub)
    alice1 = await websockets.connect(srv.url("room", member="alice"))
    alice2 = await websockets.connect(srv.url("room", member="alice"))  # second tab
    bob = await websockets.connect(srv.url("room", member="bob"))
    anonymous = await websockets.connect(srv.url("room"))
    await srv.wait_subscribers("room", 4)
    assert await hub.members("room") == ["alice", "bob"]
    assert changes == [
        PresenceChange("room", joined=("alice",)),
        PresenceChange("room", joined=("bob",)),
    ]
    await alice1.close()
    await srv.wait_subscribers("room", 3)
    assert await hub.members("room") == ["alice", "bob"]  # alice still has a tab
    await alice2.close()
    await bob.close()
    await srv.wait_subscribers("room", 1)
    assert await hub.members("room") == []
    assert sorted(c.left for c in changes if c.left) == [("alice",), ("bob",)]
    await anonymous.close()


async def test_closed_sockets_are_removed_without_the_handler(
    hub_server: HubServerFactory,
) -> None:
    left: list[str] = []

    async def on_presence(change: PresenceChange) -> None:
        left.extend(change.left)

    hub = Hub(on_presence=on_presence, sweep_interval=0.05)
    srv = await hub_server(hub, disconnect=False)  # handlers never call hub.disconnect
    polite = await websockets.connect(srv.url("room", member="polite"))
    reader, writer = await asyncio.open_connection(srv.host, srv.port)
    writer.write(
        b"GET /ws?topic=room&member=rude HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n"
    )
    assert b" 101 " in await reader.readuntil(b"\r\n\r\n")
    await srv.wait_subscribers("room", 2)
    await polite.close()  # closing handshake
    writer.transport.abort()  # TCP reset, no closing handshake
    await srv.wait_subscribers("room", 0, timeout=2.0)
    await wait_for(lambda: sorted(left) == ["polite", "rude"])
    assert await hub.members("room") == []
    assert hub.topics() == []


async def test_publishing_to_a_closed_socket_cleans_it_up(hub_server: HubServerFactory) -> None:
    hub = Hub(sweep_interval=3600)  # only the publish path may notice
    srv = await hub_server(hub, disconnect=False)
    client = await websockets.connect(srv.url())
    await srv.wait_subscribers("t", 1)
    await client.close()
    await wait_for(lambda: srv.sockets[0].closed)
    await hub.publish("t", "anyone?")
    await srv.wait_subscribers("t", 0)
    assert hub.stats.delivered == 0


async def test_unsubscribe_and_resubscribe(hub_server: HubServerFactory) -> None:
    hub = Hub()
    srv = await hub_server(hub)
    client = await websockets.connect(srv.url("a"))
    try:
        await srv.wait_subscribers("a", 1)
        ws = srv.sockets[0]
        await hub.subscribe(ws, "b", member="me")
        assert await hub.members("b") == ["me"]
        await hub.unsubscribe(ws, "a")
        await hub.publish("a", "lost")
        await hub.publish("b", "kept")
        assert await client.recv() == "kept"
        await hub.unsubscribe(ws, "b")
        assert hub.stats.subscribers == 0 and await hub.members("b") == []
        await hub.unsubscribe(ws, "b")  # no-op
    finally:
        await client.close()


async def test_subscribing_a_closed_socket_raises(hub_server: HubServerFactory) -> None:
    hub = Hub()
    srv = await hub_server(hub)
    client = await websockets.connect(srv.url())
    await srv.wait_subscribers("t", 1)
    ws = srv.sockets[0]
    await client.close()
    await wait_for(lambda: ws.closed)
    with pytest.raises(web.WSConnectionClosed):
        await hub.subscribe(ws, "other")


async def test_a_closed_hub_refuses_to_start_again() -> None:
    hub = Hub()
    async with hub:
        await hub.publish("nobody", "hello")  # no subscriber: nothing to do
        assert hub.stats.published == 1
    with pytest.raises(RuntimeError):
        await hub.start()
    with pytest.raises(ValueError):
        Hub(max_queue=0)


async def test_an_unprepared_socket_cannot_subscribe() -> None:
    async with Hub() as hub:
        with pytest.raises(RuntimeError, match="prepare"):
            await hub.subscribe(web.WebSocketResponse(), "t")


@pytest.mark.parametrize("policy", list(SlowPolicy))
async def test_a_message_larger_than_every_limit_reaches_idle_subscribers(
    hub_server: HubServerFactory, policy: SlowPolicy
) -> None:
    # 300 KiB: above write_limit (64 KiB) and max_queue_bytes (256 KiB).
    hub = Hub(policy=policy)
    srv = await hub_server(hub)
    clients = [await websockets.connect(srv.url("big"), max_size=None) for _ in range(3)]
    try:
        await srv.wait_subscribers("big", 3)
        payload = "x" * (300 * 1024)
        await hub.publish("big", payload)
        await hub.publish("big", "after")
        for client in clients:
            assert await asyncio.wait_for(client.recv(), 5) == payload
            assert await asyncio.wait_for(client.recv(), 5) == "after"
        stats = hub.stats
        assert (stats.delivered, stats.dropped, stats.closed) == (6, 0, 0)
        assert all(not ws.closed for ws in srv.sockets)
    finally:
        for client in clients:
            await client.close()


async def test_publishing_to_rooms_nobody_is_in_keeps_no_state(
    hub_server: HubServerFactory,
) -> None:
    hub = Hub()
    srv = await hub_server(hub)
    client = await websockets.connect(srv.url("lobby"))
    try:
        await srv.wait_subscribers("lobby", 1)
        ws = srv.sockets[0]
        for n in range(20_000):  # rooms chosen by clients: join, leave, publish
            await hub.subscribe(ws, f"room-{n}", member="ann")
            await hub.unsubscribe(ws, f"room-{n}")
            await hub.publish(f"room-{n}", "anyone?")
        assert len(hub._registry._fanout) <= 1  # "lobby" at most
        assert await hub.members("room-0") == [] and hub.topics() == ["lobby"]
    finally:
        await client.close()
