#!/usr/bin/env python3
"""Run the Autobahn|Testsuite fuzzingclient against a WebSocket echo server and gate on it.

By default the server under test is ``autobahn/echo_server.py`` (tidewire, run
from this checkout's ``src/``) and every case of the suite runs (517,
compression included), once per WebSocket frame engine: the compiled one when
it is built, and wsproto's (``TIDEWIRE_NO_EXTENSIONS=1``). The engines' runs go
side by side (two servers, two wstest processes; ``--sequential`` for one after
the other), and each is gated on its own.  Steps:

1. make sure ``wstest`` is available: a Python 2.7 virtualenv in
   ``.autobahn-venv/`` (installed on first use, reused afterwards) or the
   ``crossbario/autobahn-testsuite`` docker image;
2. per engine, start the server on a free port and wait until it accepts
   connections (and says it runs that engine);
3. run ``wstest -m fuzzingclient`` with a spec generated from
   ``autobahn/fuzzingclient.json``, streaming a condensed log;
4. stop the server, read ``autobahn/reports/<engine>/index.json``, print the
   counts and every case that is not OK, the timings, and exit 1 if a gate fails.

Exit status: 0 gate passed, 1 gate failed, 2 the run could not be carried out.
Only the standard library is used; no input is ever read from stdin.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

AUTOBAHN_DIR = Path(__file__).resolve().parent
REPO_ROOT = AUTOBAHN_DIR.parent
SPEC_TEMPLATE = AUTOBAHN_DIR / "fuzzingclient.json"
ECHO_SERVER = AUTOBAHN_DIR / "echo_server.py"
DEFAULT_REPORTS_DIR = AUTOBAHN_DIR / "reports"
VENV_DIR = REPO_ROOT / ".autobahn-venv"
VENV_STAMP = VENV_DIR / ".tidewire-autobahn-installed"

TESTSUITE_REQUIREMENT = "autobahntestsuite==25.10.1"
VIRTUALENV_REQUIREMENT = "virtualenv<20.22"  # the last virtualenv line that creates 2.7 envs
DOCKER_IMAGE = "crossbario/autobahn-testsuite"
DOCKER_SPEC_DIR = "/reports"

AGENT = "tidewire"
FULL_SUITE_CASES = 517
ENGINES = ("compiled", "wsproto")
SRC_DIR = REPO_ROOT / "src"
ENGINE_LINE_RE = re.compile(r"^echo_server: engine (\S+)", re.MULTILINE)

BEHAVIORS = ("OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED")
CLOSE_BEHAVIORS = ("OK", "INFORMATIONAL", "WRONG CODE", "UNCLEAN", "FAILED")
GATED_BEHAVIORS = frozenset({"FAILED", "NON-STRICT", "UNIMPLEMENTED"})
GATED_CLOSE_BEHAVIORS = frozenset({"WRONG CODE", "UNCLEAN", "FAILED"})

EXIT_PASSED, EXIT_GATE_FAILED, EXIT_ERROR = 0, 1, 2
MAX_PLAUSIBLE_DURATION_MS = 24 * 3600 * 1000
MAX_LISTED_IN_REASON = 20

RUNNING_CASE_RE = re.compile(r"^Running test case ID (\S+) for agent")
WILL_RUN_RE = re.compile(r"^Ok, will run (\d+) test cases")


class RunnerError(Exception):
    """The run could not be carried out (install, startup or report problem)."""


def log(message: str) -> None:
    """Print one line of the runner's own output, flushed at once."""
    print(f"autobahn: {message}", flush=True)


