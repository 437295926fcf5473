"""Benchmark tidewire side by side with aiohttp, websockets and uvicorn in one run.

For every scenario, each server is started on its own (one process, pinned to one
CPU), checked for correct answers, loaded from the other CPU, measured, and stopped.
The result is one table of absolute numbers, one table of ratios against tidewire
(other / tidewire), a table of per-run details (CPU use, RSS), and
``bench/results/latest.json``.  See bench/README.md for how to read them.

Usage (from the repository root):

    .venv/bin/python bench/run.py                  # ~3-4 minutes
    .venv/bin/python bench/run.py --quick          # ~1 minute, noisier
    .venv/bin/python bench/run.py --servers aiohttp,uvicorn --scenarios ws_small
    .venv/bin/python bench/run.py --uvloop         # every server on uvloop

Only 127.0.0.1 is ever targeted; every load run is bounded in time.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
SERVERS_DIR = BENCH_DIR / "servers"
RESULTS_DIR = BENCH_DIR / "results"
LOG_DIR = RESULTS_DIR / "logs"
WRK_SCRIPT = BENCH_DIR / "wrk" / "report.lua"
HOST = "127.0.0.1"
PYTHON = sys.executable
START_TIMEOUT = 20.0
sys.path.insert(0, str(BENCH_DIR))

import wsload  # noqa: E402  (bench/ is put on sys.path just above)
from report import fmt_value, print_report, write_json  # noqa: E402
from scenarios import (  # noqa: E402
    BUSY_THRESHOLD,
    SCENARIOS,
    SERVERS,
    Options,
    RunResult,
    Scenario,
    ServerSpec,
)

# --------------------------------------------------------------- CPU pinning


class Pinning:
    """Server on one CPU, load generator (and this script) on another."""

    def __init__(self) -> None:
        cpus = sorted(os.sched_getaffinity(0))
        self.server_cpu: int | None = cpus[0] if len(cpus) >= 2 else None
        self.client_cpu: int | None = cpus[1] if len(cpus) >= 2 else None
        self.taskset = shutil.which("taskset")
        if self.server_cpu is None:
            self.method = "none (fewer than 2 CPUs)"
        else:
            self.method = "taskset" if self.taskset else "sched_setaffinity"

    def command(self, cmd: list[str], cpu: int | None) -> list[str]:
        """``cmd`` prefixed with taskset for ``cpu`` when taskset is the method."""
        if cpu is None or not self.taskset:
            return cmd
        return [self.taskset, "-c", str(cpu), *cmd]

    def preexec(self, cpu: int | None) -> Callable[[], None] | None:
        """A child-side affinity setter when taskset is missing."""
        if cpu is None or self.taskset:
            return None
        return lambda: os.sched_setaffinity(0, {cpu})

    def pin_self(self) -> None:
        """Keep this orchestrator off the server's CPU."""
        if self.client_cpu is not None:
            os.sched_setaffinity(0, {self.client_cpu})


# ------------------------------------------------------------ server process


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def tagged_line(text: str, tag: str) -> dict[str, Any] | None:
    """The JSON of the last ``TAG {json}`` line in ``text``."""
    for line in reversed(text.splitlines()):
        if line.startswith(tag + " "):
            parsed: dict[str, Any] = json.loads(line[len(tag) + 1 :])
            return parsed
    return None


