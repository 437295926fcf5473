"""The hub's and the server's figures for Prometheus, scraped over real HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import websockets
from hubtools import wait_for
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from tidewire import web
from tidewire.hub import HistoryOptions, Hub, Position
from tidewire.hub.metrics import HubCollector, metrics_response


async def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_are_served_on_the_applications_path(serve: Any) -> None:
    hub = Hub(history=lambda topic: HistoryOptions(10) if topic == "h" else None)
    registry = CollectorRegistry()

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        if request.path == "/metrics":
            return metrics_response(registry, request)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        since = None
        if "epoch" in request.query:
            since = Position(request.query["epoch"], int(request.query["offset"]))
        await hub.subscribe(ws, request.query["topic"], since=since)
        try:
            async for _ in ws:
                pass
        finally:
            await hub.disconnect(ws)
        return ws

    running = await serve(handler)
    registry.register(HubCollector(hub, running.server))
    base = f"http://{running.host}:{running.port}"
    ws_base = f"ws://{running.host}:{running.port}/ws"
    try:
        plain = await websockets.connect(f"{ws_base}?topic=t")
        await wait_for(lambda: hub.subscriber_count("t") == 1)
        for _ in range(3):
            await hub.publish("t", "hello")  # 5 bytes: a 7-byte frame
        for _ in range(3):
            assert await asyncio.wait_for(plain.recv(), 5) == "hello"
        first = await hub.publish("h", 1)
        assert first is not None
        served = await websockets.connect(
            f"{ws_base}?topic=h&epoch={first.epoch}&offset={first.offset}"
        )
        failed = await websockets.connect(f"{ws_base}?topic=h&epoch=gone&offset=1")
        await wait_for(lambda: hub.subscriber_count("h") == 2)
        await wait_for(lambda: hub.stats.recoveries + hub.stats.recovery_failures == 2)

        metrics = await scrape(f"{base}/metrics")
        assert metrics[("tidewire_hub_messages_in_total", ())] == 4
        assert metrics[("tidewire_hub_messages_out_total", ())] == 3
        assert metrics[("tidewire_hub_bytes_out_total", ())] == 3 * 7
        assert metrics[("tidewire_hub_subscribers", ())] == 3
        assert metrics[("tidewire_hub_topics", ())] == 2
        assert metrics[("tidewire_hub_recoveries_total", (("result", "served"),))] == 1
        assert metrics[("tidewire_hub_recoveries_total", (("result", "failed"),))] == 1
        assert metrics[("tidewire_hub_dropped_total", ())] == 0
        assert metrics[("tidewire_hub_slow_closes_total", ())] == 0
        # Three WebSockets and the scraping HTTP connection itself.
        assert metrics[("tidewire_connections_open", ())] == 4
        for client in (plain, served, failed):
            await client.close()
        await wait_for(lambda: hub.stats.subscribers == 0)
        metrics = await scrape(f"{base}/metrics")
        assert metrics[("tidewire_hub_subscribers", ())] == 0
    finally:
        await hub.close()
