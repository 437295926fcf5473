"""The chat application: one handler for the page (``/``) and the WebSocket (``/ws``).

Protocol (JSON text messages):

- client -> server: ``{"type": "join", "nick": "...", "room": "..."}`` first,
  then ``{"type": "say", "text": "..."}``.
- server -> client: ``welcome`` (history of the room's last 50 messages and who is
  there), ``message``, ``join``/``leave`` (with the new member list), ``error``.

Rooms are hub topics ``chat:<room>``; nicknames are the hub's presence members.
Limits are enforced here, not trusted from the page: frames above
``MAX_FRAME`` bytes close the socket with 1009, nicknames and texts are bounded,
control characters are refused. The page shows every text with ``textContent``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import time
import unicodedata
from collections import OrderedDict, deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from tidewire import web
from tidewire.hub import Hub, PresenceChange, RedisBackend

MAX_FRAME = 4096  # bytes of one client message (WebSocketResponse max_msg_size)
MAX_TEXT = 500  # characters of a chat message
MAX_NICK = 24  # characters of a nickname
HISTORY = 50  # messages kept per room
JOIN_TIMEOUT = 30.0  # seconds a new socket has to send its join
HISTORY_TTL = 24 * 3600  # seconds a room's Redis history outlives its last message
ROOM_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
STATIC_DIR = Path(__file__).resolve().parent / "static"

_PAGES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
}
_PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    # Defence in depth: even an injected <script> could not run.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'"
    ),
}


class ChatError(ValueError):
    """A client message the server refuses; the text is shown to the user."""


def clean_nick(value: Any) -> str:
    """A valid nickname from ``value``, or :class:`ChatError`."""
    if not isinstance(value, str):
        raise ChatError("nickname must be a string")
    nick = " ".join(value.split())
    if not nick:
        raise ChatError("pick a nickname")
    if len(nick) > MAX_NICK:
        raise ChatError(f"nickname longer than {MAX_NICK} characters")
    if any(unicodedata.category(char)[0] == "C" for char in nick):
        raise ChatError("nickname has control characters")
    return nick


def clean_room(value: Any) -> str:
    """A valid room name (lowercase letters, digits, ``-`` and ``_``), or :class:`ChatError`."""
    if not isinstance(value, str):
        raise ChatError("room must be a string")
    room = value.strip().lower()
    if not ROOM_PATTERN.fullmatch(room):
        raise ChatError("room: 1-32 of a-z, 0-9, - and _")
    return room


def clean_text(value: Any) -> str:
    """A valid message text (newlines and tabs allowed), or :class:`ChatError`."""
    if not isinstance(value, str):
        raise ChatError("text must be a string")
    text = value.strip()
    if not text:
        raise ChatError("empty message")
    if len(text) > MAX_TEXT:
        raise ChatError(f"message longer than {MAX_TEXT} characters")
    if any(unicodedata.category(char)[0] == "C" and char not in "\n\t" for char in text):
        raise ChatError("message has control characters")
    return text


def parse(data: str, expected: str) -> dict[str, Any]:
    """The JSON object in ``data``, which must have ``"type": expected``."""
    try:
        message = json.loads(data)
    except (ValueError, RecursionError):  # RecursionError: nested too deep to parse
        raise ChatError("messages must be JSON") from None
    if not isinstance(message, dict) or message.get("type") != expected:
        raise ChatError(f"expected a {expected!r} message")
    return message


class History(Protocol):
    """The last :data:`HISTORY` messages of each room."""

    async def add(self, room: str, item: dict[str, Any]) -> None: ...

    async def recent(self, room: str) -> list[dict[str, Any]]: ...


class MemoryHistory:
    """History in this process (at most ``max_rooms`` rooms, least recently used dropped)."""

    def __init__(self, max_rooms: int = 1000) -> None:
        self._rooms: OrderedDict[str, deque[dict[str, Any]]] = OrderedDict()
        self._max_rooms = max_rooms

    async def add(self, room: str, item: dict[str, Any]) -> None:
        log = self._rooms.get(room)
        if log is None:
            log = self._rooms[room] = deque(maxlen=HISTORY)
            if len(self._rooms) > self._max_rooms:
                self._rooms.popitem(last=False)
        self._rooms.move_to_end(room)
        log.append(item)

    async def recent(self, room: str) -> list[dict[str, Any]]:
        return list(self._rooms.get(room, ()))


class RedisHistory:
    """History in a Redis list per room (``{prefix}:history:{room}``), shared by all workers.

    A room's list expires ``ttl`` seconds after its last message: rooms are named
    by clients, so their number must not grow Redis forever.
    """

    def __init__(self, backend: RedisBackend, prefix: str, ttl: int = HISTORY_TTL) -> None:
        if ttl < 1:
            raise ValueError("the history TTL must be at least one second")
        self._backend = backend
        self._prefix = prefix
        self._ttl = ttl

    def _key(self, room: str) -> str:
        return f"{self._prefix}:history:{room}"

    async def add(self, room: str, item: dict[str, Any]) -> None:
        pipe = self._backend.client.pipeline(transaction=False)
        pipe.lpush(self._key(room), json.dumps(item))
        pipe.ltrim(self._key(room), 0, HISTORY - 1)
        pipe.expire(self._key(room), self._ttl)
        await pipe.execute()

    async def recent(self, room: str) -> list[dict[str, Any]]:
        raw = await self._backend.client.lrange(self._key(room), 0, HISTORY - 1)
        return [json.loads(item) for item in reversed(raw)]


@dataclass(frozen=True)
class Page:
    path: Path
    content_type: str


def load_pages(static_dir: Path = STATIC_DIR) -> dict[str, Page]:
    """The static files by URL path (only these paths are ever served)."""
    return {
        path: Page(static_dir / name, content_type) for path, (name, content_type) in _PAGES.items()
    }


def now_ms() -> int:
    return int(time.time() * 1000)


class ChatApp:
    """The chat server's state: its hub, the history and the static pages.

    The caller must ``await app.start()`` before serving ``app.handle`` and
    ``await app.close()`` after the server stopped.
    """

    def __init__(
        self,
        backend: RedisBackend | None = None,
        *,
        prefix: str = "tidewire-chat",
        history_ttl: int = HISTORY_TTL,
    ) -> None:
        self.hub = Hub(backend, policy="close", on_presence=self._on_presence)
        self.history: History = (
            RedisHistory(backend, prefix, history_ttl) if backend is not None else MemoryHistory()
        )
        self.pages = load_pages()
        self._ids = itertools.count(1)
        self._node = os.urandom(4).hex()

    async def start(self) -> None:
        await self.hub.start()

    async def close(self) -> None:
        await self.hub.close()

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        """The one handler: ``/ws`` is the chat socket, the rest the page."""
        if request.path == "/ws":
            return await self._chat(request)
        page = self.pages.get(request.path)
        if page is None:
            raise web.HTTPNotFound(text="not found")
        if request.method not in ("GET", "HEAD"):
            raise web.HTTPMethodNotAllowed(request.method, ("GET", "HEAD"))
        # FileResponse: sendfile, ETag/Last-Modified, 304 and ranges for free.
        headers = {**_PAGE_HEADERS, "Content-Type": page.content_type}
        return web.FileResponse(page.path, headers=headers)

    async def _chat(self, request: web.BaseRequest) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=MAX_FRAME, heartbeat=30.0, max_queue=64 * 1024)
        await ws.prepare(request)
        try:
            joined = await self._join(ws)
            if joined is not None:
                await self._converse(ws, *joined)
        finally:
            await self.hub.disconnect(ws)
        return ws

    async def _join(self, ws: web.WebSocketResponse) -> tuple[str, str] | None:
        # One deadline for the whole join, however many refused attempts come first.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + JOIN_TIMEOUT
        while True:
            try:
                msg = await ws.receive(timeout=max(0.0, deadline - loop.time()))
            except asyncio.TimeoutError:
                await ws.close(code=web.WSCloseCode.POLICY_VIOLATION, message="join first")
                return None
            if msg.type is not web.WSMsgType.TEXT:
                return None
            try:
                request = parse(msg.data, "join")
                nick, room = clean_nick(request.get("nick")), clean_room(request.get("room"))
            except ChatError as exc:
                await ws.send_json({"type": "error", "error": str(exc)})
                continue
            break
        topic = f"chat:{room}"
        # Subscribe first, then read the history: a message published in between
        # arrives twice at worst (the page drops it by id), never zero times.
        await self.hub.subscribe(ws, topic, member=nick)
        history = await self.history.recent(room)
        members = await self.hub.members(topic)
        welcome = {"type": "welcome", "nick": nick, "room": room, "members": members}
        await ws.send_json({**welcome, "history": history, "limit": MAX_TEXT})
        return nick, room

    async def _converse(self, ws: web.WebSocketResponse, nick: str, room: str) -> None:
        async for msg in ws:
            if msg.type is not web.WSMsgType.TEXT:
                continue
            try:
                text = clean_text(parse(msg.data, "say").get("text"))
            except ChatError as exc:
                await ws.send_json({"type": "error", "error": str(exc)})
                continue
            item = {
                "type": "message",
                "id": f"{self._node}-{next(self._ids)}",
                "nick": nick,
                "text": text,
                "ts": now_ms(),
            }
            await self.history.add(room, item)
            await self.hub.publish(f"chat:{room}", item)

    async def _on_presence(self, change: PresenceChange) -> None:
        """Tell the room who came and went, with the new member list."""
        if not change.topic.startswith("chat:"):
            return
        members = await self.hub.members(change.topic)
        for kind, nicks in (("join", change.joined), ("leave", change.left)):
            for nick in nicks:
                notice = {"type": kind, "nick": nick, "members": members, "ts": now_ms()}
                await self.hub.publish(change.topic, notice)
