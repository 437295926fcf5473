"""WebSocket echo client driven by Autobahn's fuzzingserver: the client under test.

Written only with tidewire's public API (``tidewire.connect``): it asks the
fuzzingserver how many cases there are (``/getCaseCount``), then for each case
opens ``/runCase?case=N&agent=AGENT`` and sends every text or binary message
back unchanged (permessage-deflate offered) until the server closes, and
finally asks for the reports (``/updateReports``).

Usage::

    python autobahn/echo_client.py --url ws://127.0.0.1:9001 [--agent tidewire-client] [--uvloop]

Which cases run is the fuzzingserver's spec's choice (``cases``).

It prints ``ENGINE <name>`` (the frame engine it runs on), ``CASES <n>`` once it
knows the count and a progress line every 50 cases, and
exits 0 when every case ran (the verdicts are in the fuzzingserver's report).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

# Test the working tree, whatever tidewire may also be installed in the venv.
_SRC_DIR = Path(__file__).resolve().parent.parent / "src"
if _SRC_DIR.is_dir():
    sys.path.insert(0, str(_SRC_DIR))

import tidewire  # noqa: E402
from tidewire import web  # noqa: E402

# Autobahn's 9.x cases send messages of up to 16 MiB; leave headroom.
MAX_MSG_SIZE = 32 * 1024 * 1024


async def case_count(base: str) -> int:
    """The number of cases the fuzzingserver will run."""
    async with tidewire.connect(f"{base}/getCaseCount") as ws:
        message = await ws.receive()
        return int(message.data)


async def echo_case(base: str, case: int, agent: str) -> None:
    """Run one case: echo every data message until the connection closes."""
    url = f"{base}/runCase?case={case}&agent={agent}"
    try:
        async with tidewire.connect(url, max_msg_size=MAX_MSG_SIZE, open_timeout=30) as ws:
            async for message in ws:
                try:
                    if message.type is web.WSMsgType.TEXT:
                        await ws.send_str(message.data)
                    elif message.type is web.WSMsgType.BINARY:
                        await ws.send_bytes(message.data)
                except web.WSConnectionClosed:
                    pass  # the server closed meanwhile: keep reading to the end
    except tidewire.WSClientError as exc:
        print(f"case {case}: {exc!r}", flush=True)


async def update_reports(base: str, agent: str) -> None:
    """Ask the fuzzingserver to write its reports for ``agent``."""
    async with tidewire.connect(f"{base}/updateReports?agent={agent}") as ws:
        async for _ in ws:
            pass


async def main_async(base: str, agent: str) -> None:
    """Run every case the fuzzingserver offers, then update the reports."""
    print(f"ENGINE {web.websocket_engine()}", flush=True)
    total = await case_count(base)
    print(f"CASES {total}", flush=True)
    started = time.monotonic()
    for case in range(1, total + 1):
        await echo_case(base, case, agent)
        if case % 50 == 0 or case == total:
            print(f"  {case}/{total} cases, {time.monotonic() - started:.0f} s", flush=True)
    await update_reports(base, agent)


def main() -> None:
    """Parse the command line and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--url", default="ws://127.0.0.1:9001")
    parser.add_argument("--agent", default="tidewire-client")
    parser.add_argument("--uvloop", action="store_true")
    args = parser.parse_args()
    coroutine = main_async(args.url.rstrip("/"), args.agent)
    if args.uvloop:
        import uvloop

        uvloop.run(coroutine)
    else:
        asyncio.run(coroutine)


if __name__ == "__main__":
    main()
