"""Regression tests for the WebSocket defects found in review (one test per reproduction)."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import connect

from tidewire import web

from .rawclient import CLOSE, PING, TEXT, RawWS, close_payload, frame
from .util import Probe, scripted_handler


@pytest.fixture
async def loop_errors() -> AsyncIterator[list[dict[str, Any]]]:
    """What reaches the event loop's exception handler during the test."""
    loop = asyncio.get_running_loop()
    contexts: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: contexts.append(context))
    yield contexts
    loop.set_exception_handler(previous)


async def _recv_close(client: RawWS, timeout: float) -> tuple[list[Any], Any]:
    """Frames before the server's Close and that Close (``None`` on timeout or EOF)."""
    try:
        return await client.recv_until_close(timeout)
    except asyncio.TimeoutError:
        return [], None


# 3. pings around our Close -------------------------------------------------------------


@pytest.mark.parametrize("when", ["buffered-before-close", "after-our-close", "at-shutdown"])
async def test_ping_racing_our_close_raises_nothing(
    serve: Any, caplog: pytest.LogCaptureFixture, loop_errors: list[dict[str, Any]], when: str
) -> None:
    results: list[Any] = []
    done = asyncio.Event()

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        ws = web.WebSocketResponse(close_timeout=1)
        await ws.prepare(request)
        try:
            if when == "at-shutdown":
                await asyncio.sleep(0.3)  # busy, not reading: the ping stays buffered
                async for _ in ws:
                    pass
            else:
                await asyncio.sleep(0.2)  # the client's ping is buffered or in flight
                results.append(await ws.close())
        except BaseException as exc:
            results.append(exc)
            raise
        finally:
            results.append(ws.close_code)
            done.set()
        return ws

    caplog.set_level(logging.DEBUG)
    srv = await serve(handler)
    client = await RawWS.connect(srv.host, srv.port)
    try:
        if when == "buffered-before-close":
            await client.send_frame(PING, b"hb")
            frames, closing = await _recv_close(client, 1.0)
            await client.send_frame(CLOSE, close_payload(1000))
            expected = [True, 1000]
        elif when == "after-our-close":
            frames, closing = await _recv_close(client, 1.0)
            await client.send_frame(PING, b"hb")
            await asyncio.sleep(0.1)
            await client.send_frame(CLOSE, close_payload(1000))
            expected = [True, 1000]
        else:
            await client.send_frame(PING, b"hb")
            await asyncio.sleep(0.1)
            cleanup = asyncio.create_task(srv.runner.cleanup())
            frames, closing = await _recv_close(client, 1.0)
            await client.send_frame(CLOSE, close_payload(1001))
            await asyncio.wait_for(cleanup, 1.5)
            expected = [1001]
        assert closing is not None, "no Close frame"
        assert closing.close_code == expected[-1]
        assert frames == [], "no frame (a Pong, say) may follow or precede our Close here"
        assert await client.at_eof(1.0)
        await asyncio.wait_for(done.wait(), 1.0)
    finally:
        await client.aclose()
    await asyncio.sleep(0.05)
    gc.collect()  # a task that failed unobserved reports itself when collected
    await asyncio.sleep(0)
    assert loop_errors == []
    assert "Fatal error" not in caplog.text
    assert "never retrieved" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert results == expected  # close() returned True; the peer's code was recorded


# 7. autoclose=False: returning after the peer's Close answers it -------------------------


async def test_autoclose_false_handler_returning_after_close_answers_it(serve: Any) -> None:
    returned = asyncio.Event()

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoclose=False)
        await ws.prepare(request)
        async for _ in ws:  # ends at the peer's Close
            pass
        returned.set()
        return ws  # the server is left to finish the handshake

    srv = await serve(handler)
    client = await RawWS.connect(srv.host, srv.port)
    try:
        await client.send_frame(CLOSE, close_payload(1000))
        await asyncio.wait_for(returned.wait(), 1.0)
        frames, closing = await _recv_close(client, 1.0)
        assert closing is not None, "the peer's Close was never answered"
        assert closing.close_code == 1000
        assert frames == []
        assert await client.at_eof(1.0)
    finally:
        await client.aclose()


# 8. heartbeat while the handler's backlog paused reading ---------------------------------


async def test_heartbeat_spares_a_live_peer_while_reading_is_paused(serve: Any) -> None:
    async def script(ws: web.WebSocketResponse) -> None:
        await asyncio.sleep(1.0)  # busy: the 80 KiB backlog pauses reading meanwhile
        count = 0
        async for _ in ws:
            count += 1
            if count == 10:
                await ws.send_str(f"got {count}")

    probe = Probe()
    srv = await serve(scripted_handler(probe, script, heartbeat=0.4, max_queue=16 * 1024))
    async with connect(srv.ws_url(), ping_interval=None, compression=None, proxy=None) as client:
        for _ in range(10):
            await client.send(b"x" * 8192)
        assert await asyncio.wait_for(client.recv(), 2.0) == "got 10"
        await client.close(code=1000)
    await probe.finished(1.0)
    assert probe.close_code == 1000
    assert probe.exception is None
    assert probe.error is None


# 11. a second concurrent close() --------------------------------------------------------


async def test_two_concurrent_closes_return_true_and_false(serve: Any) -> None:
    outcomes: list[Any] = []

    async def closer(ws: web.WebSocketResponse) -> None:
        try:
            outcomes.append(await ws.close())
        except BaseException as exc:
            outcomes.append(exc)

    async def script(ws: web.WebSocketResponse) -> None:
        await asyncio.gather(closer(ws), closer(ws))

    probe = Probe()
    srv = await serve(scripted_handler(probe, script, close_timeout=0.3))
    client = await RawWS.connect(srv.host, srv.port)  # never answers the Close
    try:
        await probe.finished(1.5)
        _, closing = await _recv_close(client, 1.0)
        assert closing is not None
        assert closing.close_code == 1000
    finally:
        await client.aclose()
    assert sorted(map(repr, outcomes)) == ["False", "True"], outcomes
    assert probe.error is None


# 12. a Close buffered before the transport dropped keeps its code ---------------------


async def test_buffered_close_code_wins_over_1006(serve: Any) -> None:
    seen: list[Any] = []

    async def script(ws: web.WebSocketResponse) -> None:
        seen.append(await ws.receive(timeout=1))
        await asyncio.sleep(0.2)  # the peer's FIN drops the transport meanwhile
        message = await ws.receive(timeout=1)
        seen.append((message.type, message.data, ws.close_code))

    probe = Probe()
    srv = await serve(scripted_handler(probe, script))
    client = await RawWS.connect(srv.host, srv.port)
    try:
        client.send(frame(TEXT, b"bye") + frame(CLOSE, close_payload(1000)))
        client.writer.write_eof()
        await probe.finished(1.5)
    finally:
        await client.aclose()
    assert seen[0].type is web.WSMsgType.TEXT
    assert seen[0].data == "bye"
    assert seen[1] == (web.WSMsgType.CLOSE, 1000, 1000)
    assert probe.close_code == 1000