def check_import(spec: ServerSpec) -> tuple[bool, str, dict[str, Any]]:
    """Run the server script with --check: (importable, reason, info)."""
    cmd = [PYTHON, str(SERVERS_DIR / spec.script), *spec.args, "--check"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return False, "import check timed out", {}
    info = tagged_line(proc.stdout, "CHECK")
    if proc.returncode == 0 and info is not None:
        return True, "", info
    failed = tagged_line(proc.stdout, "IMPORT-FAILED")
    if failed is not None:
        return False, f"import failed: {failed.get('error')}", {}
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return False, f"--check exited {proc.returncode}: {tail}", {}


class ServerProcess:
    """A started benchmark server: wait for READY, sample /proc, stop."""

    def __init__(self, spec: ServerSpec, scenario: Scenario, opts: Options, pin: Pinning) -> None:
        self.spec = spec
        self.port = free_port()
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.log_path = LOG_DIR / f"{scenario.key}-{spec.name}.log"
        cmd = [PYTHON, str(SERVERS_DIR / spec.script), *spec.args, "--port", str(self.port)]
        if scenario.deflate:
            cmd.append("--ws-deflate")
        if opts.uvloop:
            cmd.append("--uvloop")
        self.log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            pin.command(cmd, pin.server_cpu),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=SERVERS_DIR,
            preexec_fn=pin.preexec(pin.server_cpu),
        )
        self.info: dict[str, Any] = {}

    @property
    def pid(self) -> int:
        """Process id (taskset execs the server, so this is the server itself)."""
        return self.proc.pid

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Block until the READY line and an accepting port, or raise RuntimeError."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"exited with {self.proc.returncode}: {self.log_tail()}")
            info = tagged_line(self.log_path.read_text(errors="replace"), "READY")
            if info is not None and port_open(self.port):
                self.info = info
                return
            time.sleep(0.05)
        raise RuntimeError(f"not ready after {timeout:.0f}s: {self.log_tail()}")

    def log_tail(self, lines: int = 3) -> str:
        """Last lines of the server log, joined on one line."""
        text = self.log_path.read_text(errors="replace").strip().splitlines()
        return " | ".join(text[-lines:]) or "(no output)"

    def memory_mib(self) -> tuple[float | None, float | None]:
        """(VmRSS, VmHWM) in MiB from /proc/<pid>/status."""
        values: dict[str, float] = {}
        try:
            with open(f"/proc/{self.pid}/status", encoding="ascii") as f:
                for line in f:
                    key, _, rest = line.partition(":")
                    if key in ("VmRSS", "VmHWM"):
                        values[key] = int(rest.split()[0]) / 1024
        except OSError:
            return None, None
        return values.get("VmRSS"), values.get("VmHWM")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 5 s; always closes the log."""
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=5)
        finally:
            self.log.close()


def port_open(port: int) -> bool:
    """True if something accepts TCP connections on 127.0.0.1:port."""
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def process_cpu_seconds(pid: int) -> float | None:
    """utime + stime of ``pid`` in seconds."""
    return wsload.process_cpu_seconds(pid)


def machine_cpu_seconds() -> float:
    """user + nice + system CPU seconds of the whole machine, from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as f:
        fields = f.readline().split()[1:4]
    return sum(int(x) for x in fields) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """CPU seconds of this script plus its reaped children (load generators)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


class ForeignLoad:
    """Measures CPU used by processes outside this benchmark during a span of time."""

    def __init__(self, server_pid: int | None = None) -> None:
        self.server_pid = server_pid
        self.start = self._read()

    def _read(self) -> tuple[float, float, float]:
        """(wall, machine busy, ours) now."""
        server = process_cpu_seconds(self.server_pid) if self.server_pid else 0.0
        return time.monotonic(), machine_cpu_seconds(), own_cpu_seconds() + (server or 0.0)

    def pct(self) -> float:
        """Foreign CPU since construction, in percent of one core (never below 0)."""
        wall, busy, ours = self._read()
        elapsed = wall - self.start[0]
        if elapsed <= 0:
            return 0.0
        foreign = (busy - self.start[1]) - (ours - self.start[2])
        return round(max(0.0, 100 * foreign / elapsed), 1)


def background_load(seconds: float = 1.0) -> float:
    """CPU used by other processes while this script sleeps, in percent of one core."""
    probe = ForeignLoad()
    time.sleep(seconds)
    return probe.pct()


# ------------------------------------------------------------ correctness checks


def check_http(port: int, scenario: Scenario) -> None:
    """One real request; raise RuntimeError unless the answer is exactly right."""
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        if scenario.post_bytes:
            body = b"x" * scenario.post_bytes
            conn.request("POST", scenario.path, body, {"Content-Type": "application/octet-stream"})
            expected = str(scenario.post_bytes).encode()
        else:
            conn.request("GET", scenario.path)
            expected = b"OK"
        response = conn.getresponse()
        got = response.read()
    finally:
        conn.close()
    if response.status != 200 or got != expected:
        raise RuntimeError(f"expected 200 {expected!r}, got {response.status} {got[:40]!r}")


def ws_config(scenario: Scenario, port: int, pid: int | None, opts: Options) -> wsload.LoadConfig:
    """wsload settings for a WebSocket scenario."""
    return wsload.LoadConfig(
        port=port,
        path=scenario.path,
        kind=scenario.ws_kind,
        size=scenario.size,
        connections=scenario.connections,
        window=scenario.window,
        deflate=scenario.deflate,
        duration=opts.duration,
        warmup=opts.warmup,
        server_pid=pid,
    )


def check_server(scenario: Scenario, server: ServerProcess, opts: Options) -> None:
    """Functional check of the scenario's route before any load."""
    if scenario.kind == "http":
        check_http(server.port, scenario)
        return
    if scenario.kind == "ws_idle":
        return  # bench/idle.py checks echoes on its own connections
    try:
        wsload.check_echo(ws_config(scenario, server.port, None, opts))
    except (wsload.LoadError, OSError) as exc:
        raise RuntimeError(f"WebSocket echo check: {exc}") from exc


