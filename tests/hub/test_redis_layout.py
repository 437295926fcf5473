"""Redis key layout, envelopes and presence pruning decisions (no Redis needed)."""

from __future__ import annotations

import pytest

from tidewire import web
from tidewire.hub.redis_layout import (
    PresenceEntries,
    RedisLayout,
    entry_field,
    node_of,
    pack_frame,
    unpack_frame,
)


def test_keys_and_channels_live_under_the_prefix() -> None:
    layout = RedisLayout("app")
    assert layout.node_key("n1") == "app:node:n1"
    assert layout.presence_key("room:lobby") == "app:presence:room:lobby"
    assert layout.channel("room:lobby") == b"app:topic:room:lobby"


@pytest.mark.parametrize("topic", ["lobby", "chat:général", "a:b:c", ""])
def test_topic_of_reverses_channel(topic: str) -> None:
    layout = RedisLayout()
    assert layout.topic_of(layout.channel(topic)) == topic


def test_foreign_channels_have_no_topic() -> None:
    assert RedisLayout("app").topic_of(b"other:topic:x") is None
    with pytest.raises(ValueError):
        RedisLayout("")


def test_entry_fields_name_their_node() -> None:
    assert entry_field("node1", "1f") == "node1/1f"
    assert node_of("node1/1f") == "node1"
    with pytest.raises(ValueError):
        entry_field("bad/node", "1")


def test_envelope_carries_a_prepared_frame_unchanged() -> None:
    for data in ("héllo", b"\x00\x01", "x" * 70000):
        frame = web.PreparedMessage.encode(data).frame
        assert unpack_frame(pack_frame(frame)) == frame


@pytest.mark.parametrize(
    "payload", [b"", b"\x01", b"\x02\x81\x00", b"\x01\x88\x02\x03\xe8", b"hello"]
)
def test_foreign_payloads_are_refused(payload: bytes) -> None:
    with pytest.raises(ValueError):
        unpack_frame(payload)


def test_presence_split_by_node_liveness() -> None:
    entries = {"a/1": "alice", "a/2": "alice", "b/1": "bob", "c/1": "alice", "c/2": "carol"}
    assert PresenceEntries.nodes(entries) == ["a", "b", "c"]
    snapshot = PresenceEntries.split(entries, alive_nodes={"a", "b"})
    assert dict(snapshot.live) == {"a/1": "alice", "a/2": "alice", "b/1": "bob"}
    assert dict(snapshot.dead) == {"c/1": "alice", "c/2": "carol"}
    assert snapshot.members() == ["alice", "bob"]
    # alice is still present through node a: only carol vanished
    assert snapshot.vanished(["c/1", "c/2"]) == ["carol"]
    # another process deleted c/2 first: it reports carol, not us
    assert snapshot.vanished(["c/1"]) == []


def test_retired_entries_of_a_live_node_count_as_dead() -> None:
    entries = {"n1/1": "ann", "n1/2": "bob", "n2/1": "bob"}
    split = PresenceEntries.split(entries, ["n1", "n2"], retired=["n1/2"])
    assert split.live == {"n1/1": "ann", "n2/1": "bob"}
    assert split.dead == {"n1/2": "bob"}
    assert split.vanished(["n1/2"]) == []  # bob is still there through n2
