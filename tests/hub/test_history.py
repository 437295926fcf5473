"""History and recovery with the memory backend: the pure parts, then over real WebSockets."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import websockets
from hubtools import Envelope, RecoveryServer, envelope, serve_recovery, wait_for

from tidewire.hub import HistoryOptions, Hub, Position, Publication, Recovery
from tidewire.hub.history import HistorySlice, MemoryHistory, check_recovery
from tidewire.hub.recovery import Replays
from tidewire.ws.prepared import PreparedMessage

# -- pure parts ------------------------------------------------------------------------


def test_offsets_increase_and_the_ring_keeps_the_last_size() -> None:
    history = MemoryHistory()
    options = HistoryOptions(size=3)
    published = [history.append("t", f'"m{n}"', options, now=0.0) for n in range(5)]
    assert [p.position.offset for p in published] == [1, 2, 3, 4, 5]
    assert len({p.position.epoch for p in published}) == 1
    window = history.read("t", None, 10, now=0.0)
    assert (window.top, window.first) == (5, 3)
    assert [p.data for p in window.publications] == ['"m2"', '"m3"', '"m4"']
    assert [p.data for p in history.read("t", 3, 10, now=0.0).publications] == ['"m3"', '"m4"']
    assert history.read("t", 5, 10, now=0.0).publications == []
    assert history.read("other", None, 10, now=0.0) == HistorySlice(None, 0, None)


def test_a_topic_past_its_ttl_starts_a_new_epoch() -> None:
    history = MemoryHistory()
    options = HistoryOptions(size=10, ttl=5.0)
    first = history.append("t", "1", options, now=100.0)
    assert history.read("t", None, 10, now=104.9).epoch == first.position.epoch
    history.expire(now=105.0)
    assert history.read("t", None, 10, now=105.0).epoch is None
    again = history.append("t", "2", options, now=106.0)
    assert again.position.offset == 1 and again.position.epoch != first.position.epoch


def test_past_max_topics_the_least_recently_published_topic_loses_its_history() -> None:
    history = MemoryHistory(max_topics=2)
    options = HistoryOptions(size=5)
    a = history.append("a", "1", options, now=0.0)
    history.append("b", "1", options, now=0.0)
    history.append("a", "2", options, now=0.0)  # "b" is now the least recently published
    history.append("c", "1", options, now=0.0)
    assert history.read("b", None, 5, now=0.0).epoch is None
    assert history.read("a", None, 5, now=0.0).epoch == a.position.epoch
    assert history.read("c", None, 5, now=0.0).top == 1


@pytest.mark.parametrize(
    ("since", "window", "reason"),
    [
        (Position("e", 3), HistorySlice("e", 3, 1), None),  # nothing missed
        (Position("e", 1), HistorySlice("e", 3, 1, []), "window"),  # read found nothing
        (Position("x", 1), HistorySlice("e", 3, 1), "epoch"),
        (Position("e", 1), HistorySlice(None, 0, None), "epoch"),  # history lost
        (Position("e", 9), HistorySlice("e", 3, 1), "position"),  # ahead of the stream
        (Position("e", 0), HistorySlice("e", 30, 11), "window"),
    ],
)
def test_check_recovery(since: Position, window: HistorySlice, reason: str | None) -> None:
    if reason == "window" and window.first == 11:
        window = HistorySlice("e", 30, 11, [Publication(Position("e", 11), "0")])
    assert check_recovery(since, window) == reason


def test_check_recovery_accepts_a_contiguous_window() -> None:
    publications = [Publication(Position("e", n), str(n)) for n in (4, 5)]
    assert check_recovery(Position("e", 3), HistorySlice("e", 5, 2, publications)) is None


class Recorder:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def send(self, message: PreparedMessage) -> None:
        self.sent.append(message.frame)


def test_the_seam_sends_the_window_then_only_newer_held_publications() -> None:
    replays, subscriber = Replays(), Recorder()

    def frame(topic: str, publication: Publication) -> PreparedMessage:
        return PreparedMessage(publication.data.encode(), 1)

    replays.begin("t", subscriber)
    held = replays.waiting("t")
    assert held is not None
    for n in (5, 6, 7):  # published while the history was read: 5 and 6 are in it too
        publication = Publication(Position("e", n), str(n))
        held[subscriber].append((publication, frame("t", publication)))
    window = HistorySlice("e", 6, 1, [Publication(Position("e", n), str(n)) for n in (4, 5, 6)])
    assert replays.finish("t", subscriber, window, frame) == 3
    assert subscriber.sent == [b"4", b"5", b"6", b"7"]
    assert replays.waiting("t") is None


# -- over WebSockets ------------------------------------------------------------------


async def receive(client: websockets.ClientConnection, count: int) -> list[Envelope]:
    return [envelope(await asyncio.wait_for(client.recv(), 5)) for _ in range(count)]


async def expect_silence(client: websockets.ClientConnection) -> None:
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(client.recv(), 0.2)


async def started(serve: Any, **options: Any) -> tuple[Hub, RecoveryServer]:
    hub = Hub(history=HistoryOptions(size=options.pop("size", 100)), **options)
    return hub, await serve_recovery(serve, hub)


async def test_a_reconnecting_client_gets_what_it_missed_once_in_order(serve: Any) -> None:
    hub, srv = await started(serve)
    try:
        client = await websockets.connect(srv.url("room"))
        await wait_for(lambda: len(srv.results) == 1)  # subscribe() returned
        for n in range(3):
            await hub.publish("room", {"n": n})
        seen = await receive(client, 3)
        assert [m.data for m in seen] == [{"n": 0}, {"n": 1}, {"n": 2}]
        assert [m.offset for m in seen] == [1, 2, 3]
        await client.close()
        await wait_for(lambda: hub.subscriber_count("room") == 0)
        for n in range(3, 13):  # ten while it was away
            await hub.publish("room", {"n": n})
        client = await websockets.connect(srv.url("room", since=seen[-1].position))
        missed = await receive(client, 10)
        assert [m.data["n"] for m in missed] == list(range(3, 13))
        assert [m.offset for m in missed] == list(range(4, 14))
        result = srv.results[-1]
        assert result == Recovery(True, Position(seen[0].epoch, 13), missed=10)
        await hub.publish("room", {"n": 13})  # then the live ones
        assert [m.offset for m in await receive(client, 1)] == [14]
        await expect_silence(client)
        assert (hub.stats.recoveries, hub.stats.recovery_failures) == (1, 0)
        await client.close()
    finally:
        await hub.close()


async def test_recovery_fails_when_the_offset_fell_out_of_the_window(serve: Any) -> None:
    hub, srv = await started(serve, size=5)
    try:
        positions = [await hub.publish("room", n) for n in range(12)]
        since = positions[2]
        assert since is not None
        client = await websockets.connect(srv.url("room", since=since, recent=3))
        replayed = await receive(client, 3)  # asked for: the 3 most recent instead
        assert [m.offset for m in replayed] == [10, 11, 12]
        result = srv.results[-1]
        assert result is not None and not result.recovered
        assert (result.reason, result.replayed, result.position) == (
            "window",
            3,
            Position(since.epoch, 12),
        )
        await expect_silence(client)
        await client.close()
        assert hub.stats.recovery_failures == 1
    finally:
        await hub.close()


async def test_a_restarted_memory_hub_reports_an_epoch_change(serve: Any) -> None:
    hub, srv = await started(serve)
    position = await hub.publish("room", "before")
    assert position is not None
    await hub.close()
    hub, srv = await started(serve)  # a new process: its history is gone
    try:
        await hub.publish("room", "after")
        client = await websockets.connect(srv.url("room", since=position))
        await wait_for(lambda: len(srv.results) == 1)
        result = srv.results[0]
        assert result is not None and not result.recovered and result.reason == "epoch"
        assert result.position is not None and result.position.epoch != position.epoch
        await expect_silence(client)  # no silent replay of another epoch
        await client.close()
    finally:
        await hub.close()


async def test_no_gap_and_no_duplicate_at_the_seam_while_others_publish(serve: Any) -> None:
    hub, srv = await started(serve, size=10_000)
    stop = asyncio.Event()

    async def publisher() -> None:
        n = 0
        while not stop.is_set():
            await hub.publish("room", n)
            n += 1
            await asyncio.sleep(0.001)  # ~1,000/s: the window (10,000) always covers a reconnect

    task = asyncio.create_task(publisher())
    try:
        first = await websockets.connect(srv.url("room"))
        last = (await receive(first, 1))[0]
        await first.close()
        for _ in range(20):  # reconnect again and again while the publisher runs
            client = await websockets.connect(srv.url("room", since=last.position))
            got = await receive(client, 30)
            assert [m.offset for m in got] == list(range(last.offset + 1, last.offset + 31))
            last = got[-1]
            await client.close()
        assert hub.stats.recoveries == 20
        assert all(result is not None and result.recovered for result in srv.results[1:])
    finally:
        stop.set()
        await task
        await hub.close()


async def test_topics_without_history_are_unchanged(serve: Any) -> None:
    hub = Hub(history=lambda topic: HistoryOptions(10) if topic.startswith("h:") else None)
    srv = await serve_recovery(serve, hub)
    try:
        client = await websockets.connect(srv.url("plain"))
        await wait_for(lambda: len(srv.results) == 1)
        assert await hub.publish("plain", "raw text") is None
        assert await client.recv() == "raw text"
        assert srv.results == [None]
        with pytest.raises(TypeError):
            await hub.publish("h:x", b"bytes")
        assert [p.data for p in await hub.history("plain")] == []
        await hub.publish("h:x", "text")
        assert [p.data for p in await hub.history("h:x")] == ['"text"']
        await client.close()
    finally:
        await hub.close()
