"""The slow subscriber's bounded queue and its policies (no sockets)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tidewire.hub.outbox import Outbox, PushResult, SlowPolicy


@dataclass(frozen=True)
class Item:
    name: str
    size: int


def items(count: int, size: int = 10) -> list[Item]:
    return [Item(f"m{i}", size) for i in range(count)]


def drain(outbox: Outbox[Item]) -> list[str]:
    names = []
    while (item := outbox.pop()) is not None:
        names.append(item.name)
    return names


def test_keeps_order_and_counts_bytes_below_the_limits() -> None:
    outbox: Outbox[Item] = Outbox(4, 100, SlowPolicy.DROP_OLDEST)
    for item in items(3):
        assert outbox.push(item) == PushResult(True)
    assert (len(outbox), outbox.nbytes) == (3, 30)
    assert drain(outbox) == ["m0", "m1", "m2"]
    assert (len(outbox), outbox.nbytes) == (0, 0)


def test_drop_oldest_by_message_count() -> None:
    outbox: Outbox[Item] = Outbox(3, 1000, SlowPolicy.DROP_OLDEST)
    results = [outbox.push(item) for item in items(5)]
    assert [r.dropped for r in results] == [0, 0, 0, 1, 1]
    assert all(r.queued and not r.must_close for r in results)
    assert drain(outbox) == ["m2", "m3", "m4"]


def test_drop_oldest_by_bytes_drops_as_many_as_needed() -> None:
    outbox: Outbox[Item] = Outbox(100, 100, SlowPolicy.DROP_OLDEST)
    for item in items(10):
        outbox.push(item)
    result = outbox.push(Item("big", 35))
    assert result == PushResult(True, 4)
    assert outbox.nbytes == 95
    assert drain(outbox) == ["m4", "m5", "m6", "m7", "m8", "m9", "big"]


@pytest.mark.parametrize("policy", list(SlowPolicy))
def test_an_empty_outbox_takes_one_item_larger_than_the_byte_limit(policy: SlowPolicy) -> None:
    outbox: Outbox[Item] = Outbox(10, 50, policy)
    assert outbox.push(Item("huge", 51)) == PushResult(True)
    assert outbox.nbytes == 51
    assert drain(outbox) == ["huge"]


def test_drop_oldest_makes_room_for_a_huge_item_by_dropping_everything_older() -> None:
    outbox: Outbox[Item] = Outbox(10, 50, SlowPolicy.DROP_OLDEST)
    outbox.push(Item("a", 10))
    outbox.push(Item("b", 10))
    assert outbox.push(Item("huge", 51)) == PushResult(True, 2)
    assert drain(outbox) == ["huge"]


def test_close_policy_closes_when_a_huge_item_joins_a_backlog() -> None:
    outbox: Outbox[Item] = Outbox(10, 50, SlowPolicy.CLOSE)
    outbox.push(Item("a", 10))
    assert outbox.push(Item("huge", 51)) == PushResult(False, 2, True)


def test_close_policy_empties_the_outbox_and_stays_closed() -> None:
    outbox: Outbox[Item] = Outbox(2, 1000, "close")  # type: ignore[arg-type]
    assert outbox.policy is SlowPolicy.CLOSE
    outbox.push(Item("a", 1))
    outbox.push(Item("b", 1))
    assert outbox.push(Item("c", 1)) == PushResult(False, 3, True)
    assert outbox.overflowed
    assert (len(outbox), outbox.nbytes) == (0, 0)
    assert outbox.push(Item("d", 1)) == PushResult(False, 1, True)


def test_clear_reports_what_it_dropped() -> None:
    outbox: Outbox[Item] = Outbox(10, 1000, SlowPolicy.DROP_OLDEST)
    for item in items(4):
        outbox.push(item)
    assert outbox.clear() == 4
    assert outbox.pop() is None


@pytest.mark.parametrize(("messages", "size"), [(0, 10), (10, 0)])
def test_limits_must_be_positive(messages: int, size: int) -> None:
    with pytest.raises(ValueError):
        Outbox(messages, size, SlowPolicy.DROP_OLDEST)


def test_unknown_policy_is_refused() -> None:
    with pytest.raises(ValueError):
        Outbox(1, 1, "block")  # type: ignore[arg-type]
