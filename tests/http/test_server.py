"""Serving: the seed program, sites, TLS, graceful shutdown, the CLI, access log, options."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import socket
import ssl
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import trustme
from httpwire import close_writer, get, open_conn, read_response, read_until_close

from tidewire import web

SRC = str(Path(web.__file__).resolve().parents[1])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_for_port(host: str, port: int, proc: asyncio.subprocess.Process) -> None:
    """Wait until something accepts on host:port (fail early if ``proc`` died)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            out, err = await proc.communicate()
            raise AssertionError(f"server exited {proc.returncode}: {out!r} {err!r}")
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        await close_writer(writer)
        return
    raise AssertionError(f"nothing listening on {host}:{port}")


async def wait_for_unix(path: str, proc: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            raise AssertionError(f"server exited {proc.returncode}")
        try:
            _, writer = await asyncio.open_unix_connection(path)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        await close_writer(writer)
        return
    raise AssertionError(f"nothing listening on {path}")


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
async def spawn() -> AsyncIterator[Any]:
    """``proc = await spawn(*args, cwd=...)``: a child Python process, killed after the test."""
    procs: list[asyncio.subprocess.Process] = []

    async def start(*args: str, cwd: Path | None = None) -> asyncio.subprocess.Process:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *args,
            cwd=str(cwd) if cwd else None,
            env=child_env(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


SEED = """\
import asyncio
from tidewire import web
async def handler(request):
    return web.Response(text="OK")
async def main():
    server = web.Server(handler)
    runner = web.ServerRunner(server)
    await runner.setup()
    site = web.TCPSite(runner, 'localhost', PORT)
    await site.start()
    await asyncio.sleep(30)
asyncio.run(main())
"""


async def test_seed_program_answers_ok(spawn: Any, tmp_path: Path) -> None:
    port = free_port()
    script = tmp_path / "seed.py"
    script.write_text(SEED.replace("PORT", str(port)))
    proc = await spawn(str(script))
    await wait_for_port("localhost", port, proc)
    async with aiohttp.ClientSession() as session:
        for method in ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"):
            for path in ("/", "/some/path", "/q?x=1&y=2", "/%E2%9C%93"):
                data = b"body" if method != "HEAD" else None
                url = f"http://localhost:{port}{path}"
                async with session.request(method, url, data=data) as response:
                    assert response.status == 200, (method, path)
                    body = await response.read()
                    assert body == (b"" if method == "HEAD" else b"OK"), (method, path)
                    assert response.headers["Content-Length"] == "2"
                    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    # and on a raw socket, pipelined
    reader, writer = await open_conn("127.0.0.1", port)
    try:
        writer.write(get("/a") + get("/b") + get("/c", extra="Connection: close\r\n"))
        data, closed = await read_until_close(reader)
    finally:
        await close_writer(writer)
    assert data.count(b"HTTP/1.1 200 OK\r\n") == 3
    assert closed
    assert proc.returncode is None


async def test_loop_create_server_with_server_as_protocol_factory() -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        return web.Response(text=f"old style {request.path}")

    tw_server = web.Server(handler)
    loop = asyncio.get_running_loop()
    listener = await loop.create_server(tw_server, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        async with aiohttp.ClientSession() as session:
            for path in ("/x", "/y"):
                async with session.get(f"http://127.0.0.1:{port}{path}") as response:
                    assert await response.text() == f"old style {path}"
            assert len(tw_server.connections) == 1
    finally:
        listener.close()
        await tw_server.shutdown(1.0)
        await listener.wait_closed()
    assert tw_server.connections == []


async def test_unix_site(tmp_path: Path) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        body = await request.read()
        return web.Response(text=f"unix {request.method} {request.path} {body.decode()}")

    path = str(tmp_path / "tw.sock")
    runner = web.ServerRunner(web.Server(handler))
    await runner.setup()
    site = web.UnixSite(runner, path)
    await site.start()
    try:
        assert path in site.name
        connector = aiohttp.UnixConnector(path=path)
        async with aiohttp.ClientSession(connector=connector) as session:
            async with session.post("http://localhost/over/unix", data=b"hi") as response:
                assert await response.text() == "unix POST /over/unix hi"
            async with session.get("http://localhost/again") as response:
                assert await response.text() == "unix GET /again "
    finally:
        await runner.cleanup()
    assert runner.sites == []


async def test_sock_site_tcp_and_unix(tmp_path: Path) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        return web.Response(text="from a socket")

    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(16)
    port = tcp.getsockname()[1]
    unix_path = str(tmp_path / "sock.sock")
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.bind(unix_path)
    unix.listen(16)
    runner = web.ServerRunner(web.Server(handler))
    await runner.setup()
    try:
        await web.SockSite(runner, tcp).start()
        await web.SockSite(runner, unix).start()
        assert len(runner.sites) == 2
        assert ("127.0.0.1", port) in runner.addresses
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/") as response,
        ):
            assert await response.text() == "from a socket"
        connector = aiohttp.UnixConnector(path=unix_path)
        async with (
            aiohttp.ClientSession(connector=connector) as session,
            session.get("http://localhost/") as response,
        ):
            assert await response.text() == "from a socket"
    finally:
        await runner.cleanup()
        tcp.close()
        unix.close()


async def test_site_needs_setup_first() -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        return web.Response()

    runner = web.ServerRunner(web.Server(handler))
    with pytest.raises(RuntimeError):
        await web.TCPSite(runner, "127.0.0.1", 0).start()


async def test_tcp_site_name_with_port_zero() -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        return web.Response()

    runner = web.ServerRunner(web.Server(handler))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = site.sockets[0].getsockname()[1]
        assert site.name == f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


# TLS ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context) from a throw-away CA."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    client_ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ca.configure_trust(client_ctx)
    return server_ctx, client_ctx


async def test_tls_site(serve: Any, tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server_ctx, client_ctx = tls

    async def handler(request: web.BaseRequest) -> web.Response:
        body = await request.read()
        return web.json_response(
            {
                "secure": request.secure,
                "scheme": request.scheme,
                "url": str(request.url),
                "body": body.decode(),
            }
        )

    srv = await serve(handler, ssl_context=server_ctx)
    connector = aiohttp.TCPConnector(ssl=client_ctx)
    async with aiohttp.ClientSession(connector=connector) as session:
        for i in range(3):  # keep-alive over TLS too
            async with session.post(srv.url("/tls", scheme="https"), data=b"x%d" % i) as response:
                info = await response.json()
            assert info == {
                "secure": True,
                "scheme": "https",
                "url": f"https://127.0.0.1:{srv.port}/tls",
                "body": f"x{i}",
            }


async def test_tls_rejects_untrusted_client_and_plain_http(
    serve: Any, tls: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    server_ctx, client_ctx = tls

    async def handler(request: web.BaseRequest) -> web.Response:
        return web.Response(text="secret")

    srv = await serve(handler, ssl_context=server_ctx)
    # a client that does not trust the CA refuses the server
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await session.get(srv.url("/", scheme="https"))
    # plain HTTP on the TLS port gets nothing useful, and breaks nothing
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(get("/"))
        data, _ = await read_until_close(reader, timeout=2)
    finally:
        await close_writer(writer)
    assert b"secret" not in data
    connector = aiohttp.TCPConnector(ssl=client_ctx)
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.get(srv.url("/", scheme="https")) as response,
    ):
        assert await response.text() == "secret"


# graceful shutdown ----------------------------------------------------------------------


async def _start_runner(handler: Any, **options: Any) -> tuple[web.ServerRunner, int]:
    shutdown_timeout = options.pop("runner_shutdown_timeout", 5.0)
    runner = web.ServerRunner(web.Server(handler, **options), shutdown_timeout=shutdown_timeout)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site.sockets[0].getsockname()[1]


async def test_cleanup_lets_in_flight_request_finish_and_closes_idle(tmp_path: Path) -> None:
    slow_started = asyncio.Event()

    async def handler(request: web.BaseRequest) -> web.Response:
        if request.path == "/slow":
            slow_started.set()
            await asyncio.sleep(0.5)
            return web.Response(text="slow done")
        return web.Response(text="quick")

    runner, port = await _start_runner(handler)
    idle_reader, idle_writer = await open_conn("127.0.0.1", port)
    busy_reader, busy_writer = await open_conn("127.0.0.1", port)
    try:
        idle_writer.write(get("/quick"))
        assert (await read_response(idle_reader)).body == b"quick"
        busy_writer.write(get("/slow"))
        await asyncio.wait_for(slow_started.wait(), 3)

        started = time.monotonic()
        cleanup = asyncio.create_task(runner.cleanup())
        # the idle keep-alive connection is closed at once
        _, idle_closed = await read_until_close(idle_reader, timeout=0.3)
        assert idle_closed
        idle_elapsed = time.monotonic() - started
        # no new connections are accepted
        with pytest.raises(OSError):
            _, late = await asyncio.open_connection("127.0.0.1", port)
            await close_writer(late)
        # the in-flight request completes, announcing the close
        response = await read_response(busy_reader)
        assert response.status == 200
        assert response.body == b"slow done"
        assert response.headers["Connection"].lower() == "close"
        _, busy_closed = await read_until_close(busy_reader, timeout=2)
        assert busy_closed
        await asyncio.wait_for(cleanup, 3)
        assert idle_elapsed < 0.3
        assert time.monotonic() - started >= 0.3  # it waited for the slow handler
    finally:
        await close_writer(idle_writer)
        await close_writer(busy_writer)


async def test_cleanup_cancels_a_handler_past_shutdown_timeout() -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def handler(request: web.BaseRequest) -> web.Response:
        started.set()
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return web.Response(text="too late")

    runner, port = await _start_runner(handler, runner_shutdown_timeout=0.3)
    reader, writer = await open_conn("127.0.0.1", port)
    try:
        writer.write(get("/forever"))
        await asyncio.wait_for(started.wait(), 3)
        began = time.monotonic()
        await asyncio.wait_for(runner.cleanup(), 3)
        elapsed = time.monotonic() - began
        assert cancelled.is_set()
        assert 0.25 <= elapsed < 2.0, elapsed
        data, closed = await read_until_close(reader, timeout=1)
        assert closed
        assert b"too late" not in data
    finally:
        await close_writer(writer)


async def test_server_shutdown_timeout_option_is_the_default() -> None:
    cancelled = asyncio.Event()
    started = asyncio.Event()

    async def handler(request: web.BaseRequest) -> web.Response:
        started.set()
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return web.Response()

    tw_server = web.Server(handler, shutdown_timeout=0.2)
    listener = await asyncio.get_running_loop().create_server(tw_server, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    _reader, writer = await open_conn("127.0.0.1", port)
    try:
        writer.write(get())
        await asyncio.wait_for(started.wait(), 3)
        listener.close()
        await asyncio.wait_for(tw_server.shutdown(), 2)
        assert cancelled.is_set()
    finally:
        await close_writer(writer)
        await listener.wait_closed()


# the command line and run_server --------------------------------------------------------

APP = """\
from tidewire import web

async def handler(request):
    body = await request.read()
    return web.Response(text=f"app {request.method} {request.path} {body.decode()}")
"""


async def test_python_m_tidewire_serves_a_module_handler(spawn: Any, tmp_path: Path) -> None:
    (tmp_path / "twapp_cli.py").write_text(APP)
    port = free_port()
    proc = await spawn(
        "-m",
        "tidewire",
        "twapp_cli:handler",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        cwd=tmp_path,
    )
    await wait_for_port("127.0.0.1", port, proc)
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"http://127.0.0.1:{port}/cli", data=b"hey") as response,
    ):
        assert await response.text() == "app POST /cli hey"
    proc.send_signal(signal.SIGTERM)
    _out, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 0, err
    assert b"Traceback" not in err


async def test_python_m_tidewire_on_a_unix_socket(spawn: Any, tmp_path: Path) -> None:
    (tmp_path / "twapp_unix.py").write_text(APP)
    path = str(tmp_path / "cli.sock")
    proc = await spawn("-m", "tidewire", "twapp_unix:handler", "--unix", path, cwd=tmp_path)
    await wait_for_unix(path, proc)
    connector = aiohttp.UnixConnector(path=path)
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.get("http://localhost/u") as response,
    ):
        assert await response.text() == "app GET /u "
    proc.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 0, err


@pytest.mark.parametrize(
    "spec", ["no_such_module_xyz:handler", "twapp_bad:missing", "nocolon", "twapp_bad:VALUE"]
)
async def test_python_m_tidewire_bad_handler_spec(spawn: Any, tmp_path: Path, spec: str) -> None:
    (tmp_path / "twapp_bad.py").write_text("VALUE = 3\n")
    proc = await spawn("-m", "tidewire", spec, "--port", str(free_port()), cwd=tmp_path)
    _, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 2
    assert spec.encode() in err
    assert b"Traceback" not in err


RUN_SERVER = """\
import asyncio
from tidewire import web

async def handler(request):
    if request.path == "/slow":
        await asyncio.sleep(0.5)
        return web.Response(text="slow finished")
    return web.Response(text="hello")

web.run_server(handler, host="127.0.0.1", port=PORT, shutdown_timeout=5)
print("run_server returned")
"""


async def test_run_server_stops_gracefully_on_sigterm(spawn: Any, tmp_path: Path) -> None:
    port = free_port()
    script = tmp_path / "runner.py"
    script.write_text(RUN_SERVER.replace("PORT", str(port)))
    proc = await spawn(str(script))
    await wait_for_port("127.0.0.1", port, proc)
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/") as response,
    ):
        assert await response.text() == "hello"
    reader, writer = await open_conn("127.0.0.1", port)
    try:
        writer.write(get("/slow"))
        await asyncio.sleep(0.15)  # the handler is sleeping now
        proc.send_signal(signal.SIGTERM)
        response = await read_response(reader)
        assert response.body == b"slow finished"
        assert response.headers["Connection"].lower() == "close"
    finally:
        await close_writer(writer)
    out, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 0, err
    assert b"Running on http://127.0.0.1:" in out
    assert b"run_server returned" in out
    assert b"Traceback" not in err