# ------------------------------------------------------------------- load runs


def run_child(
    cmd: list[str], pin: Pinning, timeout: float, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run a load generator on the client CPU; return it and its CPU seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(
        pin.command(cmd, pin.client_cpu),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        preexec_fn=pin.preexec(pin.client_cpu),
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return proc, cpu


def wrk_seconds(value: float) -> int:
    """wrk only takes whole seconds."""
    return max(1, round(value))


def load_wrk(scenario: Scenario, server: ServerProcess, opts: Options, pin: Pinning) -> RunResult:
    """Warm up with wrk, then measure with wrk and the reporting Lua script."""
    url = f"http://{HOST}:{server.port}{scenario.path}"
    env = dict(os.environ)
    if scenario.post_bytes:
        env["BENCH_POST_BYTES"] = str(scenario.post_bytes)
    base = ["wrk", "-t1", f"-c{opts.wrk_connections}", "-s", str(WRK_SCRIPT)]
    if opts.warmup > 0:
        run_child([*base, f"-d{wrk_seconds(opts.warmup)}s", url], pin, opts.warmup + 30, env)
    seconds = wrk_seconds(opts.duration)
    cpu0 = process_cpu_seconds(server.pid)
    proc, client_cpu = run_child([*base, f"-d{seconds}s", url], pin, seconds + 30, env)
    cpu1 = process_cpu_seconds(server.pid)
    report = tagged_line(proc.stdout, "WRKJSON")
    if report is None:
        detail = (proc.stderr or proc.stdout).strip()[-200:]
        return failed(scenario, server.spec, f"wrk gave no report: {detail}")
    elapsed = report["duration_us"] / 1e6
    errors = {k: v for k, v in report["errors"].items() if v}
    return RunResult(
        scenario=scenario.key,
        server=server.spec.name,
        status="ok",
        value=report["requests"] / elapsed,
        unit=scenario.unit,
        p99_ms=report["latency_us"]["p99"] / 1000,
        server_cpu_pct=cpu_pct(cpu0, cpu1, elapsed),
        client_cpu_pct=round(100 * client_cpu / elapsed, 1),
        errors=[f"wrk errors: {errors}"] if errors else [],
        raw=report,
    )


def load_python_http(
    scenario: Scenario, server: ServerProcess, opts: Options, pin: Pinning
) -> RunResult:
    """The fallback: bench/httpload.py, same connection count as wrk, depth 1."""
    cmd = [PYTHON, str(BENCH_DIR / "httpload.py"), "--json", "--port", str(server.port)]
    cmd += ["--path", scenario.path, "--post-bytes", str(scenario.post_bytes)]
    cmd += ["--connections", str(opts.wrk_connections), "--server-pid", str(server.pid)]
    cmd += ["--duration", str(opts.duration), "--warmup", str(opts.warmup)]
    proc, _ = run_child(cmd, pin, opts.duration + opts.warmup + 40)
    report = tagged_line(proc.stdout, "HTTPLOAD")
    if report is None:
        return failed(scenario, server.spec, f"httpload crashed: {proc.stderr.strip()[-200:]}")
    errors = list(report["errors"])
    if report["non_200"]:
        errors.append(f"{report['non_200']} non-200 responses")
    return RunResult(
        scenario=scenario.key,
        server=server.spec.name,
        status="ok" if report["requests"] else "failed",
        value=report["requests_per_s"],
        unit=scenario.unit,
        p99_ms=report["p99_ms"],
        server_cpu_pct=report["server_cpu_pct"],
        client_cpu_pct=report["client_cpu_pct"],
        errors=errors,
        raw=report,
    )


def load_ws(scenario: Scenario, server: ServerProcess, opts: Options, pin: Pinning) -> RunResult:
    """bench/wsload.py in a child process on the client CPU."""
    cfg = ws_config(scenario, server.port, server.pid, opts)
    cmd = [PYTHON, str(BENCH_DIR / "wsload.py"), "--json", "--port", str(cfg.port)]
    cmd += ["--path", cfg.path, "--kind", cfg.kind, "--size", str(cfg.size)]
    cmd += ["--connections", str(cfg.connections), "--window", str(cfg.window)]
    cmd += ["--duration", str(cfg.duration), "--warmup", str(cfg.warmup)]
    cmd += ["--server-pid", str(server.pid)]
    if cfg.deflate:
        cmd.append("--deflate")
    proc, _ = run_child(cmd, pin, cfg.duration + cfg.warmup + 40)
    report = tagged_line(proc.stdout, "WSLOAD")
    if report is None:
        return failed(scenario, server.spec, f"wsload crashed: {proc.stderr.strip()[-200:]}")
    value = report["mb_per_s"] if scenario.unit == "MB/s" else report["messages_per_s"]
    return RunResult(
        scenario=scenario.key,
        server=server.spec.name,
        status="ok" if report["messages"] else "failed",
        value=value,
        unit=scenario.unit,
        server_cpu_pct=report["server_cpu_pct"],
        client_cpu_pct=report["client_cpu_pct"],
        errors=list(report["errors"]),
        raw=report,
    )


def load_idle(scenario: Scenario, server: ServerProcess, pin: Pinning) -> RunResult:
    """bench/idle.py: server RSS growth per idle WebSocket connection."""
    cmd = [PYTHON, str(BENCH_DIR / "idle.py"), "--json", "--port", str(server.port)]
    cmd += ["--path", scenario.path, "--connections", str(scenario.connections)]
    cmd += ["--server-pid", str(server.pid)]
    proc, _ = run_child(cmd, pin, 120)
    report = tagged_line(proc.stdout, "IDLE")
    if report is None:
        return failed(scenario, server.spec, f"idle.py crashed: {proc.stderr.strip()[-200:]}")
    return RunResult(
        scenario=scenario.key,
        server=server.spec.name,
        status="ok",
        value=report["kib_per_conn"],
        unit=scenario.unit,
        errors=list(report["errors"]),
        raw=report,
    )


def cpu_pct(before: float | None, after: float | None, elapsed: float) -> float | None:
    """CPU seconds delta as a percentage of one core."""
    if before is None or after is None or elapsed <= 0:
        return None
    return round(100 * (after - before) / elapsed, 1)


def failed(scenario: Scenario, spec: ServerSpec, note: str) -> RunResult:
    """A failed measurement."""
    return RunResult(scenario.key, spec.name, "failed", unit=scenario.unit, note=note)


# ----------------------------------------------------------------- orchestration


def applicable(spec: ServerSpec, scenario: Scenario) -> str | None:
    """None if ``spec`` runs ``scenario``, else the note shown in its cell."""
    if spec.reference and not scenario.reflector_ok:
        return "-"
    if scenario.kind == "http" and not spec.http:
        return spec.http_note
    if scenario.kind in ("ws", "ws_idle") and not spec.ws:
        return "n/a"
    if scenario.deflate and not spec.deflate:
        return "n/a"
    return None


def measure(spec: ServerSpec, scenario: Scenario, opts: Options, pin: Pinning) -> RunResult:
    """Start the server, check it, load it, read its memory, stop it."""
    server = ServerProcess(spec, scenario, opts, pin)
    try:
        server.wait_ready()
        check_server(scenario, server, opts)
        foreign = ForeignLoad(server.pid)
        if scenario.kind == "ws":
            result = load_ws(scenario, server, opts, pin)
        elif scenario.kind == "ws_idle":
            result = load_idle(scenario, server, pin)
        elif opts.http_client == "wrk":
            result = load_wrk(scenario, server, opts, pin)
        else:
            result = load_python_http(scenario, server, opts, pin)
        result.other_cpu_pct = foreign.pct()
        result.rss_mib, result.hwm_mib = server.memory_mib()
        if server.proc.poll() is not None:
            result.status = "failed"
            result.note = f"server died during the run: {server.log_tail()}"
        result.raw["server_info"] = server.info
        return result
    except (RuntimeError, OSError, http.client.HTTPException, subprocess.SubprocessError) as exc:
        return failed(scenario, spec, f"{type(exc).__name__}: {exc}")
    finally:
        server.stop()


def run_all(opts: Options, pin: Pinning, usable: dict[str, str]) -> list[RunResult]:
    """Every round, scenario and server, interleaved so drift hits all servers alike."""
    results: list[RunResult] = []
    for round_no in range(1, opts.repeat + 1):
        for scenario in opts.scenarios:
            for spec in opts.servers:
                note = applicable(spec, scenario)
                if note is not None:
                    results.append(RunResult(scenario.key, spec.name, "n/a", note=note))
                    continue
                if usable[spec.name]:
                    results.append(
                        RunResult(scenario.key, spec.name, "skipped", note=usable[spec.name])
                    )
                    continue
                label = f"[{round_no}/{opts.repeat}] {scenario.key:<13} {spec.name:<16}"
                print(f"  {label}", end="", flush=True)
                if opts.wait_quiet:
                    wait_for_quiet(opts.wait_quiet)
                result = measure(spec, scenario, opts, pin)
                print(f" {describe(result)}", flush=True)
                results.append(result)
    return results


def wait_for_quiet(limit: float) -> None:
    """Sleep until other processes use < BUSY_THRESHOLD % of a core, at most ``limit`` s."""
    deadline = time.monotonic() + limit
    waited = False
    while background_load(0.5) > BUSY_THRESHOLD and time.monotonic() < deadline:
        if not waited:
            print(" (machine busy, waiting)", end="", flush=True)
            waited = True
        time.sleep(1.0)


def describe(result: RunResult) -> str:
    """One progress line for a finished run."""
    if result.status != "ok":
        return f"FAILED: {result.note}"
    text = f"{fmt_value(result.value, result.unit)} {result.unit}"
    if result.p99_ms is not None:
        text += f"  p99 {result.p99_ms:.2f} ms"
    text += f"  (server cpu {result.server_cpu_pct}%, client cpu {result.client_cpu_pct}%)"
    if result.errors:
        text += f"  errors: {'; '.join(result.errors)}"
    return text


# --------------------------------------------------------------------- setup


def ensure_wrk(allow_install: bool) -> str | None:
    """Path of wrk, installing Debian's package when root and allowed; None if unavailable."""
    found = shutil.which("wrk")
    if found or not allow_install:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        print("wrk not found and cannot be installed here (not root or no apt-get)")
        return None
    print("wrk not found: installing Debian's wrk package (apt-get) ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]):
        try:
            subprocess.run(cmd, env=env, check=True, timeout=300, capture_output=True)
        except (subprocess.SubprocessError, OSError) as exc:
            print(f"  could not install wrk: {exc}")
            return None
    return shutil.which("wrk")


def wrk_version() -> str:
    """First line of ``wrk -v``."""
    proc = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=10)
    first = (proc.stdout or proc.stderr).strip().splitlines()[0]
    return first.split(" Copyright")[0]


def preflight(servers: Iterable[ServerSpec]) -> tuple[dict[str, str], dict[str, Any]]:
    """Import-check every server: ({name: '' or reason}, {name: check info})."""
    usable: dict[str, str] = {}
    infos: dict[str, Any] = {}
    for spec in servers:
        ok, reason, info = check_import(spec)
        usable[spec.name] = "" if ok else reason
        infos[spec.name] = info
        status = f"ok {json.dumps(info, sort_keys=True)}" if ok else f"SKIP - {reason}"
        print(f"  {spec.name:<16} {status}")
    return usable, infos


def parse_options(argv: list[str] | None = None) -> tuple[Options, argparse.Namespace]:
    """Command line -> Options."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    names = [s.name for s in SERVERS]
    keys = [s.key for s in SCENARIOS] + ["broadcast"]
    p.add_argument("--servers", default=",".join(names), help=f"comma list of {names}")
    p.add_argument("--scenarios", default=",".join(keys), help=f"comma list of {keys}")
    p.add_argument("--quick", action="store_true", help="short runs, no ceiling (~1 minute)")
    p.add_argument("--duration", type=float, help="measured seconds per run (default 5, quick 1.5)")
    p.add_argument("--warmup", type=float, help="warm-up seconds per run (default 1, quick 0.5)")
    p.add_argument("--repeat", type=int, default=1, help="rounds; the median is reported")
    p.add_argument("--uvloop", action="store_true", help="run every server on uvloop")
    p.add_argument("--http-client", choices=["auto", "wrk", "python"], default="auto")
    p.add_argument("--no-install", action="store_true", help="never apt-get install wrk")
    p.add_argument("--connections", type=int, default=50, help="HTTP connections (wrk -c)")
    p.add_argument("--no-ceiling", action="store_true", help="skip the reflector ceiling runs")
    p.add_argument("--baseline", default="tidewire", help="server the ratios divide by")
    p.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each run, wait up to SECONDS for other processes to go idle",
    )
    p.add_argument("--output", default=str(RESULTS_DIR / "latest.json"), help="JSON output path")
    p.add_argument(
        "--no-broadcast", action="store_true", help="skip the broadcast scenario (broadcast.py)"
    )
    ns = p.parse_args(argv)
    # "broadcast" is bench/broadcast.py's scenario (servers of its own): run it after the rest.
    wanted = [key.strip() for key in ns.scenarios.split(",")]
    ns.broadcast = not ns.no_broadcast and "broadcast" in wanted
    ns.scenarios = ",".join(key for key in wanted if key != "broadcast")
    servers = pick(SERVERS, ns.servers, lambda s: s.name, "server")
    if ns.quick or ns.no_ceiling:
        servers = [s for s in servers if not s.reference]
    scenarios = pick(SCENARIOS, ns.scenarios, lambda s: s.key, "scenario")
    duration = ns.duration if ns.duration is not None else (1.5 if ns.quick else 5.0)
    warmup = ns.warmup if ns.warmup is not None else (0.5 if ns.quick else 1.0)
    opts = Options(
        servers=servers,
        scenarios=scenarios,
        duration=max(0.5, min(duration, 60.0)),
        warmup=max(0.0, min(warmup, 10.0)),
        uvloop=ns.uvloop,
        http_client=ns.http_client,
        wrk_connections=max(1, min(ns.connections, 1000)),
        repeat=max(1, min(ns.repeat, 10)),
        baseline=ns.baseline,
        quick=ns.quick,
        wait_quiet=max(0.0, min(ns.wait_quiet, 600.0)),
    )
    return opts, ns


def pick(items: Iterable[Any], wanted: str, key: Callable[[Any], str], what: str) -> list[Any]:
    """Items whose key is in the comma list ``wanted``, in the canonical order."""
    names = [w.strip() for w in wanted.split(",") if w.strip()]
    known = {key(item) for item in items}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown {what}(s): {', '.join(unknown)}; known: {', '.join(known)}")
    return [item for item in items if key(item) in names]


def resolve_http_client(opts: Options, ns: argparse.Namespace) -> str:
    """'wrk' or 'python' after trying to find/install wrk; returns a label for the report."""
    if not any(s.kind == "http" for s in opts.scenarios):
        return "none (no HTTP scenario selected)"
    if opts.http_client != "python" and ensure_wrk(not ns.no_install):
        opts.http_client = "wrk"
        return f"{wrk_version()} -t1 -c{opts.wrk_connections} (latency from wrk)"
    if opts.http_client == "wrk":
        raise SystemExit("--http-client wrk: wrk is not available")
    opts.http_client = "python"
    print("  !!! wrk unavailable: HTTP numbers come from bench/httpload.py (Python, raw sockets)")
    return (
        f"PYTHON FALLBACK bench/httpload.py -c{opts.wrk_connections} depth 1 "
        "(not comparable with wrk numbers)"
    )


def machine_meta(opts: Options, pin: Pinning) -> dict[str, Any]:
    """Facts about this run for the JSON file and the report footer."""
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_model": cpu_model,
        "cpus": os.cpu_count(),
        "loop": "uvloop" if opts.uvloop else "asyncio (default)",
        "pinning": f"{pin.method}: server CPU {pin.server_cpu}, load CPU {pin.client_cpu}",
        "duration_s": opts.duration,
        "warmup_s": opts.warmup,
        "repeat": opts.repeat,
        "ws_load": "bench/wsload.py (uvloop client, pipelined, pre-masked frames)",
    }


def main(argv: list[str] | None = None) -> int:
    """Preflight, run everything, print the tables, write the JSON."""
    started = time.monotonic()
    opts, ns = parse_options(argv)
    pin = Pinning()
    pin.pin_self()
    print(f"tidewire benchmark: {len(opts.scenarios)} scenarios, {len(opts.servers)} servers")
    print("Import checks:")
    usable, infos = preflight(opts.servers)
    meta = machine_meta(opts, pin)
    meta["http_load"] = resolve_http_client(opts, ns)
    meta["server_checks"] = infos
    meta["background_cpu_pct_before"] = background_load()
    if meta["background_cpu_pct_before"] > BUSY_THRESHOLD:
        print(
            f"  !!! other processes use {meta['background_cpu_pct_before']:.0f}% of a core right "
            "now: the numbers will be noisy; rerun on a quiet machine"
        )
    print(f"Load: {meta['http_load']}; pinning: {meta['pinning']}; loop: {meta['loop']}")
    print("Runs:")
    results = run_all(opts, pin, usable)
    meta["wall_s"] = round(time.monotonic() - started, 1)
    print_report(results, opts, meta)
    output = Path(ns.output)
    write_json(output, meta, results, opts)
    print(f"\nWrote {output} ({meta['wall_s']} s total)")
    if ns.broadcast:
        import broadcast

        print("Broadcast (bench/broadcast.py):")
        found = broadcast.run_all(rounds=2 if opts.quick else 5, uvloop=opts.uvloop)
        broadcast.print_table(found, 1000)
        broadcast.write_json(RESULTS_DIR / "broadcast.json", found, 1000)
    return 0 if any(r.status == "ok" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
