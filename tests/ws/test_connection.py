"""The asyncio adapter over real sockets: the hand-over, coalesced writes, the 101."""

from __future__ import annotations

import asyncio
from typing import Any

from tidewire import web
from tidewire.ws.connection import WebSocketConnection

from .rawclient import PING, PONG, TEXT, RawWS, frame, upgrade_request
from .util import Probe, scripted_handler


async def test_a_frame_whose_send_returned_survives_the_peers_eof(serve: Any) -> None:
    # The client's message and its FIN arrive together: the handler's echo is
    # queued (send_str returned) in the same loop iteration in which the EOF
    # makes asyncio close the transport. The queued frame must still go out.
    probe = Probe()

    async def script(ws: web.WebSocketResponse) -> None:
        message = await ws.receive()
        await ws.send_str(message.data)
        probe.notes["sent"] = True
        await ws.receive()

    srv = await serve(scripted_handler(probe, script))
    client = await RawWS.connect(srv.host, srv.port)
    client.writer.write(frame(TEXT, b"echo me"))
    client.writer.write_eof()
    echoed = await client.recv()
    await probe.finished()
    assert probe.notes.get("sent")
    assert echoed is not None and (echoed.opcode, echoed.payload) == (TEXT, b"echo me")
    assert probe.close_code == 1006
    await client.aclose()


async def test_frames_queued_before_a_close_go_out_in_order(serve: Any) -> None:
    async def script(ws: web.WebSocketResponse) -> None:
        for i in range(100):
            await ws.send_str(f"m{i}")
        await ws.close(code=4000)

    srv = await serve(scripted_handler(Probe(), script, close_timeout=0.5))
    client = await RawWS.connect(srv.host, srv.port)
    frames, closing = await client.recv_until_close()
    assert [f.payload for f in frames] == [f"m{i}".encode() for i in range(100)]
    assert closing is not None and closing.close_code == 4000
    await client.aclose()


async def test_set_status_before_prepare_does_not_change_the_101(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        ws.set_status(200)
        await ws.prepare(request)
        await ws.close()
        return ws

    srv = await serve(handler)
    client = await RawWS.connect(srv.host, srv.port, expect=None)
    assert client.status == 101, client.head
    assert client.head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    await client.aclose()


async def test_an_upgrade_request_with_a_body_is_refused_with_400(serve: Any) -> None:
    probe = Probe()
    srv = await serve(scripted_handler(probe, lambda ws: ws.close()))
    request = upgrade_request("/ws", extra=(("Content-Length", "5"),)) + b"hello"
    answer = await srv.raw(request)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:80]
    assert not probe.prepared.is_set()


async def test_the_websocket_is_the_transports_protocol_after_the_101(serve: Any) -> None:
    seen: list[Any] = []

    async def script(ws: web.WebSocketResponse) -> None:
        assert probe.request is not None and probe.request.transport is not None
        seen.append(probe.request.transport.get_protocol())
        await ws.receive()

    probe = Probe()
    srv = await serve(scripted_handler(probe, script))
    client = await RawWS.connect(srv.host, srv.port)
    await client.aclose()
    await probe.finished()
    assert len(seen) == 1 and isinstance(seen[0], WebSocketConnection)


async def test_the_http_core_learns_that_an_upgraded_connection_ended(serve: Any) -> None:
    # After set_protocol the HTTP core sees no transport event: the WebSocket
    # calls the callback it registered, or the server counts a ghost connection.
    probe = Probe()

    async def script(ws: web.WebSocketResponse) -> None:
        await ws.receive()

    srv = await serve(scripted_handler(probe, script))
    client = await RawWS.connect(srv.host, srv.port)
    await probe.prepared.wait()
    assert len(srv.server.connections) == 1
    await client.aclose()
    await probe.finished()
    for _ in range(100):
        if not srv.server.connections:
            break
        await asyncio.sleep(0.01)
    assert srv.server.connections == []


async def test_a_pong_queued_while_a_message_is_read_goes_out_without_another_read(
    serve: Any,
) -> None:
    # A ping and a text message are buffered before the handler reads. It reads
    # the text (the ping is answered on the way) and then neither reads nor
    # sends: the pong must still leave, flushed at the end of the loop iteration.
    probe = Probe()
    release = asyncio.Event()
    sent = asyncio.Event()

    async def script(ws: web.WebSocketResponse) -> None:
        await sent.wait()
        await asyncio.sleep(0.1)  # the frames are in the protocol's buffer now
        message = await ws.receive()
        probe.notes["read"] = message.data
        await release.wait()

    srv = await serve(scripted_handler(probe, script, close_timeout=0.5))
    client = await RawWS.connect(srv.host, srv.port)
    client.writer.write(frame(PING, b"are you there") + frame(TEXT, b"hello"))
    sent.set()
    answer = await client.recv(timeout=2.0)
    assert answer is not None and (answer.opcode, answer.payload) == (PONG, b"are you there")
    assert probe.notes.get("read") == "hello"
    release.set()
    await client.aclose()
