"""tidewire through its aiohttp-compatible low-level API (``tidewire.web.Server``)."""

from __future__ import annotations

from _common import ServerOptions, import_failed, parse_options, report, run

REQUIRED_NAMES = ("Server", "ServerRunner", "TCPSite", "Response", "WebSocketResponse", "WSMsgType")


def main() -> None:
    """Parse options, import tidewire.web and serve until SIGTERM."""
    opts: ServerOptions = parse_options(__doc__ or "")
    try:
        import tidewire
        from tidewire import web

        missing = [name for name in REQUIRED_NAMES if not hasattr(web, name)]
        if missing:
            raise ImportError(f"tidewire.web lacks {', '.join(missing)}")
    except Exception as exc:
        import_failed("tidewire", exc)
    version = str(getattr(tidewire, "__version__", "unknown"))
    if opts.check:
        report("CHECK", {"server": "tidewire", "version": version, "path": tidewire.__file__})
        return
    from _aiohttp_style import serve

    # access_log=None: no access logging, exactly as aiohttp_server.py and uvicorn_server.py.
    run(serve(web, "tidewire", version, opts, access_log=None), opts.uvloop)


if __name__ == "__main__":
    main()
