"""``Hub``: named topics of WebSockets, with presence, fan-out and slow-consumer safety.

::

    hub = Hub()                                   # in memory; Hub(RedisBackend(url)) to scale out

    async def handler(request):
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        try:
            await hub.subscribe(ws, "room:lobby", member="alice")
            async for msg in ws:
                await hub.publish("room:lobby", {"from": "alice", "text": msg.data})
        finally:
            await hub.disconnect(ws)
        return ws
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from ..ws.messages import WSCloseCode, WSConnectionClosed
from ..ws.prepared import PreparedMessage
from .backend import Backend, MemoryBackend
from .delivery import Counters, Delivery, DeliveryLimits, HubSocket
from .fanout import Envelope, Fanout, HistoryRule
from .history import Position, Publication, Recovery
from .outbox import SlowPolicy
from .pressure import Pressure
from .recovery import json_envelope
from .registry import TopicChange, TopicRegistry
from .values import HubStats, PresenceCallback, PresenceChange, compact_json

__all__ = ["Envelope", "HistoryRule", "Hub", "HubStats", "PresenceCallback", "PresenceChange"]

logger = logging.getLogger("tidewire.hub")


class Hub:
    """Topics of WebSockets: subscribe, publish once to all, see who is there.

    Options (keyword):

    - ``backend``: :class:`~tidewire.hub.MemoryBackend` (default, one process) or
      :class:`~tidewire.hub.RedisBackend` (several processes share topics and presence).
    - ``policy``: what happens to a subscriber whose backlog is full:
      ``"drop_oldest"`` (default) or ``"close"`` (closed with ``close_code``,
      1013 "try again later" by default; 1008 is the other usual choice).
    - ``max_queue``/``max_queue_bytes``: the backlog of one slow subscriber
      (256 messages, 256 KiB). A subscriber is slow when its transport paused
      writing: the peer did not take the bytes already handed to it (the
      transport's high-water mark, 64 KiB by default). Besides its backlog, a
      slow subscriber holds only what its WebSocket buffered before the pause
      (about 128 KiB).
    - ``publish_high_water`` (4 MiB), ``max_delay`` (10 ms), ``publish_max_wait``
      (50 ms): the fan-out of a publication lets the event loop write what it
      handed out once that reaches ``publish_high_water`` bytes, once the
      oldest unwritten frame is ``max_delay`` seconds old, or when a subscriber
      that still reads is backing up, so a publisher that never yields loses
      nothing and frames leave within about ``max_delay`` (plus one fan-out).
      The first fan-out of a burst lets it write at once, so the first frames
      leave after one fan-out. A smaller ``max_delay`` means smaller batches:
      lower latency, more system calls per message. After letting the loop
      write, it waits up to ``publish_max_wait`` seconds for a backing-up
      subscriber's drain to progress, or for backlogs above
      ``publish_high_water`` to shrink (never again for readers that made no
      progress since; see :class:`~tidewire.hub.pressure.Pressure`). Transient
      memory grows with ``publish_high_water``: the batches joined per socket.
    - ``history``: :class:`HistoryOptions` (``size``, ``ttl``) for every topic, or
      a function of the topic returning them (``None``: no history). Such
      topics give each publication a :class:`Position` and let
      :meth:`subscribe` recover what a client missed. Their publications must
      be JSON values (str included, sent as JSON strings), not bytes.
    - ``envelope``: ``envelope(topic, publication) -> str | bytes``, the message
      subscribers of a topic with history get; the default is the JSON text
      ``{"topic":..,"epoch":..,"offset":..,"data":<the published value>}``.
    - ``on_presence``: ``async def on_presence(change)``, called with each
      :class:`PresenceChange` (subscribe/unsubscribe with a member name, a closed
      socket's cleanup, another process' death noticed by the Redis backend).
    - ``sweep_interval``: how often closed sockets are looked for (seconds).
    - ``dumps``: JSON encoder for published values that are neither str nor bytes
      (compact, UTF-8 kept).

    The caller must ``await hub.start()`` (or use ``async with hub``; the first
    subscribe/publish starts it too) and ``await hub.close()`` at shutdown. A
    handler should call :meth:`disconnect` when it ends; a socket that closes is
    also removed by the hub itself within ``sweep_interval``.
    """

    def __init__(
        self,
        backend: Backend | None = None,
        *,
        policy: SlowPolicy | str = SlowPolicy.DROP_OLDEST,
        max_queue: int = 256,
        max_queue_bytes: int = 256 * 1024,
        close_code: int = WSCloseCode.TRY_AGAIN_LATER,
        on_presence: PresenceCallback | None = None,
        sweep_interval: float = 1.0,
        dumps: Callable[[Any], str] = compact_json,
        publish_high_water: int = 4 * 1024 * 1024,
        max_delay: float = 0.01,
        publish_max_wait: float = 0.05,
        history: HistoryRule | None = None,
        envelope: Envelope = json_envelope,
    ) -> None:
        if max_queue < 1 or max_queue_bytes < 1:
            raise ValueError("max_queue and max_queue_bytes must be positive")
        self._backend: Backend = backend if backend is not None else MemoryBackend()
        self._limits = DeliveryLimits(
            max_queue, max_queue_bytes, SlowPolicy(policy), int(close_code)
        )
        self._pressure = Pressure(publish_high_water, max_delay, publish_max_wait)
        self._on_presence = on_presence
        self._sweep_interval = sweep_interval
        self._dumps = dumps
        self._registry: TopicRegistry[Delivery] = TopicRegistry()
        self._fanout = Fanout(self._registry, self._pressure, dumps, history, envelope)
        self._deliveries: dict[HubSocket, Delivery] = {}
        self._counters = Counters()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._starting: asyncio.Task[None] | None = None
        self._closed = False

    # lifecycle ----------------------------------------------------------------------

    @property
    def backend(self) -> Backend:
        """The backend given at construction (or the default in-memory one)."""
        return self._backend

    async def start(self) -> None:
        """Start the backend and the sweeper; calling it again does nothing."""
        if self._closed:
            raise RuntimeError("this hub is closed")
        task = self._starting
        if task is None or (task.done() and (task.cancelled() or task.exception() is not None)):
            # First call, or the last attempt failed (Redis down?): try again.
            task = self._starting = asyncio.get_running_loop().create_task(self._start())
        await asyncio.shield(task)

    async def _start(self) -> None:
        await self._backend.start(_Sink(self))
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    async def close(self) -> None:
        """Stop delivering, withdraw this process' presence, close the backend.

        Sockets stay open (closing them is the server's shutdown's job).
        """
        if self._closed:
            return
        self._closed = True
        started = self._starting is not None
        if self._starting is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._starting  # a start in progress finishes first
        if self._sweeper is not None:
            self._sweeper.cancel()
        for delivery in list(self._deliveries.values()):
            delivery.stop()
        self._deliveries.clear()
        self._registry = self._fanout.registry = TopicRegistry()
        for task in list(self._tasks):
            task.cancel()
        if started:
            await self._backend.close()

    async def __aenter__(self) -> Hub:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # subscriptions ------------------------------------------------------------------

    async def subscribe(
        self,
        ws: HubSocket,
        topic: str,
        *,
        member: str | None = None,
        since: Position | None = None,
        recent: int = 0,
    ) -> Recovery | None:
        """Send ``topic``'s messages to ``ws``; with ``member``, count it in presence.

        When this returns, every later publication of ``topic`` (from any process)
        reaches ``ws``. Subscribing again changes the member name. ``ws`` must be
        prepared; raises :class:`~tidewire.web.WSConnectionClosed` if it is closed,
        and the backend's error if it cannot watch the topic (nothing is then
        subscribed). Changes of one socket's subscriptions (subscribe, unsubscribe,
        its removal once closed) run one at a time, in call order.

        For a topic with history it returns a :class:`Recovery` (``None``
        otherwise). With ``since`` (the last position the client saw) the
        publications it missed are sent first, in order, then the live ones, with
        no gap and no duplicate even while others publish; when that is
        impossible, ``recovered`` is False and the application must reload its
        state. With ``recent``, when there is no ``since`` or recovery failed, the
        last ``recent`` retained publications are sent before the live ones.
        """
        if not ws.prepared:
            raise RuntimeError("prepare() the WebSocket before subscribing it")
        await self.start()
        while True:
            if ws.closed:
                raise WSConnectionClosed(code=None)
            delivery = self._deliveries.get(ws)
            if delivery is None:
                delivery = Delivery(
                    ws,
                    self._limits,
                    self._counters,
                    self._pressure,
                    self._on_delivery_closed,
                    self._spawn,
                )
                self._deliveries[ws] = delivery
            async with delivery.membership:
                if self._deliveries.get(ws) is not delivery:
                    continue  # removed while we waited: closed (raise) or unsubscribed (anew)
                fanout = self._fanout
                options = fanout.options(topic)
                if options is None:
                    await self._subscribe(delivery, topic, member)
                    return None
                fanout.replays.begin(topic, delivery)  # live publications wait from now on
                try:
                    await self._subscribe(delivery, topic, member)
                except BaseException:
                    fanout.replays.end(topic, delivery)
                    raise
                return await fanout.recover(
                    self._backend, self._counters, delivery, topic, options, since, recent
                )

    async def _subscribe(self, delivery: Delivery, topic: str, member: str | None) -> None:
        for change in self._registry.add(delivery, topic, member):
            if not change.added:
                await self._apply(change)
                continue
            # After the registry (so that a concurrent last unsubscribe of another
            # socket cannot unwatch it) and before the join (so that the socket sees
            # its own notice).
            try:
                await self._backend.watch(topic)
            except BaseException:
                self._registry.remove(delivery, topic)
                if delivery not in self._registry:
                    self._forget(delivery)
                raise
            await self._apply(change)

    async def unsubscribe(self, ws: HubSocket, topic: str) -> None:
        """Stop sending ``topic`` to ``ws`` (and remove its presence entry there)."""
        delivery = self._deliveries.get(ws)
        if delivery is None:
            return
        async with delivery.membership:
            if self._deliveries.get(ws) is not delivery:
                return
            change = self._registry.remove(delivery, topic)
            try:
                if change is not None:
                    await self._apply(change)
            finally:
                if delivery not in self._registry:
                    self._forget(delivery)
                    delivery.stop()

    async def disconnect(self, ws: HubSocket) -> None:
        """Remove ``ws`` from every topic (call it when the handler ends).

        Backend failures are logged, not raised: every topic is left, whatever
        happens to the others.
        """
        delivery = self._deliveries.get(ws)
        if delivery is not None:
            await self._drop(delivery)

    def topics(self) -> list[str]:
        """Topics with subscribers in this process."""
        return self._registry.topics()

    def subscriber_count(self, topic: str) -> int:
        """Subscribers of ``topic`` in this process."""
        return len(self._registry.subscribers(topic))

    def backlog(self, ws: HubSocket) -> tuple[int, int]:
        """Messages and bytes queued for ``ws`` because it reads slowly."""
        delivery = self._deliveries.get(ws)
        return delivery.backlog if delivery is not None else (0, 0)

    async def members(self, topic: str) -> list[str]:
        """Member names present in ``topic`` (in every process of the backend), sorted."""
        await self.start()
        return await self._backend.members(topic)

    # publishing ---------------------------------------------------------------------

    def prepare(self, data: Any) -> PreparedMessage:
        """Frame ``data`` once: str as TEXT, bytes as BINARY, anything else as JSON TEXT."""
        return self._fanout.prepare(data)

    async def publish(self, topic: str, data: Any) -> Position | None:
        """Send ``data`` to every subscriber of ``topic``, framed once for all of them.

        It never waits for one slow subscriber: one that cannot keep up gets a
        backlog and then the hub's policy. It lets the event loop run when the
        hub has handed out ``publish_high_water`` bytes or held a frame for
        ``max_delay`` (see the class doc), so a tight publishing loop loses
        nothing. With the memory backend the frames are handed to the sockets (or
        queued) when this returns. For a topic with history, ``data`` must be a
        JSON value (a str is sent as a JSON string) and the publication's
        :class:`Position` is returned; otherwise ``None``.
        """
        options = self._fanout.options(topic)
        if options is not None:
            if isinstance(data, bytes | bytearray | memoryview | PreparedMessage):
                raise TypeError("a topic with history takes JSON values, not bytes")
            text = self._dumps(data)
            await self.start()
            self._counters.published += 1
            return await self._backend.append(topic, text, options)
        message = self._fanout.prepare(data)
        await self.start()
        self._counters.published += 1
        await self._backend.publish(topic, message)
        return None

    async def history(self, topic: str, *, limit: int | None = None) -> list[Publication]:
        """The last ``limit`` (default: all) retained publications of ``topic``, oldest first."""
        options = self._fanout.options(topic)
        if options is None:
            return []
        await self.start()
        count = options.size if limit is None else min(limit, options.size)
        return (await self._backend.history(topic, None, count)).publications

    # stats --------------------------------------------------------------------------

    @property
    def stats(self) -> HubStats:
        """Counters since the hub was made, and the current backlog."""
        counters = self._counters
        slow = queued = queued_bytes = 0
        for delivery in self._deliveries.values():
            messages, size = delivery.pending
            if messages:
                slow += 1
                queued += messages
                queued_bytes += size
        return HubStats(
            published=counters.published,
            delivered=counters.delivered,
            bytes_out=counters.bytes_out,
            dropped=counters.dropped,
            closed=counters.closed,
            recoveries=counters.recoveries,
            recovery_failures=counters.recovery_failures,
            publish_waits=self._pressure.waits,
            subscribers=len(self._registry),
            topics=len(self._registry.topics()),
            slow=slow,
            queued_messages=queued,
            queued_bytes=queued_bytes,
        )

    # internals ----------------------------------------------------------------------

    async def _apply(self, change: TopicChange[Delivery]) -> None:
        subscription = change.subscription
        topic, member = subscription.topic, subscription.member
        if change.added:
            if member is not None and await self._backend.join(topic, subscription.entry, member):
                await self._notify(PresenceChange(topic, joined=(member,)))
            return
        try:
            if member is not None and await self._backend.leave(topic, subscription.entry, member):
                await self._notify(PresenceChange(topic, left=(member,)))
        finally:
            # Even when the leave failed: the topic must not stay watched for nobody.
            if change.edge and not self._registry.subscribers(topic):
                await self._backend.unwatch(topic)

    async def _drop(self, delivery: Delivery) -> None:
        """Remove a socket from every topic; each topic's failure is logged, not raised."""
        self._forget(delivery)
        delivery.stop()
        async with delivery.membership:  # after a subscribe in progress has joined
            for change in self._registry.remove_all(delivery):
                try:
                    await self._apply(change)
                except Exception:
                    logger.exception(
                        "leaving %r failed (the backend's own cleanup will remove the entry)",
                        change.subscription.topic,
                    )

    def _forget(self, delivery: Delivery) -> None:
        if self._deliveries.get(delivery.ws) is delivery:
            del self._deliveries[delivery.ws]

    def _on_delivery_closed(self, delivery: Delivery) -> None:
        if not self._closed:
            self._spawn(self._drop(delivery))

    async def _notify(self, change: PresenceChange) -> None:
        if self._on_presence is None:
            return
        try:
            await self._on_presence(change)
        except Exception:
            logger.exception("on_presence callback failed for %r", change)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("hub background task failed", exc_info=task.exception())

    async def _sweep(self) -> None:
        """Remove subscribers whose socket closed (a handler may never call disconnect)."""
        while True:
            await asyncio.sleep(self._sweep_interval)
            if isinstance(self._backend, MemoryBackend):
                self._backend.expire_history()
            for delivery in list(self._deliveries.values()):
                if delivery.done:
                    try:
                        await self._drop(delivery)
                    except Exception:
                        logger.exception("removing a closed subscriber failed")


class _Sink:
    """The hub as its backend sees it."""

    __slots__ = ("_hub",)

    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    async def deliver(self, topic: str, message: PreparedMessage) -> None:
        await self._hub._fanout.deliver(topic, message)

    async def deliver_publication(self, topic: str, publication: Publication) -> None:
        await self._hub._fanout.deliver_publication(topic, publication)

    def presence_lost(self, topic: str, members: list[str]) -> None:
        hub = self._hub
        if members and not hub._closed:
            hub._spawn(hub._notify(PresenceChange(topic, left=tuple(members))))

    def presence_restored(self, topic: str, members: list[str]) -> None:
        hub = self._hub
        if members and not hub._closed:
            hub._spawn(hub._notify(PresenceChange(topic, joined=tuple(members))))
