"""The rule that tells a fan-out when to let the event loop write (hub/pressure.py)."""

from __future__ import annotations

import asyncio
import time

import pytest

from tidewire.hub.pressure import Pressure


async def test_high_water_of_unflushed_bytes_and_reset_by_the_next_iteration() -> None:
    pressure = Pressure(high_water=1000, max_delay=60.0, max_wait=0.0)
    pressure.start()  # the very first fan-out: after a "quiet spell", so it yields
    pressure.handed(10)
    assert pressure.must_yield()
    await asyncio.sleep(0)  # the loop ran: what was handed out is written
    assert pressure.unflushed == 0
    for _ in range(99):  # not quiet any more: batches up to the high-water mark
        pressure.start()
        pressure.handed(10)
        assert not pressure.must_yield()
    pressure.start()
    pressure.handed(10)
    assert pressure.must_yield()  # 1000 bytes


async def test_max_delay_bounds_the_age_of_the_oldest_unflushed_frame() -> None:
    pressure = Pressure(high_water=10**9, max_delay=0.02, max_wait=0.0)
    pressure.start()
    pressure.handed(1)
    await asyncio.sleep(0)
    pressure.start()
    pressure.handed(1)
    assert not pressure.must_yield()
    await asyncio.sleep(0.03)  # a fresh batch: the clock restarted
    pressure.start()
    pressure.handed(1)
    assert pressure.must_yield()  # quiet for longer than max_delay: eager again
    await asyncio.sleep(0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    pressure.start()
    while loop.time() - started < 0.025:  # one long batch, never yielding
        pressure.handed(1)
    assert pressure.must_yield()


async def test_big_backlogs_make_the_fan_out_wait_boundedly() -> None:
    pressure = Pressure(high_water=1000, max_delay=60.0, max_wait=0.05)
    pressure.queue(1500)  # slow subscribers' outboxes hold 1500 bytes
    assert pressure.must_yield()
    loop = asyncio.get_running_loop()
    started = loop.time()
    await pressure.relieve()  # nobody drains: waits max_wait, then goes on
    assert 0.04 <= loop.time() - started < 1.0
    assert pressure.waits == 1
    assert not pressure.must_yield()  # stuck for good: no more waits...
    pressure.dequeue(1)  # ...until some outbox drains again
    assert pressure.must_yield()
    pressure.queue(1)

    async def drain() -> None:
        await asyncio.sleep(0.01)
        pressure.dequeue(1100)  # 400 left: under high_water / 2

    pressure.max_wait = 5.0
    task = asyncio.create_task(drain())
    started = loop.time()
    await pressure.relieve()
    assert loop.time() - started < 2.5  # woken by the drain, not by the timeout
    await task
    assert not pressure.must_yield()


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError):
        Pressure(0, 0.01, 0.01)
    with pytest.raises(ValueError):
        Pressure(1, -1.0, 0.01)


async def test_a_slow_flush_inside_a_burst_does_not_restart_it() -> None:
    """The flushes a yield triggers may take longer than ``max_delay`` (1,000 sockets on a
    busy machine): the next fan-out still belongs to the same burst, so it batches."""
    pressure = Pressure(high_water=10**9, max_delay=0.01, max_wait=0.0)
    pressure.start()
    pressure.handed(1)
    assert pressure.must_yield()  # first of a burst
    loop = asyncio.get_running_loop()
    loop.call_soon(time.sleep, 0.03)  # the connections' writes, after the reset
    await pressure.relieve()
    pressure.start()
    pressure.handed(1)
    assert not pressure.must_yield()  # batching, not eager again


async def test_a_backing_up_subscriber_makes_the_fan_out_wait_for_its_drain() -> None:
    pressure = Pressure(high_water=10**9, max_delay=60.0, max_wait=5.0)
    pressure.start()
    pressure.handed(1)
    await pressure.relieve()  # the first fan-out of the burst (eager)
    pressure.start()
    pressure.backing_up()  # a subscriber's transport paused during this fan-out
    pressure.handed(1)
    assert pressure.must_yield()
    loop = asyncio.get_running_loop()
    loop.call_later(0.02, pressure.progress)  # its drain task wrote a message
    started = loop.time()
    await pressure.relieve()
    assert 0.01 <= loop.time() - started < 2.5  # woken by the progress, not the timeout
    assert pressure.waits == 1
