"""Plot the ratios to aiohttp of one or more bench/run.py result files (PNG, matplotlib).

    .venv/bin/python bench/plot.py bench/results/asyncio.json bench/results/uvloop.json \
        -o bench/ratios.png

One panel per result file (e.g. one per event loop), one group of bars per
scenario, one bar per server: that server's figure divided by aiohttp's in the
same run. Throughput rows are better above 1.0; the memory row (KiB per idle
connection) is better below 1.0 and is labelled so.
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


def ratios(
    summary: dict[str, Any], order: list[str]
) -> tuple[list[str], dict[str, list[float | None]]]:
    """(scenario keys, {server: [ratio per scenario]}) from a result file's summary."""
    cells: dict[tuple[str, str], float] = {}
    for key, run in summary.items():
        scenario, server = key.split("/", 1)
        if run["status"] == "ok" and run["value"]:
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
    fig, axes = plt.subplots(len(files), 1, figsize=(11, 4.2 * len(files)), squeeze=False)
    for ax, data in zip(axes[:, 0], files, strict=True):
        titles = {s["key"]: s["title"] for s in data["scenarios"]}
        units = {s["key"]: s["unit"] for s in data["scenarios"]}
        scenarios, table = ratios(data["summary"], [s["key"] for s in data["scenarios"]])
        width = 0.8 / max(1, len(table))
        for i, (server, values) in enumerate(table.items()):
            xs = [j + i * width for j, v in enumerate(values) if v is not None]
            ys = [v for v in values if v is not None]
            ax.bar(xs, ys, width, label=server)
        ax.axhline(1.0, color="black", linestyle="--", linewidth=1)
        labels = [
            titles[s] + ("\n(lower is better)" if units[s] == "KiB/conn" else "") for s in scenarios
        ]
        ax.set_xticks([j + width * (len(table) - 1) / 2 for j in range(len(scenarios))])
        ax.set_xticklabels(labels, rotation=20, ha="right", fontsize=8)
        ax.set_ylabel(f"ratio to {BASELINE}")
        meta = data["meta"]
        ax.set_title(f"{meta['loop']}, {meta['date'][:16]} ({meta['cpus']} CPUs, shared VM)")
        ax.legend(fontsize=8, ncol=3)
    fig.tight_layout()
    fig.savefig(ns.output, dpi=110)
    print(f"wrote {ns.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