def format_seconds(seconds: float) -> str:
    """Format a duration as ``M:SS`` (or ``H:MM:SS``)."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def run_quietly(cmd: list[str], *, env: Mapping[str, str] | None = None, timeout: float) -> str:
    """Run a setup command, return its output, raise RunnerError with its tail if it fails."""
    try:
        proc = subprocess.run(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=dict(env) if env is not None else None,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RunnerError(f"{shlex.join(cmd)}: {exc}") from exc
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-40:])
        raise RunnerError(f"{shlex.join(cmd)} exited with {proc.returncode}:\n{tail}")
    return proc.stdout


# --------------------------------------------------------------------------- backends


@dataclass(frozen=True)
class Backend:
    """How to run wstest: from the local virtualenv or from the docker image."""

    kind: str  # "venv" or "docker"

    def spec_outdir(self, reports_dir: Path) -> str:
        """Where wstest must write its reports, as seen from wstest."""
        return DOCKER_SPEC_DIR if self.kind == "docker" else str(reports_dir)

    def wstest_command(self, reports_dir: Path, spec_name: str, container: str) -> list[str]:
        """The command line that runs the fuzzingclient with the spec in ``reports_dir``."""
        if self.kind == "docker":
            return [
                "docker", "run", "--rm", "--name", container, "--network", "host",
                "--user", f"{os.getuid()}:{os.getgid()}",
                "-v", f"{reports_dir}:{DOCKER_SPEC_DIR}",
                DOCKER_IMAGE,
                "wstest", "-m", "fuzzingclient", "-s", f"{DOCKER_SPEC_DIR}/{spec_name}",
            ]  # fmt: skip
        return [str(VENV_DIR / "bin" / "wstest"), "-m", "fuzzingclient", "-s", spec_name]


def find_python2() -> str | None:
    """Return the real path of a working Python 2.7 interpreter, or None.

    Tried in order: $AUTOBAHN_PYTHON2, ``python2.7`` with PYENV_VERSION=2.7.18
    (pyenv installs that are not global), and a plain ``python2.7`` on PATH.
    """
    probe = "import sys; print(sys.executable); print('%d.%d' % sys.version_info[:2])"
    candidates: list[tuple[str, dict[str, str]]] = []
    if os.environ.get("AUTOBAHN_PYTHON2"):
        candidates.append((os.environ["AUTOBAHN_PYTHON2"], dict(os.environ)))
    candidates.append(("python2.7", {**os.environ, "PYENV_VERSION": "2.7.18"}))
    candidates.append(("python2.7", dict(os.environ)))
    for exe, env in candidates:
        if shutil.which(exe, path=env.get("PATH")) is None:
            continue
        try:
            lines = run_quietly([exe, "-c", probe], env=env, timeout=30).split()
        except RunnerError:
            continue
        if len(lines) >= 2 and lines[-1] == "2.7":
            return lines[-2]
    return None


def venv_is_ready() -> bool:
    """True when the virtualenv holds the pinned testsuite (a quick, file-only check)."""
    wstest = VENV_DIR / "bin" / "wstest"
    try:
        return wstest.is_file() and VENV_STAMP.read_text().strip() == TESTSUITE_REQUIREMENT
    except OSError:
        return False


def install_venv(python2: str) -> None:
    """Create ``.autobahn-venv`` with ``python2`` and install the pinned testsuite into it."""
    log(f"installing {TESTSUITE_REQUIREMENT} into {VENV_DIR} (python {python2}) ...")
    started = time.monotonic()
    if VENV_DIR.exists():
        shutil.rmtree(VENV_DIR)  # partial or outdated install
    # `pip install --target` cannot hold the testsuite (it breaks the zope
    # namespace package), but it is fine for a throw-away virtualenv tool.
    with tempfile.TemporaryDirectory(prefix="autobahn-virtualenv-") as tool_dir:
        run_quietly(
            [python2, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--no-input", "--target", tool_dir, VIRTUALENV_REQUIREMENT],
            timeout=600,
        )  # fmt: skip
        run_quietly(
            [python2, "-m", "virtualenv", "--quiet", str(VENV_DIR)],
            env={**os.environ, "PYTHONPATH": tool_dir},
            timeout=600,
        )
    run_quietly(
        [str(VENV_DIR / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
         "--no-input", TESTSUITE_REQUIREMENT],
        timeout=1200,
    )  # fmt: skip
    version = run_quietly([str(VENV_DIR / "bin" / "wstest"), "--autobahnversion"], timeout=60)
    VENV_STAMP.write_text(TESTSUITE_REQUIREMENT + "\n")
    summary = " / ".join(version.split("\n")[:2])
    log(f"installed ({summary}) in {format_seconds(time.monotonic() - started)}")


def docker_is_usable() -> bool:
    """True when a docker client is on PATH and its engine answers."""
    if shutil.which("docker") is None:
        return False
    try:
        run_quietly(["docker", "info"], timeout=30)
    except RunnerError:
        return False
    return True


def prepare_docker() -> None:
    """Pull the testsuite image unless it is already present."""
    try:
        run_quietly(["docker", "image", "inspect", DOCKER_IMAGE], timeout=60)
        return
    except RunnerError:
        pass
    log(f"pulling {DOCKER_IMAGE} ...")
    run_quietly(["docker", "pull", DOCKER_IMAGE], timeout=1800)


def resolve_backend(choice: str) -> Backend:
    """Pick and prepare the wstest backend: "venv", "docker" or "auto"."""
    if choice in ("auto", "venv"):
        if venv_is_ready():
            return Backend("venv")
        python2 = find_python2()
        if python2 is not None:
            install_venv(python2)
            return Backend("venv")
        if choice == "venv":
            raise RunnerError(
                "no Python 2.7 found (tried $AUTOBAHN_PYTHON2, PYENV_VERSION=2.7.18 python2.7, "
                "python2.7 on PATH); autobahntestsuite runs only on Python 2.7"
            )
    if docker_is_usable():
        prepare_docker()
        return Backend("docker")
    if choice == "docker":
        raise RunnerError("--docker: docker is not installed or `docker info` failed")
    raise RunnerError(
        "cannot run the Autobahn testsuite: it needs Python 2.7 (install it, e.g. "
        "`pyenv install 2.7.18`, or point $AUTOBAHN_PYTHON2 at one) or a working docker "
        "engine (`docker info` failed or docker is not installed)"
    )


# --------------------------------------------------------------------------- spec and server


def write_spec(
    backend: Backend, reports_dir: Path, url: str, cases: list[str], agent: str = AGENT
) -> str:
    """Write the effective spec into ``reports_dir`` from the template; return its file name."""
    spec: dict[str, Any] = json.loads(SPEC_TEMPLATE.read_text())
    spec["outdir"] = backend.spec_outdir(reports_dir)
    spec["servers"][0]["url"] = url
    spec["servers"][0]["agent"] = agent
    spec["cases"] = cases
    name = "fuzzingclient.json"
    (reports_dir / name).write_text(json.dumps(spec, indent=3) + "\n")
    return name


def reset_reports_dir(reports_dir: Path) -> None:
    """Empty the reports directory so that no stale index.json can be read."""
    if reports_dir.exists():
        shutil.rmtree(reports_dir)
    reports_dir.mkdir(parents=True)


def free_port(host: str) -> int:
    """Ask the kernel for a port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def server_command(template: str | None, host: str, port: int, uvloop: bool) -> list[str]:
    """The server's argv: tidewire's echo server, or ``template`` with {port}/{host} filled in."""
    if template is None:
        cmd = [sys.executable, str(ECHO_SERVER), "--host", host, "--port", str(port)]
        return [*cmd, "--uvloop"] if uvloop else cmd
    return shlex.split(template.replace("{port}", str(port)).replace("{host}", host))


