"""Profile tidewire's WebSocket echo server (cProfile) under one ``wsload.py`` load.

Not a benchmark: the profiler slows every Python call down, so only the *shares*
of the time mean something. It starts ``servers/tidewire_server.py`` under
cProfile, drives it with ``wsload.py`` and prints the top functions by internal
time (``tottime``) and by cumulative time.

::

    PYTHONPATH=src .venv/bin/python bench/profile_ws.py --kind text --size 32
    PYTHONPATH=src .venv/bin/python bench/profile_ws.py --kind binary --size 1048576 \\
        --connections 2 --window 2
    PYTHONPATH=src .venv/bin/python bench/profile_ws.py --kind json --deflate
    PYTHONPATH=src .venv/bin/python bench/profile_ws.py --reference-engine --uvloop
"""

from __future__ import annotations

import argparse
import os
import pstats
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def main() -> None:
    """Run the server under cProfile, load it, print its profile."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--kind", choices=["text", "binary", "json"], default="text")
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--window", type=int, default=64)
    p.add_argument("--deflate", action="store_true")
    p.add_argument("--uvloop", action="store_true")
    p.add_argument("--reference-engine", action="store_true")
    p.add_argument("--duration", type=float, default=4.0)
    p.add_argument("--port", type=int, default=8731)
    p.add_argument("--top", type=int, default=25)
    ns = p.parse_args()
    out = Path(tempfile.mkdtemp()) / "ws.prof"
    cmd = [sys.executable, "-m", "cProfile", "-o", str(out)]
    cmd += [str(BENCH / "servers" / "tidewire_server.py"), "--port", str(ns.port)]
    if ns.deflate:
        cmd.append("--ws-deflate")
    if ns.uvloop:
        cmd.append("--uvloop")
    if ns.reference_engine:
        cmd.append("--reference-engine")
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=BENCH / "servers")
    assert server.stdout is not None
    for line in server.stdout:
        if line.startswith("READY"):
            break
    load = [sys.executable, str(BENCH / "wsload.py"), "--port", str(ns.port)]
    load += ["--kind", ns.kind, "--size", str(ns.size), "--connections", str(ns.connections)]
    load += ["--window", str(ns.window), "--duration", str(ns.duration), "--warmup", "0.5"]
    if ns.deflate:
        load.append("--deflate")
    subprocess.run(load, check=True)
    server.send_signal(signal.SIGTERM)
    server.wait(30)
    stats = pstats.Stats(str(out))
    stats.sort_stats("tottime").print_stats(ns.top)
    stats.sort_stats("cumulative").print_stats(ns.top)
    os.unlink(out)


if __name__ == "__main__":
    main()
