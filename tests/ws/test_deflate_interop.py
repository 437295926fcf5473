"""permessage-deflate parameters negotiated with real clients, then used both ways."""

from __future__ import annotations

import os

import aiohttp
import pytest
from websockets.asyncio.client import connect
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

from tidewire import web

from .util import Probe, echo_handler


def messages() -> list[str | bytes]:
    """Messages that reuse earlier bytes at long distances: windows and context matter."""
    block = os.urandom(3000)
    text = "".join(chr(0x30 + (b % 64)) for b in os.urandom(5000))
    return [
        block + os.urandom(20_000) + block,
        block,
        text,
        text + text,
        b"",
        "",
        bytes(200_000),
    ]


@pytest.mark.parametrize(
    "factory_options",
    [
        {},
        {"server_no_context_takeover": True},
        {"client_no_context_takeover": True},
        {"server_no_context_takeover": True, "client_no_context_takeover": True},
        {"server_max_window_bits": 9, "client_max_window_bits": 9},
        {"server_max_window_bits": 10},
        {"client_max_window_bits": 11},
        {"client_max_window_bits": None},
    ],
    ids=lambda options: ",".join(f"{k}={v}" for k, v in options.items()) or "defaults",
)
async def test_websockets_deflate_parameters(serve, factory_options: dict[str, object]) -> None:
    probe = Probe()
    srv = await serve(echo_handler(probe))
    factory = ClientPerMessageDeflateFactory(**factory_options)  # type: ignore[arg-type]
    async with connect(
        srv.ws_url(), extensions=[factory], compression=None, max_size=None, proxy=None
    ) as ws:
        assert "permessage-deflate" in ws.response.headers["Sec-WebSocket-Extensions"]
        for message in messages():
            await ws.send(message)
            assert await ws.recv() == message
    await probe.finished()
    assert probe.ws is not None
    assert probe.ws.compress
    assert probe.close_code == 1000


@pytest.mark.parametrize("bits", [9, 10, 12, 15])
async def test_aiohttp_window_bits(serve, bits: int) -> None:
    probe = Probe()
    srv = await serve(echo_handler(probe))
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(srv.ws_url(), compress=bits, max_msg_size=0) as ws,
    ):
        assert ws.compress
        for message in messages():
            if isinstance(message, str):
                await ws.send_str(message)
            else:
                await ws.send_bytes(message)
            reply = await ws.receive(timeout=5)
            assert reply.data == message


@pytest.mark.parametrize("server_bits", [9, 12, 15])
async def test_server_window_option(serve, server_bits: int) -> None:
    probe = Probe()
    options = web.DeflateOptions(window_bits=server_bits, client_window_bits=server_bits)
    srv = await serve(echo_handler(probe, compress_options=options))
    async with connect(srv.ws_url(), compression="deflate", max_size=None, proxy=None) as ws:
        for message in messages():
            await ws.send(message)
            assert await ws.recv() == message


async def test_compress_as_window_bits_integer(serve) -> None:
    probe = Probe()
    srv = await serve(echo_handler(probe, compress=9))
    async with connect(srv.ws_url(), compression="deflate", max_size=None, proxy=None) as ws:
        for message in messages():
            await ws.send(message)
            assert await ws.recv() == message
    assert probe.ws is not None
    assert probe.ws.compress
