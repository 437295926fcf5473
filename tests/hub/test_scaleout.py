"""Scale-out for real: chat server processes (examples/chat/server.py --redis) and a redis-server.

A message sent to one process reaches a client of another; a process killed with
SIGKILL leaves the room's presence within the TTL; ``--workers`` shares one port.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import websockets
from hubtools import RedisServer, unused_port

SERVER = Path(__file__).resolve().parents[2] / "examples" / "chat" / "server.py"
TTL = 1.0  # --presence-ttl of the servers: presence heartbeat every TTL/3


class ChatProcess:
    """One ``examples/chat/server.py`` process, its output kept in a log file."""

    def __init__(self, args: list[str], log: Path, ready_lines: int = 1) -> None:
        self.log = log
        self.ready_lines = ready_lines
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, str(SERVER), *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # its own process group: workers included
            )

    async def ready(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self.log.read_text().count("chat on http://") < self.ready_lines:
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"chat server did not start:\n{self.log.read_text()}")
            await asyncio.sleep(0.02)

    def stop(self) -> None:
        """Kill the process and its workers (the process group it leads)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(5)


@pytest.fixture
async def chat_processes(
    redis_server: RedisServer, redis_prefix: str, tmp_path: Path
) -> AsyncIterator[Callable[..., Any]]:
    """``port, proc = await start(workers=1)``: a chat server on Redis, on a free port."""
    started: list[ChatProcess] = []

    async def start(workers: int = 1) -> tuple[int, ChatProcess]:
        port = unused_port()
        args = ["--host", "127.0.0.1", "--port", str(port), "--redis", redis_server.url]
        args += ["--presence-ttl", str(TTL), "--prefix", redis_prefix, "--workers", str(workers)]
        proc = ChatProcess(args, tmp_path / f"chat-{port}.log", ready_lines=workers)
        started.append(proc)
        await proc.ready()
        return port, proc

    yield start
    for proc in started:
        proc.stop()


class Client:
    """A chat user: a websockets client that joined a room and records what it hears."""

    def __init__(self, ws: websockets.ClientConnection, welcome: dict[str, Any]) -> None:
        self.ws = ws
        self.welcome = welcome

    @classmethod
    async def join(cls, port: int, nick: str, room: str = "lobby") -> Client:
        ws = await websockets.connect(f"ws://127.0.0.1:{port}/ws")
        await ws.send(json.dumps({"type": "join", "nick": nick, "room": room}))
        while True:
            event = json.loads(await asyncio.wait_for(ws.recv(), 5))
            if event["type"] == "welcome":
                return cls(ws, event)

    async def say(self, text: str) -> None:
        await self.ws.send(json.dumps({"type": "say", "text": text}))

    async def until(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5.0) -> Any:
        """The first event matching ``predicate`` (earlier ones are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            event = json.loads(await asyncio.wait_for(self.ws.recv(), max(remaining, 0.001)))
            if predicate(event):
                return event


async def test_messages_cross_processes_and_a_killed_process_leaves_presence(
    chat_processes: Callable[..., Any],
) -> None:
    (port_a, _), (port_b, proc_b) = await chat_processes(), await chat_processes()
    alice = await Client.join(port_a, "alice")
    bob = await Client.join(port_b, "bob")
    try:
        event = await alice.until(lambda e: e["type"] == "join" and e["nick"] == "bob")
        assert event["members"] == ["alice", "bob"]

        await bob.say("hello from B")
        heard = await alice.until(lambda e: e["type"] == "message")
        assert (heard["nick"], heard["text"]) == ("bob", "hello from B")
        await alice.say("hello from A")
        heard = await bob.until(lambda e: e["type"] == "message" and e["nick"] == "alice")
        assert heard["text"] == "hello from A"

        carol = await Client.join(port_a, "carol")  # history lives in Redis
        texts = [item["text"] for item in carol.welcome["history"]]
        assert texts == ["hello from B", "hello from A"]
        await carol.ws.close()

        proc_b.process.send_signal(signal.SIGKILL)  # no goodbye: bob becomes a ghost
        killed = time.monotonic()
        left = await alice.until(lambda e: e["type"] == "leave" and e["nick"] == "bob", 3 * TTL)
        elapsed = time.monotonic() - killed
        assert left["members"] == ["alice"]
        assert elapsed < TTL + TTL / 3 + 0.5, elapsed
        print(f"bob left presence {elapsed:.2f}s after SIGKILL (TTL {TTL}s)")
    finally:
        await alice.ws.close()
        await bob.ws.close()


def said_by(nick: str) -> Callable[[dict[str, Any]], bool]:
    return lambda event: event["type"] == "message" and event["nick"] == nick


async def test_workers_share_one_port_and_one_room(chat_processes: Callable[..., Any]) -> None:
    port, supervisor = await chat_processes(workers=2)
    clients: list[Client] = []
    nodes: set[str] = set()
    try:
        # SO_REUSEPORT spreads connections by hash: connect until both workers have some.
        while len(nodes) < 2:
            assert len(clients) < 40, "every connection went to the same worker"
            nick = f"user{len(clients)}"
            client = await Client.join(port, nick)
            clients.append(client)
            await client.say(f"hi from {nick}")
            mine = await client.until(said_by(nick))
            nodes.add(mine["id"].split("-")[0])  # message ids start with the process' id
        # Everyone hears everyone, whichever worker they are on.
        first = clients[0]
        await clients[-1].say("last word")
        heard = await first.until(lambda e: e["type"] == "message" and e["text"] == "last word")
        assert heard["nick"] == clients[-1].welcome["nick"]
    finally:
        for client in clients:
            await client.ws.close()
    supervisor.process.send_signal(signal.SIGTERM)
    assert supervisor.process.wait(10) == 0