def server_env(engine: str | None) -> dict[str, str]:
    """The server's environment: this checkout's ``src/`` first on the path, the engine forced."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC_DIR), env.get("PYTHONPATH")]))
    if engine is not None:
        env["TIDEWIRE_NO_EXTENSIONS"] = "1" if engine == "wsproto" else "0"
    return env


def available_engines() -> list[str]:
    """The engines this checkout can run: wsproto always, the compiled one when it imports."""
    probe = subprocess.run(
        [sys.executable, "-c", "import tidewire.ws._frames_c"],
        env=server_env("compiled"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        check=False,
    )
    return list(ENGINES) if probe.returncode == 0 else ["wsproto"]


def check_engine(log_path: Path, engine: str) -> None:
    """Fail unless the server's log says it runs ``engine`` (no silent fallback)."""
    found = ENGINE_LINE_RE.search(log_path.read_text(errors="replace"))
    if found is None or found.group(1) != engine:
        said = found.group(1) if found else "nothing"
        raise RunnerError(f"the server was to run the {engine} engine, and says {said}")


def start_server(
    cmd: list[str], log_path: Path, env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start the server in its own process group, its output going to ``log_path``."""
    log(f"starting server: {shlex.join(cmd)}")
    with log_path.open("wb") as log_file:
        try:
            return subprocess.Popen(
                cmd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
                start_new_session=True,
            )
        except OSError as exc:
            raise RunnerError(f"cannot start the server: {exc}") from exc


def wait_until_listening(
    server: subprocess.Popen[bytes], host: str, port: int, timeout: float
) -> None:
    """Wait until ``host:port`` accepts TCP connections; fail if the server exits or is too slow."""
    deadline = time.monotonic() + timeout
    while True:
        if server.poll() is not None:
            raise RunnerError(f"the server exited with status {server.returncode} before listening")
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RunnerError(
                    f"the server did not listen on {host}:{port} within {timeout:g}s"
                ) from None
            time.sleep(0.1)


def stop_server(server: subprocess.Popen[bytes], grace: float = 15.0) -> int | None:
    """SIGTERM the server's process group, SIGKILL it after ``grace`` seconds; return its status."""
    if server.poll() is not None:
        return server.returncode
    try:
        os.killpg(server.pid, signal.SIGTERM)
        return server.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        log(f"the server ignored SIGTERM for {grace:g}s; killing it")
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
        return None
    except ProcessLookupError:
        return server.wait()


def report_server_errors(path: Path, lines: int = 40) -> None:
    """If the server's log holds tracebacks, say how many and print the first one."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return
    starts = [i for i, line in enumerate(text) if line.startswith("Traceback (most recent call")]
    if not starts:
        return
    log(f"{path} holds {len(starts)} tracebacks; the first one:")
    first = max(0, starts[0] - 2)  # include the "Exception in callback ..." context lines
    last = starts[0] + 1
    while last < len(text) and text[last].startswith(" "):
        last += 1  # the traceback's frames; text[last] is then the exception line
    for line in text[first : min(last + 1, first + lines)]:
        print(f"    {line}", flush=True)


def print_log_tail(path: Path, lines: int = 30) -> None:
    """Print the last ``lines`` lines of a log file, indented."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return
    for line in text[-lines:]:
        print(f"    {line}", flush=True)


# --------------------------------------------------------------------------- wstest


@dataclass
class WstestRun:
    """What happened while wstest ran."""

    returncode: int | None = None
    announced_cases: int | None = None
    server_died: bool = False
    timed_out: bool = False
    seconds: float = 0.0


@dataclass
class ProgressPrinter:
    """Condenses wstest's output.

    Instead of one line per case it prints one line per chapter ("1.*", "9.*", ...)
    when the chapter ends, and a "still running" line when a chapter has been
    quiet for ``heartbeat`` seconds, so that a CI log keeps moving.
    """

    out: TextIO
    verbose: bool
    prefix: str = ""
    heartbeat: float = 30.0
    started: float = field(default_factory=time.monotonic)
    last_print: float = field(default_factory=time.monotonic)
    chapter: str | None = None
    chapter_cases: int = 0
    total: int | None = None
    done: int = 0

    def emit(self, text: str) -> None:
        """Print one line and remember when."""
        print(f"{self.prefix}{text}", file=self.out, flush=True)
        self.last_print = time.monotonic()

    def position(self) -> str:
        """``[done/total, elapsed]`` for progress lines."""
        total = self.total if self.total is not None else "?"
        return f"[{self.done}/{total}, {format_seconds(time.monotonic() - self.started)}]"

    def feed(self, line: str, run: WstestRun) -> None:
        """Handle one line of wstest output."""
        line = line.rstrip("\n")
        announced = WILL_RUN_RE.match(line)
        if announced:
            self.total = run.announced_cases = int(announced.group(1))
        running = RUNNING_CASE_RE.match(line)
        if running:
            self.case_started(running.group(1))
            if not self.verbose:
                return
        elif line.startswith("Cases = ") and not self.verbose and len(line) > 160:
            line = line[:157] + "..."
        self.emit(f"  | {line}")

    def case_started(self, case_id: str) -> None:
        """Count a case; report the previous chapter when a new one begins."""
        chapter = case_id.split(".")[0]
        if chapter != self.chapter:
            self.flush_chapter()
            self.chapter, self.chapter_cases = chapter, 0
        elif not self.verbose and time.monotonic() - self.last_print > self.heartbeat:
            self.emit(f"  ... running case {case_id}   {self.position()}")
        self.chapter_cases += 1
        self.done += 1

    def flush_chapter(self) -> None:
        """Print the progress line of the chapter that just ended."""
        if self.chapter is not None and not self.verbose:
            label = f"{self.chapter}.*"
            self.emit(f"  cases {label:<6} {self.chapter_cases:>3} run   {self.position()}")
        self.chapter = None


def watch(
    proc: subprocess.Popen[str],
    server: subprocess.Popen[bytes],
    timeout: float,
    run: WstestRun,
    grace: float = 30.0,
) -> None:
    """Stop wstest if the time limit passes or the server has been dead ``grace`` seconds.

    Runs in a thread. After the server dies wstest normally notices by itself
    (connection refused), writes the report of the cases done so far and exits,
    so it gets ``grace`` seconds to do that before it is terminated.
    """
    deadline = time.monotonic() + timeout
    while proc.poll() is None:
        if not run.server_died and server.poll() is not None:
            run.server_died = True
            deadline = min(deadline, time.monotonic() + grace)
        if time.monotonic() > deadline:
            run.timed_out = not run.server_died
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
            return
        time.sleep(0.25)


def run_wstest(
    cmd: list[str],
    cwd: Path,
    server: subprocess.Popen[bytes],
    timeout: float,
    verbose: bool,
    prefix: str = "",
) -> WstestRun:
    """Run wstest to completion, streaming its (condensed) output (each line after ``prefix``)."""
    log(f"running: {shlex.join(cmd)}")
    run = WstestRun()
    started = time.monotonic()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    try:
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
        )
    except OSError as exc:
        raise RunnerError(f"cannot start wstest: {exc}") from exc
    watcher = threading.Thread(target=watch, args=(proc, server, timeout, run), daemon=True)
    watcher.start()
    printer = ProgressPrinter(out=sys.stdout, verbose=verbose, prefix=prefix)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            printer.feed(line, run)
        printer.flush_chapter()
        run.returncode = proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        watcher.join(timeout=15)
    run.seconds = time.monotonic() - started
    return run


