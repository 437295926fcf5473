"""examples/chat/server.py: its command line, and ``--workers`` as real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from chattools import CHAT_DIR, RedisServer, load_chat_server, unused_port

import tidewire

server = load_chat_server()


def test_abbreviated_options_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        server.parse_args(["--redis", "redis://127.0.0.1:1/0", "--work", "3"])
    assert exit_info.value.code == 2
    assert "--work" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["--redis", "redis://127.0.0.1:1/0", "--workers", "3"],
        ["--workers=3", "--redis", "redis://127.0.0.1:1/0", "--port", "9000"],
        ["--workers", "3", "--redis", "redis://127.0.0.1:1/0", "--workers", "4"],
    ],
)
def test_a_worker_command_line_runs_one_process(argv: list[str]) -> None:
    assert server.parse_args(argv).workers > 1
    args = server.parse_args(server.worker_args(argv, 4242))
    assert args.workers == 1
    assert args.reuse_port and args.parent_pid == 4242
    assert args.redis == "redis://127.0.0.1:1/0"


def children_of(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after its ')'.
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def test_workers_are_exactly_n_processes_and_stop_on_sigterm(chat_redis: RedisServer) -> None:
    port = unused_port()
    argv = ["--port", str(port), "--redis", chat_redis.url, "--workers", "2"]
    env = {**os.environ, "PYTHONPATH": str(Path(tidewire.__file__).parents[1])}
    supervisor = subprocess.Popen(
        [sys.executable, str(CHAT_DIR / "server.py"), *argv],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert supervisor.stdout is not None
        # Both workers print "chat on ..." to one pipe: the lines may interleave.
        output = b""
        while output.count(b"chat on ") < 2:
            line = supervisor.stdout.readline()
            assert line, output
            output += line
        workers = children_of(supervisor.pid)
        assert len(workers) == 2
        assert [children_of(worker) for worker in workers] == [[], []]
        time.sleep(0.3)  # a worker forking workers would show by now
        assert sorted(children_of(supervisor.pid)) == sorted(workers)
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(15) == 0
        assert all(not Path(f"/proc/{worker}").exists() for worker in workers)
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait()
