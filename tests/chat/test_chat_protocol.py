"""The chat server's page and WebSocket protocol, with real HTTP and WebSocket clients."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
import websockets
from chattools import ChatServer, RedisServer, chatapp

from tidewire.hub import RedisBackend


async def join(chat: ChatServer, nick: str, room: str = "lobby") -> tuple[Any, dict[str, Any]]:
    ws = await websockets.connect(chat.ws_url)
    await ws.send(json.dumps({"type": "join", "nick": nick, "room": room}))
    while True:
        event = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if event["type"] == "welcome":
            return ws, event


async def next_event(ws: Any, kind: str) -> dict[str, Any]:
    while True:
        event = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if event["type"] == kind:
            return event  # type: ignore[no-any-return]


async def test_the_page_and_its_files_are_served(chat: ChatServer) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(chat.url) as page:
            assert page.status == 200
            assert page.headers["Content-Type"] == "text/html; charset=utf-8"
            assert "script-src 'self'" in page.headers["Content-Security-Policy"]
            html = await page.text()
            assert '<script src="/app.js"' in html and 'href="/style.css"' in html
        for path, kind in (("/app.js", "text/javascript"), ("/style.css", "text/css")):
            async with session.get(chat.running.url(path)) as response:
                assert response.status == 200
                assert response.headers["Content-Type"].startswith(kind)
        async with session.get(chat.running.url("/../server.py")) as response:
            assert response.status == 404
        async with session.get(chat.running.url("/chatapp.py")) as response:
            assert response.status == 404
        async with session.post(chat.url, data=b"x") as response:
            assert response.status == 405


async def test_static_files_are_file_responses_with_validators(chat: ChatServer) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(chat.running.url("/app.js")) as response:
            body = await response.read()
            etag = response.headers["ETag"]
            assert "Last-Modified" in response.headers
            assert response.headers["Cache-Control"] == "no-cache"
        headers = {"If-None-Match": etag}
        async with session.get(chat.running.url("/app.js"), headers=headers) as response:
            assert response.status == 304
            assert await response.read() == b""
        headers = {"Range": "bytes=0-9"}
        async with session.get(chat.running.url("/app.js"), headers=headers) as response:
            assert response.status == 206
            assert await response.read() == body[:10]


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ("not json", "JSON"),
        ('{"type": "say", "text": "hi"}', "join"),
        ('{"type": "join", "nick": "  ", "room": "lobby"}', "nickname"),
        ('{"type": "join", "nick": "' + "n" * 25 + '", "room": "lobby"}', "nickname"),
        ('{"type": "join", "nick": "a\\u0000b", "room": "lobby"}', "control"),
        ('{"type": "join", "nick": "ann", "room": "Not a room!"}', "room"),
        ('{"type": "join", "nick": 5, "room": "lobby"}', "nickname"),
    ],
)
async def test_bad_joins_get_an_error_and_may_retry(
    chat: ChatServer, payload: str, error: str
) -> None:
    async with websockets.connect(chat.ws_url) as ws:
        await ws.send(payload)
        event = json.loads(await ws.recv())
        assert event["type"] == "error" and error in event["error"]
        await ws.send(json.dumps({"type": "join", "nick": "ann", "room": "lobby"}))
        assert (await next_event(ws, "welcome"))["members"] == ["ann"]


async def test_messages_are_relayed_verbatim_and_validated(chat: ChatServer) -> None:
    ann, _ = await join(chat, "ann")
    bob, welcome = await join(chat, "bob")
    assert welcome["members"] == ["ann", "bob"] and welcome["limit"] == chatapp.MAX_TEXT
    try:
        html = "<script>alert(1)</script><b>x</b> & é"
        await ann.send(json.dumps({"type": "say", "text": f"  {html}\n"}))
        for ws in (ann, bob):
            message = await next_event(ws, "message")
            assert (message["nick"], message["text"]) == ("ann", html)
        for bad, error in (
            ({"type": "say", "text": "x" * (chatapp.MAX_TEXT + 1)}, "longer"),
            ({"type": "say", "text": "   "}, "empty"),
            ({"type": "say", "text": "bell\u0007"}, "control"),
            ({"type": "say", "text": ["list"]}, "string"),
            ({"type": "join", "nick": "again", "room": "lobby"}, "say"),
        ):
            await bob.send(json.dumps(bad))
            assert error in (await next_event(bob, "error"))["error"]
        await bob.send(json.dumps({"type": "say", "text": "line one\nline two"}))
        assert (await next_event(ann, "message"))["text"] == "line one\nline two"
    finally:
        await ann.close()
        await bob.close()


async def test_oversized_frames_close_the_socket_with_1009(chat: ChatServer) -> None:
    ws, _ = await join(chat, "ann")
    await ws.send(json.dumps({"type": "say", "text": "x" * chatapp.MAX_FRAME}))
    with pytest.raises(websockets.ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), 5)
    assert ws.close_code == 1009


async def test_new_members_get_the_last_50_messages(chat: ChatServer) -> None:
    ann, _ = await join(chat, "ann", room="busy")
    for n in range(55):
        await ann.send(json.dumps({"type": "say", "text": f"message {n}"}))
    for _ in range(55):
        await next_event(ann, "message")
    bob, welcome = await join(chat, "bob", room="busy")
    assert [m["text"] for m in welcome["history"]] == [f"message {n}" for n in range(5, 55)]
    other, welcome = await join(chat, "cid", room="quiet")
    assert welcome["history"] == [] and welcome["members"] == ["cid"]
    for ws in (ann, bob, other):
        await ws.close()


async def test_join_and_leave_notices_carry_the_member_list(chat: ChatServer) -> None:
    ann, _ = await join(chat, "ann")
    bob, _ = await join(chat, "bob")
    assert (await next_event(ann, "join"))["members"] == ["ann", "bob"]
    bob_tab2, welcome = await join(chat, "bob")
    assert welcome["members"] == ["ann", "bob"]
    await bob.close()
    await bob_tab2.send(json.dumps({"type": "say", "text": "still here"}))
    assert (await next_event(ann, "message"))["text"] == "still here"  # no leave in between
    await bob_tab2.close()
    leave = await next_event(ann, "leave")
    assert (leave["nick"], leave["members"]) == ("bob", ["ann"])
    await ann.close()


async def test_a_socket_that_never_joins_is_closed(
    chat: ChatServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chatapp, "JOIN_TIMEOUT", 0.2)
    async with websockets.connect(chat.ws_url) as ws:
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
        assert ws.close_code == 1008


async def test_deeply_nested_json_is_an_error_not_a_crash(
    chat: ChatServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with websockets.connect(chat.ws_url) as ws:
        for payload in ("[" * 4000, "[" * 2000 + "]" * 2000):
            await ws.send(payload)
            event = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert event["type"] == "error" and "JSON" in event["error"]
        await ws.send(json.dumps({"type": "join", "nick": "ann", "room": "lobby"}))
        assert (await next_event(ws, "welcome"))["members"] == ["ann"]
        deep = json.dumps({"type": "say", "text": "x"})[:-1] + ', "x": ' + "[" * 4000 + "}"
        await ws.send(deep)
        assert "JSON" in (await next_event(ws, "error"))["error"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_redis_history_expires(chat_redis: RedisServer, serve: Any) -> None:
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    app = chatapp.ChatApp(RedisBackend(chat_redis.url, prefix=prefix), history_ttl=120)
    await app.start()
    running = await serve(app.handle)
    admin = aioredis.Redis.from_url(chat_redis.url)
    try:
        chat = ChatServer(app, running)
        ws, _ = await join(chat, "ann", room="kept")
        await ws.send(json.dumps({"type": "say", "text": "hello"}))
        await next_event(ws, "message")
        key = f"{prefix}:stream:chat:kept"  # the hub's history: ann's join, then her message
        assert await admin.xlen(key) == 2
        assert 0 < await admin.ttl(key) <= 120
        assert 0 < await admin.ttl(f"{prefix}:meta:chat:kept") <= 120
        await ws.close()
    finally:
        await app.close()
        await admin.aclose()


async def test_a_reconnecting_client_gets_the_events_it_missed(chat: ChatServer) -> None:
    ann, _ = await join(chat, "ann", room="dock")
    bob, _ = await join(chat, "bob", room="dock")
    await bob.send(json.dumps({"type": "say", "text": "first"}))
    seen = await next_event(ann, "message")
    since = {"epoch": seen["epoch"], "offset": seen["offset"]}
    await ann.close()
    await next_event(bob, "leave")
    for n in range(3):
        await bob.send(json.dumps({"type": "say", "text": f"while away {n}"}))
    for _ in range(3):
        await next_event(bob, "message")
    ann = await websockets.connect(chat.ws_url)
    await ann.send(json.dumps({"type": "join", "nick": "ann", "room": "dock", "since": since}))
    events = []
    while not events or events[-1]["type"] != "welcome":
        events.append(json.loads(await asyncio.wait_for(ann.recv(), 5)))
    kinds = [(e["type"], e.get("nick"), e.get("text")) for e in events]
    assert kinds == [
        ("leave", "ann", None),
        ("message", "bob", "while away 0"),
        ("message", "bob", "while away 1"),
        ("message", "bob", "while away 2"),
        ("join", "ann", None),
        ("welcome", "ann", None),
    ]
    first = since["offset"] + 1
    assert [e["offset"] for e in events[:-1]] == list(range(first, first + 5))
    assert events[-1]["recovered"] is True and events[-1]["history"] == []
    # A position from another epoch (a restarted server) starts over from the history.
    stale = {"epoch": "0" * 12, "offset": since["offset"]}
    cid = await websockets.connect(chat.ws_url)
    await cid.send(json.dumps({"type": "join", "nick": "cid", "room": "dock", "since": stale}))
    welcome = await next_event(cid, "welcome")
    assert welcome["recovered"] is False
    assert [m["text"] for m in welcome["history"]][-3:] == [f"while away {n}" for n in range(3)]
    for ws in (ann, bob, cid):
        await ws.close()


async def test_the_join_timeout_is_overall_not_per_attempt(
    chat: ChatServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chatapp, "JOIN_TIMEOUT", 0.4)
    async with websockets.connect(chat.ws_url) as ws:
        started = asyncio.get_running_loop().time()
        with pytest.raises(websockets.ConnectionClosed):
            for _ in range(40):  # a refused join every 0.05 s, for up to 2 s
                await ws.send("not json")
                await asyncio.wait_for(ws.recv(), 5)
                await asyncio.sleep(0.05)
            await asyncio.wait_for(ws.recv(), 5)
        assert ws.close_code == 1008
        assert asyncio.get_running_loop().time() - started < 1.5


async def test_metrics_on_request(serve: Any) -> None:
    app = chatapp.ChatApp()
    await app.start()
    running = await serve(app.handle)
    chat = ChatServer(app, running)
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(chat.url + "metrics") as response:
                assert response.status == 404  # not enabled: just an unknown path
            app.enable_metrics(running.server)
            ws, _ = await join(chat, "ann")
            async with session.get(chat.url + "metrics") as response:
                assert response.status == 200
                text = await response.text()
            await ws.close()
        assert "tidewire_hub_subscribers 1.0" in text
        assert 'tidewire_hub_recoveries_total{result="served"} 0.0' in text
        assert "tidewire_connections_open 2.0" in text  # the chat socket and this request
    finally:
        await app.close()