def stop_docker_container(name: str) -> None:
    """Remove the named testsuite container if it is still there (after an interruption)."""
    subprocess.run(
        ["docker", "rm", "-f", name],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )


# --------------------------------------------------------------------------- report and gate


Results = dict[str, dict[str, Any]]


def case_sort_key(case_id: str) -> tuple[int, ...]:
    """Sort "9.10.1" after "9.2.1": compare the dotted parts as numbers."""
    return tuple(int(part) if part.isdigit() else -1 for part in case_id.split("."))


def load_results(index_path: Path, agent: str) -> Results:
    """Read wstest's index.json and return the results of ``agent`` (or of its only agent)."""
    try:
        index: dict[str, Results] = json.loads(index_path.read_text())
    except (OSError, ValueError) as exc:
        raise RunnerError(f"cannot read the report {index_path}: {exc}") from exc
    if agent in index:
        return index[agent]
    if len(index) == 1:
        return next(iter(index.values()))
    raise RunnerError(f"{index_path} has no results for agent {agent!r} (agents: {sorted(index)})")


def is_gated(result: Mapping[str, Any]) -> bool:
    """True when a case's behaviour or close behaviour fails the gate."""
    return (
        result.get("behavior") in GATED_BEHAVIORS
        or result.get("behaviorClose") in GATED_CLOSE_BEHAVIORS
    )


