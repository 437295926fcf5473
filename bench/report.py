"""Tables, notes and the JSON file that bench/run.py produces from its runs."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from scenarios import BUSY_THRESHOLD, LOWER_IS_BETTER, Options, RunResult, Scenario


def fmt_value(value: float | None, unit: str) -> str:
    """Numbers as people read them: 12,345 req/s, 512.3 MB/s, 1.23 ms."""
    if value is None:
        return "-"
    if unit == "MB/s":
        return f"{value:,.1f}"
    if unit == "ms":
        return f"{value:.2f}"
    return f"{value:,.0f}"


def aggregate(results: list[RunResult]) -> dict[tuple[str, str], RunResult]:
    """Per (scenario, server), the median run by throughput (the lower one of two middles).

    The whole run is kept, so its p99, CPU and memory belong to the same measurement.
    Cells without a successful run keep their first note.
    """
    grouped: dict[tuple[str, str], list[RunResult]] = {}
    for result in results:
        grouped.setdefault((result.scenario, result.server), []).append(result)
    merged: dict[tuple[str, str], RunResult] = {}
    for key, runs in grouped.items():
        ok = sorted(
            (r for r in runs if r.status == "ok" and r.value is not None),
            key=lambda r: r.value or 0.0,
        )
        merged[key] = ok[(len(ok) - 1) // 2] if ok else runs[0]
    return merged


def cpu_us_per_message(result: RunResult) -> float | None:
    """Server CPU time per echoed message in microseconds (WebSocket load runs)."""
    rate = result.raw.get("messages_per_s")
    if result.server_cpu_pct is None or not rate:
        return None
    return float(result.server_cpu_pct) * 1e4 / float(rate)


def metric_value(result: RunResult, metric: str) -> float | None:
    """The number behind ``metric`` ('value', 'p99' or 'cpu') of a successful run."""
    if metric == "p99":
        return result.p99_ms
    if metric == "cpu":
        return cpu_us_per_message(result)
    return result.value


def cell(result: RunResult | None, metric: str) -> str:
    """Text of one table cell for ``metric`` ('value' or 'p99')."""
    if result is None:
        return ""
    if result.status == "n/a":
        return result.note or "n/a"
    if result.status == "skipped":
        return "skip"
    if result.status == "failed":
        return "FAIL"
    if metric == "p99":
        return fmt_value(result.p99_ms, "ms")
    if metric == "cpu":
        value = cpu_us_per_message(result)
        return "-" if value is None else f"{value:,.1f}"
    flag = "*" if result.errors else ""
    return fmt_value(result.value, result.unit) + flag


def metric_rows(opts: Options) -> list[tuple[Scenario, str, str]]:
    """(scenario, metric, label) rows: every scenario's throughput, p99 for HTTP."""
    rows = []
    for scenario in opts.scenarios:
        label = scenario.unit + (" (lower=better)" if scenario.unit in LOWER_IS_BETTER else "")
        rows.append((scenario, "value", label))
        if scenario.kind == "http":
            rows.append((scenario, "p99", "p99 ms"))
        if scenario.kind == "ws":
            rows.append((scenario, "cpu", "server CPU us/msg"))
    return rows


