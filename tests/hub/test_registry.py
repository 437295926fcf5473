"""Topics, subscriptions and presence counts (no sockets)."""

from __future__ import annotations

from tidewire.hub.registry import PresenceTable, TopicRegistry


def test_first_and_last_subscriber_are_edges() -> None:
    registry: TopicRegistry[str] = TopicRegistry()
    [first] = registry.add("a", "room", "alice")
    [second] = registry.add("b", "room", None)
    assert (first.added, first.edge) == (True, True)
    assert (second.added, second.edge) == (True, False)
    assert set(registry.subscribers("room")) == {"a", "b"}
    removed = registry.remove("a", "room")
    assert removed is not None and (removed.added, removed.edge) == (False, False)
    last = registry.remove("b", "room")
    assert last is not None and last.edge
    assert registry.topics() == [] and registry.subscribers("room") == ()
    assert len(registry) == 0


def test_subscribing_twice_with_the_same_member_changes_nothing() -> None:
    registry: TopicRegistry[str] = TopicRegistry()
    registry.add("a", "room", "alice")
    assert registry.add("a", "room", "alice") == []


def test_changing_the_member_removes_the_old_entry_first() -> None:
    registry: TopicRegistry[str] = TopicRegistry()
    [old] = registry.add("a", "room", "alice")
    removal, addition = registry.add("a", "room", "ally")
    assert (removal.added, removal.subscription) == (False, old.subscription)
    assert addition.added and addition.subscription.member == "ally"
    assert addition.subscription.entry != old.subscription.entry
    assert [s.member for s in registry.subscriptions_of("a")] == ["ally"]


def test_remove_all_leaves_every_topic_and_reports_edges() -> None:
    registry: TopicRegistry[str] = TopicRegistry()
    registry.add("a", "one", "alice")
    registry.add("a", "two", "alice")
    registry.add("b", "two", "bob")
    changes = registry.remove_all("a")
    assert sorted((c.subscription.topic, c.edge) for c in changes) == [
        ("one", True),
        ("two", False),
    ]
    assert "a" not in registry and "b" in registry
    assert registry.topics() == ["two"]
    assert registry.remove_all("a") == []
    assert registry.remove("a", "two") is None


def test_fanout_snapshot_is_refreshed_after_a_change() -> None:
    registry: TopicRegistry[str] = TopicRegistry()
    registry.add("a", "t", None)
    before = registry.subscribers("t")
    assert registry.subscribers("t") is before  # cached
    registry.add("b", "t", None)
    after = registry.subscribers("t")
    assert before == ("a",) and set(after) == {"a", "b"}


def test_entries_are_unique() -> None:
    registry: TopicRegistry[str] = TopicRegistry()
    entries = {
        change.subscription.entry
        for subscriber in "abc"
        for topic in ("x", "y")
        for change in registry.add(subscriber, topic, "same")
    }
    assert len(entries) == 6
    assert {s.entry for s in registry.subscriptions_of("a")} < entries


def test_presence_counts_each_name_once_however_many_sockets() -> None:
    table = PresenceTable()
    assert table.add("room", "bob") is True
    assert table.add("room", "alice") is True
    assert table.add("room", "alice") is False  # second tab
    assert table.members("room") == ["alice", "bob"]
    assert table.remove("room", "alice") is False
    assert table.members("room") == ["alice", "bob"]
    assert table.remove("room", "alice") is True
    assert table.remove("room", "alice") is False  # not there any more
    assert table.remove("elsewhere", "bob") is False
    assert table.remove("room", "bob") is True
    assert table.members("room") == []


def test_topics_without_subscribers_are_not_cached() -> None:
    registry: TopicRegistry[str] = TopicRegistry()
    for n in range(20_000):
        topic = f"room-{n}"
        registry.add("a", topic, "ann")
        assert registry.subscribers(topic) == ("a",)
        registry.remove("a", topic)
        assert registry.subscribers(topic) == ()  # a publish to the emptied room
        assert registry.subscribers(f"never-{n}") == ()  # a publish to a room nobody joined
    assert len(registry._fanout) == 0
    registry.add("b", "kept", None)
    assert registry.subscribers("kept") == ("b",)
    assert list(registry._fanout) == ["kept"]