# access log ----------------------------------------------------------------------------


async def test_access_log_custom_format(serve: Any, caplog: pytest.LogCaptureFixture) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        return web.Response(status=201, text="hello", headers={"X-Out": "out-value"})

    caplog.set_level(logging.INFO, logger="tidewire.access")
    srv = await serve(
        handler,
        access_log_format='%a "%r" %s %b "%{User-Agent}i" %{X-Out}o %{X-None}i %% T=%T D=%D f=%f',
    )
    async with (
        aiohttp.ClientSession() as session,
        session.get(srv.url("/logged?q=1"), headers={"User-Agent": "agent/1.0"}) as response,
    ):
        assert response.status == 201
    lines = [r.getMessage() for r in caplog.records if r.name == "tidewire.access"]
    assert len(lines) == 1
    assert re.fullmatch(
        r'127\.0\.0\.1 "GET /logged\?q=1 HTTP/1\.1" 201 5 "agent/1\.0" out-value - % '
        r"T=\d+ D=\d+ f=\d+\.\d{6}",
        lines[0],
    ), lines[0]
    assert caplog.records[-1].levelno == logging.INFO


async def test_access_log_default_format_and_one_line_per_request(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        if request.path == "/fail":
            raise web.HTTPNotFound()
        return web.Response(text="abc")

    caplog.set_level(logging.INFO, logger="tidewire.access")
    srv = await serve(handler)
    async with aiohttp.ClientSession() as session:
        for path in ("/a", "/fail", "/b"):
            async with session.get(srv.url(path), headers={"Referer": "http://ref/"}) as resp:
                await resp.read()
    lines = [r.getMessage() for r in caplog.records if r.name == "tidewire.access"]
    assert len(lines) == 3
    assert re.fullmatch(
        r'127\.0\.0\.1 \[\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] "GET /a HTTP/1\.1" 200 3 '
        r'"http://ref/" "[^"]*"',
        lines[0],
    ), lines[0]
    assert '"GET /fail HTTP/1.1" 404 ' in lines[1]
    assert '"GET /b HTTP/1.1" 200 3 ' in lines[2]


async def test_access_log_none_and_custom_logger(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        return web.Response(text="x")

    caplog.set_level(logging.INFO)
    custom = logging.getLogger("tests.http.custom_access")
    quiet = await serve(handler, access_log=None)
    loud = await serve(handler, access_log=custom, access_log_format="%r")
    async with aiohttp.ClientSession() as session:
        async with session.get(quiet.url("/quiet")) as response:
            await response.read()
        async with session.get(loud.url("/loud")) as response:
            await response.read()
    access = [r for r in caplog.records if "access" in r.name]
    assert [(r.name, r.getMessage()) for r in access] == [
        ("tests.http.custom_access", "GET /loud HTTP/1.1")
    ]


# options ---------------------------------------------------------------------------------


def _noop_handler() -> Any:
    async def handler(request: web.BaseRequest) -> web.Response:
        return web.Response()

    return handler


def test_unknown_server_option_is_type_error() -> None:
    with pytest.raises(TypeError):
        web.Server(_noop_handler(), unknown_option=1)
    with pytest.raises(TypeError):
        web.Server(_noop_handler(), keep_alive_timeout=5)  # misspelt


def test_aiohttp_option_names_are_accepted() -> None:
    log = logging.getLogger("tests.http.opts")
    server = web.Server(
        _noop_handler(),
        access_log=log,
        access_log_format="%r %s",
        keepalive_timeout=12.5,
        max_line_size=1000,
        max_field_size=2000,
        max_headers=10,
        handler_cancellation=True,
        debug=True,
        read_bufsize=4096,
    )
    config = server.config
    assert config.access_log is log
    assert config.access_log_format == "%r %s"
    assert config.keepalive_timeout == 12.5
    assert config.max_line_size == 1000
    assert config.max_field_size == 2000
    assert config.max_headers == 10
    assert config.handler_cancellation is True
    assert config.debug is True
    assert config.read_buffer_limit == 4096


def test_defaults_match_the_documented_config() -> None:
    config = web.Server(_noop_handler()).config
    assert config == web.ServerConfig()
    assert config.max_line_size == 8190
    assert config.max_field_size == 8190
    assert config.keepalive_timeout == 75.0
    assert config.handler_cancellation is False
    assert config.debug is False
    assert config.access_log is logging.getLogger("tidewire.access")


@pytest.mark.parametrize(
    "option", ["max_line_size", "max_field_size", "max_headers", "client_max_size"]
)
def test_non_positive_limits_are_rejected(option: str) -> None:
    with pytest.raises(ValueError):
        web.Server(_noop_handler(), **{option: 0})


async def test_options_take_effect_on_the_wire(serve: Any) -> None:
    srv = await serve(_noop_handler(), max_field_size=100, max_headers=5)
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(get(extra="X-A: " + "a" * 150 + "\r\n"))
        data, _ = await read_until_close(reader)
    finally:
        await close_writer(writer)
    assert data.startswith(b"HTTP/1.1 431 ")
    reader, writer = await open_conn(srv.host, srv.port)
    try:
        writer.write(get(extra="".join(f"X-{i}: v\r\n" for i in range(6))))
        data, _ = await read_until_close(reader)
    finally:
        await close_writer(writer)
    assert data.startswith(b"HTTP/1.1 431 ")


def test_web_facade_exports() -> None:
    for name in (
        "Server",
        "ServerRunner",
        "TCPSite",
        "UnixSite",
        "SockSite",
        "Response",
        "StreamResponse",
        "json_response",
        "BaseRequest",
        "run_server",
        "HTTPFound",
        "HTTPMethodNotAllowed",
        "HTTPRequestEntityTooLarge",
    ):
        assert hasattr(web, name), name
    assert web.HttpVersion11 == (1, 1)