def render_table(header: list[str], rows: list[list[str]]) -> str:
    """Plain-text table: first two columns left-aligned, others right-aligned."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        pairs = enumerate(zip(row, widths, strict=True))
        cells = [c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in pairs]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def absolute_table(merged: dict[tuple[str, str], RunResult], opts: Options) -> str:
    """Scenario rows x server columns of absolute numbers."""
    header = ["scenario", "metric", *[s.name for s in opts.servers]]
    rows = []
    for scenario, metric, label in metric_rows(opts):
        cells = [cell(merged.get((scenario.key, s.name)), metric) for s in opts.servers]
        rows.append([scenario.title, label, *cells])
    return render_table(header, rows)


def ratio(other: RunResult | None, base: RunResult | None, metric: str) -> str:
    """other / base for one metric, or '-' where either is missing."""
    if other is None or base is None or other.status != "ok" or base.status != "ok":
        return "-"
    a, b = metric_value(other, metric), metric_value(base, metric)
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.2f}x"


def ratio_table(merged: dict[tuple[str, str], RunResult], opts: Options, baseline: str) -> str:
    """Every non-reference server divided by the baseline server, per metric."""
    others = [s for s in opts.servers if s.name != baseline and not s.reference]
    header = ["scenario", "metric", *[f"{s.name}/{baseline}" for s in others]]
    rows = []
    for scenario, metric, label in metric_rows(opts):
        base = merged.get((scenario.key, baseline))
        cells = [ratio(merged.get((scenario.key, s.name)), base, metric) for s in others]
        rows.append([scenario.title, label, *cells])
    return render_table(header, rows)


def details_table(merged: dict[tuple[str, str], RunResult], opts: Options) -> str:
    """Per measured cell: CPU use of both sides, server memory, errors."""
    header = [
        "scenario",
        "server",
        "server cpu%",
        "server cpu us/unit",
        "client cpu%",
        "other cpu%",
        "RSS MiB",
        "peak MiB",
        "notes",
    ]
    rows = []
    for scenario in opts.scenarios:
        for spec in opts.servers:
            r = merged.get((scenario.key, spec.name))
            if r is None or r.status in ("n/a", "skipped"):
                continue
            notes = "; ".join([*([r.note] if r.note else []), *r.errors])
            rows.append(
                [
                    scenario.key,
                    spec.name,
                    fmt_pct(r.server_cpu_pct),
                    fmt_cpu_per_unit(r),
                    fmt_pct(r.client_cpu_pct),
                    fmt_pct(r.other_cpu_pct),
                    fmt_mib(r.rss_mib),
                    fmt_mib(r.hwm_mib),
                    notes[:90],
                ]
            )
    return render_table(header, rows)


def fmt_cpu_per_unit(r: RunResult) -> str:
    """Server CPU time per request/message/MB, in microseconds, or '-'.

    On a busy machine a server may not get its core, and then its throughput
    says little; the CPU it spent per unit of work still compares servers.
    """
    if r.server_cpu_pct is None or not r.value:
        return "-"
    return f"{r.server_cpu_pct * 1e4 / r.value:.1f}"


def fmt_pct(value: float | None) -> str:
    """A percentage or '-'."""
    return "-" if value is None else f"{value:.0f}"


def fmt_mib(value: float | None) -> str:
    """MiB with one decimal or '-'."""
    return "-" if value is None else f"{value:.1f}"


def choose_baseline(merged: dict[tuple[str, str], RunResult], opts: Options) -> str | None:
    """The requested baseline if it has any result, else the first contender that has."""

    def has_results(name: str) -> bool:
        return any(r.status == "ok" for (_, s), r in merged.items() if s == name)

    if has_results(opts.baseline):
        return opts.baseline
    for spec in opts.servers:
        if not spec.reference and has_results(spec.name):
            return spec.name
    return None


def warnings_for(merged: dict[tuple[str, str], RunResult]) -> list[str]:
    """Flags on runs that the numbers alone would not show."""
    notes: list[str] = []
    skipped: dict[str, str] = {}
    for (scenario, server), r in sorted(merged.items()):
        if r.status == "skipped":
            skipped.setdefault(server, r.note)
        elif r.status == "failed":
            notes.append(f"{scenario}/{server} failed: {r.note}")
        elif r.status == "ok":
            notes.extend(run_warnings(scenario, server, r))
    notes.extend(f"{server} skipped: {note}" for server, note in skipped.items())
    return notes


def run_warnings(scenario: str, server: str, r: RunResult) -> list[str]:
    """Warnings about one successful run: busy machine, saturated client, idle server."""
    notes = []
    if r.other_cpu_pct is not None and r.other_cpu_pct > BUSY_THRESHOLD:
        notes.append(
            f"{scenario}/{server}: other processes used {r.other_cpu_pct:.0f}% CPU "
            "during the run: numbers unreliable"
        )
        return notes  # CPU shares below mean little on a busy machine
    if r.client_cpu_pct is not None and r.client_cpu_pct > 90:
        if server == "ceiling":
            notes.append(
                f"{scenario}/ceiling: load client at {r.client_cpu_pct:.0f}% CPU, i.e. this is "
                "the client's own limit (expected for the ceiling run)"
            )
        else:
            notes.append(f"{scenario}/{server}: load client at {r.client_cpu_pct:.0f}% CPU")
    if server != "ceiling" and r.server_cpu_pct is not None and r.server_cpu_pct < 70:
        notes.append(
            f"{scenario}/{server}: server only at {r.server_cpu_pct:.0f}% CPU "
            "(bound by loopback/latency, not by the server's own CPU)"
        )
    return notes


def print_report(results: list[RunResult], opts: Options, meta: dict[str, Any]) -> None:
    """All tables and notes on stdout."""
    merged = aggregate(results)
    print()
    print(f"Absolute numbers (higher is better; p99 lower is better; median run of {opts.repeat}):")
    print(absolute_table(merged, opts))
    baseline = choose_baseline(merged, opts)
    print()
    if baseline is None:
        print("Ratios: no server produced results.")
    else:
        if baseline != opts.baseline:
            print(f"NOTE: {opts.baseline} has no results; ratios use {baseline} instead.")
        print(
            f"Ratios other/{baseline}: >1.00x means the other server is FASTER than {baseline} "
            "(for p99, CPU-per-message and memory rows: >1.00x means HIGHER, i.e. worse):"
        )
        print(ratio_table(merged, opts, baseline))
    print()
    print("Per-run details (cpu% of one core during the measured window; RSS after the run):")
    print(details_table(merged, opts))
    print()
    print(f"Load: {meta['http_load']}; {meta['ws_load']}")
    print(
        f"Servers: loop={meta['loop']}; pinning={meta['pinning']}; "
        f"background CPU before the run: {meta['background_cpu_pct_before']:.0f}% of one core"
    )
    notes = warnings_for(merged)
    if any(r.errors for r in merged.values()):
        notes.insert(0, "'*' marks a cell whose run reported errors (see details)")
    for note in notes:
        print(f"  ! {note}")


def write_json(path: Path, meta: dict[str, Any], results: list[RunResult], opts: Options) -> None:
    """Everything measured, for later comparison."""
    path.parent.mkdir(parents=True, exist_ok=True)
    merged = aggregate(results)
    payload = {
        "meta": meta,
        "scenarios": [asdict(s) for s in opts.scenarios],
        "summary": {f"{sc}/{sv}": asdict(r) for (sc, sv), r in merged.items()},
        "runs": [asdict(r) for r in results],
    }
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
