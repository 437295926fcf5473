#!/usr/bin/env python3
"""Run Autobahn the other way round: ``wstest -m fuzzingserver`` drives tidewire's client.

Steps, reusing ``run.py``'s installation, report and gate:

1. make sure ``wstest`` is available (``run.resolve_backend``);
2. per frame engine (every engine this checkout can run, side by side, like the
   server run; ``--engines``, ``--sequential``), start ``wstest -m fuzzingserver``
   on a free port with a spec listing the cases;
3. run ``autobahn/echo_client.py`` (tidewire.connect, echo every message) on that
   engine through every case, then ``/updateReports``;
4. stop wstest, read ``autobahn/reports-client/<engine>/index.json`` and gate
   exactly like the server run: 0 FAILED, 0 NON-STRICT, 0 UNIMPLEMENTED, every
   close clean.

Exit status: 0 gate passed, 1 gate failed, 2 the run could not be carried out.

    .venv/bin/python autobahn/client_run.py [--cases '1.*,2.*'] [--engines wsproto] [--uvloop]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import run as server_run
from run import RunnerError, WstestRun, log

AUTOBAHN_DIR = Path(__file__).resolve().parent
ECHO_CLIENT = AUTOBAHN_DIR / "echo_client.py"
DEFAULT_REPORTS_DIR = AUTOBAHN_DIR / "reports-client"
AGENT = "tidewire-client"


def write_spec(backend: server_run.Backend, reports_dir: Path, url: str, cases: list[str]) -> str:
    """Write the fuzzingserver spec into ``reports_dir``; return its file name."""
    spec = {
        "url": url,
        "outdir": backend.spec_outdir(reports_dir),
        "cases": cases,
        "exclude-cases": [],
        "exclude-agent-cases": {},
    }
    name = "fuzzingserver.json"
    (reports_dir / name).write_text(json.dumps(spec, indent=3) + "\n")
    return name


def wstest_server_command(
    backend: server_run.Backend, reports_dir: Path, spec_name: str, container: str
) -> list[str]:
    """The fuzzingserver's command line (the client direction of ``Backend.wstest_command``)."""
    cmd = backend.wstest_command(reports_dir, spec_name, container)
    # --webport 0: no embedded report web server (it would want port 8080).
    return [("fuzzingserver" if part == "fuzzingclient" else part) for part in cmd] + [
        "--webport",
        "0",
    ]


def client_engines(args: argparse.Namespace) -> list[str]:
    """The engines to drive the client on: ``--engines`` (a comma list) or every available one."""
    choice = getattr(args, "engines", "auto")
    if choice == "auto":
        return server_run.available_engines()
    engines = list(dict.fromkeys(e.strip() for e in choice.split(",") if e.strip()))
    unknown = [e for e in engines if e not in server_run.ENGINES]
    if unknown or not engines:
        raise RunnerError(f"unknown engines {unknown}: choose from {server_run.ENGINES}")
    return engines


def run_client_suite(args: argparse.Namespace, backend: server_run.Backend) -> int:
    """Per engine, run the fuzzingserver against the echo client, then report and gate each.

    Returns the worst exit status. Errors are reported here (``run.py`` run as
    a script holds another copy of :class:`RunnerError` under ``__main__``).
    """
    started = time.monotonic()
    try:
        engines = client_engines(args)
    except RunnerError as exc:
        log(f"ERROR (client direction): {exc}")
        return server_run.EXIT_ERROR
    root: Path = args.client_reports_dir.resolve()
    server_run.reset_reports_dir(root)
    side_by_side = len(engines) > 1 and not getattr(args, "sequential", False)
    log(f"client direction, engines: {', '.join(engines)}"
        f" ({'side by side' if side_by_side else 'sequential'})")  # fmt: skip
    runs: dict[str, WstestRun] = {}
    statuses: dict[str, int] = {}

    def one(engine: str) -> None:
        try:
            runs[engine] = _run_engine(args, backend, engine, root / engine)
        except RunnerError as exc:
            log(f"ERROR (client direction, {engine}): {exc}")
            statuses[engine] = server_run.EXIT_ERROR

    if side_by_side:
        threads = [threading.Thread(target=one, args=(engine,)) for engine in engines]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    else:
        for engine in engines:
            one(engine)
    for engine in engines:
        if engine in runs:
            statuses[engine] = _report_engine(args, engine, root / engine, runs[engine])
    print(flush=True)
    for engine in engines:
        verdict = "passed" if statuses.get(engine) == server_run.EXIT_PASSED else "FAILED"
        log(f"client direction, {engine} engine: gate {verdict}")
    took = server_run.format_seconds(time.monotonic() - started)
    log(f"timing: client direction, all engines {took} in total")
    return max(statuses.get(engine, server_run.EXIT_ERROR) for engine in engines)


