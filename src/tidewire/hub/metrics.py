"""Prometheus metrics of a hub and of the server it runs in (``pip install tidewire[metrics]``).

The figures are read from :attr:`Hub.stats` and ``Server.connections`` when
Prometheus scrapes, never counted on the hot path, so exporting them costs
nothing between scrapes. Mount the exposition on a path of your own handler::

    from prometheus_client import CollectorRegistry
    from tidewire.hub.metrics import HubCollector, metrics_response

    registry = CollectorRegistry()
    registry.register(HubCollector(hub, server))

    async def handler(request):
        if request.path == "/metrics":
            return metrics_response(registry, request)
        ...

Exported (``prefix`` ``tidewire`` by default; counters get ``_total``):

========================================  =======  ==============================================
name                                      type     meaning
========================================  =======  ==============================================
``tidewire_connections_open``             gauge    the server's open connections (HTTP and WS)
``tidewire_hub_subscribers``              gauge    sockets subscribed to at least one topic
``tidewire_hub_topics``                   gauge    topics with subscribers in this process
``tidewire_hub_messages_in_total``        counter  publications accepted by :meth:`Hub.publish`
``tidewire_hub_messages_out_total``       counter  frames handed to subscribers' transports
``tidewire_hub_bytes_out_total``          counter  bytes of those frames
``tidewire_hub_dropped_total``            counter  frames discarded by the slow-consumer policy
``tidewire_hub_slow_closes_total``        counter  subscribers closed by the ``close`` policy
``tidewire_hub_recoveries_total``         counter  ``subscribe(since=...)`` calls, by ``result``
                                                   (``served`` or ``failed``)
``tidewire_hub_slow_subscribers``         gauge    subscribers with a backlog right now
``tidewire_hub_queued_bytes``             gauge    bytes in those backlogs
``tidewire_hub_publish_waits_total``      counter  fan-outs that waited for backlogs to shrink
========================================  =======  ==============================================
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..http.response import Response
from .hub import Hub

__all__ = ["HubCollector", "metrics_response"]


class ServerLike(Protocol):
    """What the collector reads from a server (``tidewire.web.Server`` has it)."""

    @property
    def connections(self) -> list[Any]: ...


class HubCollector(Collector):
    """A Prometheus collector of ``hub``'s counters and, if given, ``server``'s connections.

    Register it once per registry (``registry.register(HubCollector(hub, server))``);
    it reads the figures at each scrape. ``prefix`` starts every metric name.
    """

    def __init__(
        self, hub: Hub, server: ServerLike | None = None, prefix: str = "tidewire"
    ) -> None:
        self._hub = hub
        self._server = server
        self._prefix = prefix

    def collect(self) -> Iterator[Metric]:
        """The metrics as of now (called by the registry at each scrape)."""
        p, stats = self._prefix, self._hub.stats
        if self._server is not None:
            yield GaugeMetricFamily(
                f"{p}_connections_open",
                "Open connections of the server (HTTP and WebSocket).",
                value=len(self._server.connections),
            )
        gauges = (
            ("hub_subscribers", "Sockets subscribed to at least one topic.", stats.subscribers),
            ("hub_topics", "Topics with subscribers in this process.", stats.topics),
            ("hub_slow_subscribers", "Subscribers with a backlog right now.", stats.slow),
            ("hub_queued_bytes", "Bytes in slow subscribers' backlogs.", stats.queued_bytes),
        )
        for name, text, value in gauges:
            yield GaugeMetricFamily(f"{p}_{name}", text, value=value)
        counters = (
            ("hub_messages_in", "Publications accepted by Hub.publish.", stats.published),
            ("hub_messages_out", "Frames handed to subscribers' transports.", stats.delivered),
            ("hub_bytes_out", "Bytes of the frames handed to transports.", stats.bytes_out),
            ("hub_dropped", "Frames discarded by the slow-consumer policy.", stats.dropped),
            ("hub_slow_closes", "Subscribers closed by the close policy.", stats.closed),
            (
                "hub_publish_waits",
                "Fan-outs that waited for slow subscribers' backlogs to shrink.",
                stats.publish_waits,
            ),
        )
        for name, text, value in counters:
            yield CounterMetricFamily(f"{p}_{name}", text, value=value)
        recoveries = CounterMetricFamily(
            f"{p}_hub_recoveries",
            "Subscriptions with a position: every missed publication sent (served) or not.",
            labels=["result"],
        )
        recoveries.add_metric(["served"], stats.recoveries)
        recoveries.add_metric(["failed"], stats.recovery_failures)
        yield recoveries


def metrics_response(registry: CollectorRegistry, request: Any = None) -> Response:
    """The text exposition of ``registry`` as a response (for a ``GET /metrics``).

    ``request`` is accepted for symmetry with handlers and not used: the text
    format of prometheus_client's ``CONTENT_TYPE_LATEST`` is always sent.
    """
    body = generate_latest(registry)
    content_type, _, charset = CONTENT_TYPE_LATEST.partition("; charset=")
    return Response(body=body, content_type=content_type.strip(), charset=charset or "utf-8")