def count_line(title: str, counts: Counter[str], order: Iterable[str]) -> str:
    """One line such as ``behavior: OK=512 NON-STRICT=4 FAILED=1``, in a fixed order."""
    known = list(order)
    names = [n for n in known if counts[n]] + sorted(n for n in counts if n not in known)
    return f"{title:<15}" + "  ".join(f"{n}={counts[n]}" for n in names)


def print_summary(results: Results, reports_dir: Path) -> None:
    """Print the behaviour counts, the cases that are not OK and the slowest cases."""
    print(flush=True)
    log(f"{len(results)} cases in {reports_dir / 'index.json'}")
    print(
        "  "
        + count_line(
            "behavior:", Counter(r.get("behavior", "?") for r in results.values()), BEHAVIORS
        )
    )
    closes = Counter(r.get("behaviorClose", "?") for r in results.values())
    print("  " + count_line("behaviorClose:", closes, CLOSE_BEHAVIORS))
    not_ok = [cid for cid in sorted(results, key=case_sort_key) if not_ok_case(results[cid])]
    if not_ok:
        log(f"{len(not_ok)} cases not OK ('*' = fails the gate; details in the reportfile):")
        for cid in not_ok:
            print("  " + describe_case(cid, results[cid]))
    timed = [cid for cid in results if duration_ms(results[cid]) is not None]
    slowest = sorted(timed, key=lambda cid: -(duration_ms(results[cid]) or 0))[:3]
    if slowest:
        text = ", ".join(f"{cid} {duration_ms(results[cid])} ms" for cid in slowest)
        log(f"slowest cases: {text}")
    sys.stdout.flush()