def _run_engine(
    args: argparse.Namespace, backend: server_run.Backend, engine: str, reports_dir: Path
) -> WstestRun:
    """Start the fuzzingserver, drive the echo client on ``engine``, stop the fuzzingserver."""
    cases = [c.strip() for c in args.cases.split(",") if c.strip()] or ["*"]
    reports_dir.mkdir(parents=True, exist_ok=True)
    agent = f"{AGENT}-{engine}"
    port = server_run.free_port("127.0.0.1")
    url = f"ws://127.0.0.1:{port}"
    spec_name = write_spec(backend, reports_dir, url, cases)
    container = f"tidewire-autobahn-client-{os.getpid()}-{engine}"
    wstest_log = reports_dir / "wstest.log"
    cmd = wstest_server_command(backend, reports_dir, spec_name, container)
    log(f"client direction: starting {' '.join(cmd)} (in {reports_dir})")
    with wstest_log.open("wb") as out:
        wstest = subprocess.Popen(
            cmd,
            cwd=reports_dir,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    run = WstestRun()
    try:
        server_run.wait_until_listening(wstest, "127.0.0.1", port, args.startup_timeout)
        run = drive_client(url, args, wstest, engine, agent)
    finally:
        if backend.kind == "docker":
            server_run.stop_docker_container(container)
        server_run.stop_server(wstest)
    if run.server_died:
        log(f"[client {engine}] wstest died during the run; the end of {wstest_log}:")
        server_run.print_log_tail(wstest_log)
    return run


def _report_engine(args: argparse.Namespace, engine: str, reports_dir: Path, run: WstestRun) -> int:
    """Print one engine's summary and gate it; the exit status."""
    cases = [c.strip() for c in args.cases.split(",") if c.strip()] or ["*"]
    agent = f"{AGENT}-{engine}"
    print(flush=True)
    log(f"==== client, {engine} engine ====")
    try:
        results = server_run.load_results(reports_dir / "index.json", agent)
    except RunnerError as exc:
        results, reasons = {}, [str(exc)]
    else:
        reasons = []
        server_run.print_summary(results, reports_dir)
    reasons += server_run.gate(results, run, full_suite=cases == ["*"])
    if reasons:
        log(f"CLIENT GATE FAILED ({engine}):")
        for reason in reasons:
            print(f"  - {reason}", flush=True)
    else:
        log(f"client gate passed ({engine})")
    log(f"timing: client direction, {engine} engine {server_run.format_seconds(run.seconds)}")
    return server_run.EXIT_GATE_FAILED if reasons else server_run.EXIT_PASSED


def drive_client(
    url: str, args: argparse.Namespace, wstest: subprocess.Popen[bytes], engine: str, agent: str
) -> WstestRun:
    """Run the echo client on ``engine`` to its end (or ``--timeout``); what happened.

    Raises :class:`RunnerError` when the client says it runs another engine.
    """
    cmd = [sys.executable, str(ECHO_CLIENT), "--url", url, "--agent", agent]
    if args.uvloop:
        cmd.append("--uvloop")
    log(f"running: {' '.join(cmd)}")
    run = WstestRun()
    started = time.monotonic()
    proc = subprocess.Popen(
        cmd,
        env=server_run.server_env(engine),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            line = line.rstrip("\n")
            if line.startswith("ENGINE ") and line.split()[1] != engine:
                raise RunnerError(f"the client was to run the {engine} engine, and says {line}")
            if line.startswith("CASES "):
                run.announced_cases = int(line.split()[1])
            print(f"  [client {engine}] {line}", flush=True)
            if time.monotonic() - started > args.timeout:
                run.timed_out = True
                break
        run.returncode = proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        run.timed_out = True
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    run.server_died = wstest.poll() is not None
    run.seconds = time.monotonic() - started
    log(f"[client {engine}] echo client finished in {server_run.format_seconds(run.seconds)} "
        f"with status {run.returncode}")  # fmt: skip
    return run


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options this direction adds to (or shares with) ``run.py``'s command line."""
    parser.add_argument(
        "--client-reports-dir",
        type=Path,
        default=DEFAULT_REPORTS_DIR,
        help="where the client direction's reports go (emptied first)",
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of the client direction alone; returns the exit status."""
    parser = argparse.ArgumentParser(description="Autobahn fuzzingserver against tidewire's client")
    parser.add_argument("--cases", default="*", help='case patterns, e.g. "1.*,2.*"')
    parser.add_argument("--backend", choices=("auto", "venv", "docker"), default="auto")
    parser.add_argument("--uvloop", action="store_true", help="run the echo client on uvloop")
    parser.add_argument("--engines", default="auto", help="compiled,wsproto or auto (default)")
    parser.add_argument("--sequential", action="store_true", help="engines one after the other")
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--startup-timeout", type=float, default=30)
    add_arguments(parser)
    args = parser.parse_args(argv)
    server_run.terminate_on_sigterm()
    try:
        backend = server_run.resolve_backend(args.backend)
        return run_client_suite(args, backend)
    except RunnerError as exc:
        log(f"ERROR: {exc}")
    except KeyboardInterrupt:
        log("interrupted")
    return server_run.EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
