"""Pieces both load clients (httpload.py, wsload.py) share."""

from __future__ import annotations

import asyncio
import os

LOOPBACK_NAMES = {"localhost", "::1"}


def require_loopback(host: str, tool: str) -> None:
    """Refuse any target that is not on this machine's loopback interface."""
    if host in LOOPBACK_NAMES or host.startswith("127."):
        return
    raise SystemExit(f"{tool}: refusing non-loopback target {host!r}")


def process_cpu_seconds(pid: int) -> float | None:
    """utime + stime of ``pid`` from /proc, in seconds (None if unreadable)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def new_loop(name: str) -> asyncio.AbstractEventLoop:
    """uvloop when asked for and installed, else the default asyncio loop."""
    if name == "uvloop":
        try:
            import uvloop

            return uvloop.new_event_loop()
        except ImportError:
            pass
    return asyncio.new_event_loop()