def not_ok_case(result: Mapping[str, Any]) -> bool:
    """True when either behaviour of a case is something other than OK."""
    return result.get("behavior") != "OK" or result.get("behaviorClose") != "OK"


def duration_ms(result: Mapping[str, Any]) -> int | None:
    """A case's duration in ms, or None when wstest recorded none or nonsense.

    (A case whose connection never opened gets a duration measured from the epoch.)
    """
    value = result.get("duration")
    if isinstance(value, int) and 0 <= value < MAX_PLAUSIBLE_DURATION_MS:
        return value
    return None


def describe_case(case_id: str, result: Mapping[str, Any]) -> str:
    """One line about one case: both behaviours, close code, duration and report file."""
    mark = "*" if is_gated(result) else " "
    return (
        f"{mark} {case_id:<9} behavior={result.get('behavior')!s:<14}"
        f" close={result.get('behaviorClose')!s:<13}"
        f" code={result.get('remoteCloseCode')!s:<5}"
        f" {duration_ms(result) if duration_ms(result) is not None else '?'} ms"
        f"  {result.get('reportfile', '')}"
    )


def gate(results: Results, run: WstestRun, full_suite: bool) -> list[str]:
    """Return the reasons the gate fails; an empty list means it passes."""
    reasons: list[str] = []
    gated = sorted((cid for cid in results if is_gated(results[cid])), key=case_sort_key)
    if gated:
        shown = ", ".join(gated[:MAX_LISTED_IN_REASON])
        more = (
            f" and {len(gated) - MAX_LISTED_IN_REASON} more"
            if len(gated) > MAX_LISTED_IN_REASON
            else ""
        )
        reasons.append(f"cases failing the gate ({len(gated)}): {shown}{more}")
    if full_suite and len(results) != FULL_SUITE_CASES:
        reasons.append(f"the full suite reported {len(results)} cases, expected {FULL_SUITE_CASES}")
    if run.announced_cases is None:
        reasons.append("wstest did not announce how many cases it would run")
    elif len(results) < run.announced_cases:
        reasons.append(
            f"only {len(results)} of the {run.announced_cases} announced cases were reported"
        )
    if not results:
        reasons.append("no case was run")
    if run.server_died:
        reasons.append("the server died during the run")
    if run.timed_out:
        reasons.append("wstest did not finish within the time limit")
    if run.returncode not in (0, None) and not (run.server_died or run.timed_out):
        reasons.append(f"wstest exited with status {run.returncode}")
    return reasons


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description="Run the Autobahn fuzzingclient suite against an echo server and gate on it.",
    )
    parser.add_argument(
        "--cases",
        default="*",
        help='comma-separated case patterns, e.g. "1.*,2.*,12.1.*" (default: "*", all 517 cases)',
    )
    parser.add_argument(
        "--backend",
        choices=("auto", "venv", "docker"),
        default="auto",
        help="where wstest comes from: the Python 2.7 virtualenv .autobahn-venv, the "
        "crossbario/autobahn-testsuite docker image, or auto (venv if Python 2.7 is found, "
        "else docker)",
    )
    parser.add_argument(
        "--docker",
        dest="backend",
        action="store_const",
        const="docker",
        help="same as --backend docker",
    )
    parser.add_argument(
        "--server-cmd",
        help="test this server command instead of tidewire's echo server; {port} and {host} are "
        'substituted, e.g. --server-cmd "python /tmp/other_echo.py --port {port}"',
    )
    parser.add_argument(
        "--uvloop", action="store_true", help="run tidewire's echo server on uvloop"
    )
    parser.add_argument(
        "--engines",
        default="auto",
        help="comma list of frame engines to test (compiled, wsproto), or auto: every engine "
        "this checkout can run (default %(default)s)",
    )
    parser.add_argument(
        "--sequential",
        action="store_true",
        help="test the engines one after the other instead of side by side",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address the server listens on (default %(default)s)"
    )
    parser.add_argument("--port", type=int, default=0, help="server port (default: a free one)")
    parser.add_argument(
        "--reports-dir",
        type=Path,
        default=DEFAULT_REPORTS_DIR,
        help="where reports go (emptied first)",
    )
    parser.add_argument(
        "--timeout", type=float, default=3600, help="seconds wstest may take (default %(default)g)"
    )
    parser.add_argument(
        "--startup-timeout", type=float, default=30, help="seconds the server may take to listen"
    )
    parser.add_argument(
        "--install-only", action="store_true", help="only make sure the testsuite is installed"
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="print every line wstest prints"
    )
    return parser.parse_args(argv)


