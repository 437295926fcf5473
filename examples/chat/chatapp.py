"""The chat application: one handler for the page (``/``) and the WebSocket (``/ws``).

Protocol (JSON text messages):

- client -> server: ``{"type": "join", "nick": "...", "room": "...", "since":
  {"epoch": "...", "offset": 12}}`` first (``since``: the last position the page
  saw in that room, when it reconnects), then ``{"type": "say", "text": "..."}``.
- server -> client: ``message`` and ``join``/``leave`` (with the new member
  list), each with the ``epoch`` and ``offset`` of its place in the room's
  history; ``welcome`` (who is there; ``recovered``: true when every missed
  event was sent just before it, else ``history``, the room's last 50
  messages, to start over from); ``error``.

Rooms are hub topics ``chat:<room>`` with history (the hub numbers every event
and recovers what a reconnecting page missed); nicknames are the hub's presence
members.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tidewire import web
from tidewire.hub import (
    HistoryOptions,
    Hub,
    MemoryBackend,
    Position,
    PresenceChange,
    Publication,
    RedisBackend,
)

MAX_FRAME = 4096  # bytes of one client message (WebSocketResponse max_msg_size)
MAX_TEXT = 500  # characters of a chat message
MAX_NICK = 24  # characters of a nickname
HISTORY = 50  # messages a page gets when it starts over
KEPT = 200  # events (messages, joins, leaves) kept per room for recovery
MAX_ROOMS = 1000  # rooms whose history one process keeps (memory hub only)
JOIN_TIMEOUT = 30.0  # seconds a new socket has to send its join
HISTORY_TTL = 24 * 3600  # seconds a room's history outlives its last event
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


def chat_envelope(topic: str, publication: Publication) -> str:
    """An event as the page gets it: the published object plus its ``epoch`` and ``offset``.

    Every event of a chat room is a JSON object, so its position is spliced in
    front of its fields (no parsing, once per event and process).
    """
    position = publication.position
    head = f'{{"epoch":{json.dumps(position.epoch)},"offset":{position.offset}'
    body = publication.data[1:]
    return head + ("," + body if body != "}" else "}")


def parse_since(value: Any) -> Position | None:
    """The position a reconnecting page sent (``None`` when absent or malformed)."""
    if not isinstance(value, dict):
        return None
    epoch, offset = value.get("epoch"), value.get("offset")
    if not isinstance(epoch, str) or not 0 < len(epoch) <= 64:
        return None
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        return None
    return Position(epoch, offset)


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
        self, backend: RedisBackend | None = None, *, history_ttl: int = HISTORY_TTL
    ) -> None:
        if history_ttl < 1:
            raise ValueError("the history TTL must be at least one second")
        self.hub = Hub(
            backend if backend is not None else MemoryBackend(history_topics=MAX_ROOMS),
            policy="close",
            on_presence=self._on_presence,
            history=HistoryOptions(KEPT, float(history_ttl)),
            envelope=chat_envelope,
        )
        self.pages = load_pages()
        self._ids = itertools.count(1)
        self._node = os.urandom(4).hex()
        self._metrics: Any = None  # a prometheus_client registry once enable_metrics() ran

    def enable_metrics(self, server: web.Server | None = None) -> None:
        """Serve the hub's (and ``server``'s) figures for Prometheus on ``/metrics``.

        Needs the ``metrics`` extra (prometheus-client); raises ImportError without it.
        """
        from prometheus_client import CollectorRegistry

        from tidewire.hub.metrics import HubCollector

        registry = CollectorRegistry()
        registry.register(HubCollector(self.hub, server))
        self._metrics = registry

    async def start(self) -> None:
        await self.hub.start()

    async def close(self) -> None:
        await self.hub.close()

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        """The one handler: ``/ws`` is the chat socket, the rest the page."""
        if request.path == "/ws":
            return await self._chat(request)
        if request.path == "/metrics" and self._metrics is not None:
            from tidewire.hub.metrics import metrics_response

            return metrics_response(self._metrics, request)
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
        # With a position, the events the page missed are sent first (before the
        # welcome), then the live ones. Without one, or when they are no longer
        # kept, the page starts over from the history below; an event published
        # in between arrives twice at worst (the page drops it by offset).
        since = parse_since(request.get("since"))
        recovery = await self.hub.subscribe(ws, topic, member=nick, since=since)
        recovered = recovery is not None and recovery.recovered
        history: list[Any] = []
        if not recovered:
            events = [json.loads(chat_envelope(topic, p)) for p in await self.hub.history(topic)]
            history = [event for event in events if event.get("type") == "message"][-HISTORY:]
        members = await self.hub.members(topic)
        welcome: dict[str, Any] = {"type": "welcome", "nick": nick, "room": room}
        welcome["members"] = members
        welcome.update(recovered=recovered, history=history, limit=MAX_TEXT)
        await ws.send_json(welcome)
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
