"""Plot the ratios to aiohttp of one or more bench/run.py result files (PNG, matplotlib).

    .venv/bin/python bench/plot.py bench/results/asyncio.json bench/results/uvloop.json \
        -o bench/ratios.png

One row of panels per result file (e.g. one per event loop), one group of bars
per scenario, one bar per server. Left: that server's figure divided by
aiohttp's in the same run (throughput is better above 1.0; the memory row, KiB
per idle connection, is better below 1.0 and is labelled so). Right: aiohttp's
server CPU time per message divided by that server's (above 1.0: less CPU per
message than aiohttp), the steadier figure on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

BASELINE = "aiohttp"


def cpu_per_message(run: dict[str, Any]) -> float | None:
    """Server CPU seconds per echoed message of one WebSocket load run, if known."""
    raw = run.get("raw") or {}
    messages = raw.get("messages")
    cpu = run.get("server_cpu_pct")
    if not messages or cpu is None or not raw.get("elapsed_s"):
        return None
    return float(cpu) / 100 * float(raw["elapsed_s"]) / float(messages)


def ratios(
    summary: dict[str, Any], order: list[str], cpu: bool = False
) -> tuple[list[str], dict[str, list[float | None]]]:
    """(scenario keys, {server: [ratio per scenario]}) from a result file's summary.

    With ``cpu``, the ratio is aiohttp's CPU per message over the server's.
    """
    cells: dict[tuple[str, str], float] = {}
    for key, run in summary.items():
        scenario, server = key.split("/", 1)
        if run["status"] != "ok":
            continue
        if cpu:
            per = cpu_per_message(run)
            if per:
                cells[(scenario, server)] = 1.0 / per
        elif run["value"]:
            cells[(scenario, server)] = float(run["value"])
    scenarios = [key for key in order if any(s == key for s, _ in cells)]
    servers = sorted({v for _, v in cells if v not in (BASELINE, "ceiling")})
    table: dict[str, list[float | None]] = {server: [] for server in servers}
    kept = []
    for scenario in scenarios:
        base = cells.get((scenario, BASELINE))
        if not base:
            continue
        kept.append(scenario)
        for server in servers:
            value = cells.get((scenario, server))
            table[server].append(value / base if value else None)
    return kept, table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results", nargs="+", help="bench/run.py JSON files")
    parser.add_argument("-o", "--output", default="bench/ratios.png")
    ns = parser.parse_args()
    files = [json.loads(Path(p).read_text()) for p in ns.results]
    fig, axes = plt.subplots(len(files), 2, figsize=(17, 4.6 * len(files)), squeeze=False)
    for row, data in zip(axes, files, strict=True):
        titles = {s["key"]: s["title"] for s in data["scenarios"]}
        units = {s["key"]: s["unit"] for s in data["scenarios"]}
        order = [s["key"] for s in data["scenarios"]]
        meta = data["meta"]
        for ax, cpu in zip(row, (False, True), strict=True):
            scenarios, table = ratios(data["summary"], order, cpu)
            width = 0.8 / max(1, len(table))
            for i, (server, values) in enumerate(table.items()):
                xs = [j + i * width for j, v in enumerate(values) if v is not None]
                ys = [v for v in values if v is not None]
                ax.bar(xs, ys, width, label=server)
            ax.axhline(1.0, color="black", linestyle="--", linewidth=1)
            labels = [
                titles[s] + ("\n(lower is better)" if units[s] == "KiB/conn" else "")
                for s in scenarios
            ]
            ax.set_xticks([j + width * (len(table) - 1) / 2 for j in range(len(scenarios))])
            ax.set_xticklabels(labels, rotation=20, ha="right", fontsize=8)
            if cpu:
                ax.set_ylabel(f"{BASELINE} CPU/msg ÷ server CPU/msg")
                what = "CPU efficiency (higher is better)"
            else:
                ax.set_ylabel(f"ratio to {BASELINE}")
                what = "throughput (memory: lower is better)"
            ax.set_title(
                f"{meta['loop']}, {meta['date'][:16]}: {what}\n({meta['cpus']} CPUs, shared VM)",
                fontsize=9,
            )
            ax.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    fig.savefig(ns.output, dpi=110)
    print(f"wrote {ns.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