def terminate_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so that cleanup (stopping the server) still runs."""

    def handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def selected_engines(args: argparse.Namespace) -> list[str | None]:
    """The engines to test; ``[None]`` for a foreign server (``--server-cmd``)."""
    if args.server_cmd is not None:
        return [None]
    if args.engines == "auto":
        found = available_engines()
        return [found[0]] if args.port else list(found)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = [e for e in engines if e not in ENGINES]
    if unknown or not engines:
        raise RunnerError(f"unknown engines {unknown}: choose from {', '.join(ENGINES)}")
    engines = list(dict.fromkeys(engines))
    if args.port and len(engines) > 1:
        raise RunnerError("--port serves one engine: add --engines")
    return list(engines)


def run_suite(args: argparse.Namespace, backend: Backend, started: float) -> int:
    """Per engine: start the server, run wstest, stop the server; then report and gate each.

    ``started`` is when the whole run began (``time.monotonic()``), for the total time.
    """
    cases = [c.strip() for c in args.cases.split(",") if c.strip()] or ["*"]
    engines = selected_engines(args)
    root: Path = args.reports_dir.resolve()
    reset_reports_dir(root)
    dirs = {engine: root / engine if engine else root for engine in engines}
    runs: dict[str | None, WstestRun | BaseException] = {}
    log(
        f"engines: {', '.join(e or 'foreign server' for e in engines)}"
        f" ({'sequential' if args.sequential or len(engines) == 1 else 'side by side'})"
    )

    def one(engine: str | None) -> None:
        try:
            dirs[engine].mkdir(parents=True, exist_ok=True)
            runs[engine] = run_against_server(args, backend, dirs[engine], cases, engine)
        except BaseException as exc:  # reported below, per engine
            runs[engine] = exc

    if args.sequential or len(engines) == 1:
        for engine in engines:
            one(engine)
    else:
        threads = [threading.Thread(target=one, args=(engine,)) for engine in engines]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    status = EXIT_PASSED
    for engine in engines:
        outcome = runs[engine]
        label = engine or "server"
        print(flush=True)
        log(f"==== {label} ====")
        if isinstance(outcome, BaseException):
            if isinstance(outcome, RunnerError):
                log(f"ERROR ({label}): {outcome}")
                status = max(status, EXIT_ERROR)
                continue
            raise outcome
        report_server_errors(dirs[engine] / "server.log")
        agent = f"{AGENT}-{engine}" if engine else AGENT
        result = report_and_gate(dirs[engine], outcome, cases == ["*"], started, agent)
        status = max(status, result)
    print(flush=True)
    for engine in engines:
        outcome = runs[engine]
        if isinstance(outcome, WstestRun):
            log(f"timing: {engine or 'server'} wstest {format_seconds(outcome.seconds)}")
    log(f"timing: all engines {format_seconds(time.monotonic() - started)} in total")
    return status


def run_against_server(
    args: argparse.Namespace,
    backend: Backend,
    reports_dir: Path,
    cases: list[str],
    engine: str | None = None,
) -> WstestRun:
    """Start the server, run wstest against it, always stop the server; return what happened."""
    port = args.port or free_port(args.host)
    url = f"ws://{args.host}:{port}"
    agent = f"{AGENT}-{engine}" if engine else AGENT
    spec_name = write_spec(backend, reports_dir, url, cases, agent)
    server_log = reports_dir / "server.log"
    container = f"tidewire-autobahn-{os.getpid()}-{engine or 'server'}"
    prefix = f"[{engine}] " if engine else ""

    cmd = server_command(args.server_cmd, args.host, port, args.uvloop)
    server = start_server(cmd, server_log, server_env(engine))
    try:
        wait_until_listening(server, args.host, port, args.startup_timeout)
        if engine is not None:
            check_engine(server_log, engine)
        log(f"{prefix}server is listening on {url}")
        cmd = backend.wstest_command(reports_dir, spec_name, container)
        run = run_wstest(cmd, reports_dir, server, args.timeout, args.verbose, prefix)
    except BaseException:
        print_log_tail(server_log)
        raise
    finally:
        if backend.kind == "docker":
            stop_docker_container(container)
        status = stop_server(server)

    if run.timed_out:
        log(f"{prefix}wstest was stopped after the {args.timeout:g}s time limit (--timeout)")
    else:
        took = format_seconds(run.seconds)
        log(f"{prefix}wstest finished in {took} with status {run.returncode}")
    if run.server_died:
        log(f"{prefix}the server died during the run (status {status}); the end of {server_log}:")
        print_log_tail(server_log)
    elif status not in (0, -signal.SIGTERM):
        log(f"{prefix}warning: the server did not exit cleanly on SIGTERM (status {status})")
    return run


def report_and_gate(
    reports_dir: Path, run: WstestRun, full_suite: bool, started: float, agent: str = AGENT
) -> int:
    """Read the report, print the summary and the gate's verdict; return the exit status."""
    try:
        results = load_results(reports_dir / "index.json", agent)
    except RunnerError as exc:
        if not (run.server_died or run.timed_out or run.returncode):
            raise
        results, reasons = {}, [str(exc)]  # the run already went wrong: a gate failure
    else:
        reasons = []
        print_summary(results, reports_dir)
    reasons += gate(results, run, full_suite)
    if reasons:
        log("GATE FAILED:")
        for reason in reasons:
            print(f"  - {reason}", flush=True)
    else:
        log("gate passed")
    log(f"total run time {format_seconds(time.monotonic() - started)}")
    # Last line, in the plain "N passed, N failed" form that CI logs understand;
    # cases that were expected but not reported count as failed there.
    expected = FULL_SUITE_CASES if full_suite else (run.announced_cases or 0)
    failed = sum(1 for r in results.values() if is_gated(r))
    missing = max(0, expected - len(results))
    log(f"{len(results) - failed} passed, {failed + missing} failed")
    return EXIT_GATE_FAILED if reasons else EXIT_PASSED


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = parse_args(argv)
    terminate_on_sigterm()
    started = time.monotonic()
    try:
        backend = resolve_backend(args.backend)
        log(f"wstest backend: {backend.kind}")
        if args.install_only:
            log(f"ready in {format_seconds(time.monotonic() - started)}")
            return EXIT_PASSED
        return run_suite(args, backend, started)
    except RunnerError as exc:
        log(f"ERROR: {exc}")
    except KeyboardInterrupt:
        log("interrupted")
    log(f"total run time {format_seconds(time.monotonic() - started)}")
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
