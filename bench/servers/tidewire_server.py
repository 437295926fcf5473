"""tidewire through its aiohttp-compatible low-level API (``tidewire.web.Server``).

``--reference-engine`` sets ``TIDEWIRE_NO_EXTENSIONS=1`` before tidewire is
imported, so the WebSocket frames go through the reference (wsproto) engine.
"""

from __future__ import annotations

import argparse
import os

from _common import ServerOptions, import_failed, parse_options, report, run

REQUIRED_NAMES = ("Server", "ServerRunner", "TCPSite", "Response", "WebSocketResponse", "WSMsgType")


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--reference-engine", action="store_true", help="TIDEWIRE_NO_EXTENSIONS=1 (wsproto engine)"
    )


def main() -> None:
    """Parse options, import tidewire.web and serve until SIGTERM."""
    opts: ServerOptions = parse_options(__doc__ or "", _add_arguments)
    name = "tidewire"
    if opts.extra.get("reference_engine"):
        os.environ["TIDEWIRE_NO_EXTENSIONS"] = "1"
        name = "tidewire-ref"
    try:
        import tidewire
        from tidewire import web

        missing = [name for name in REQUIRED_NAMES if not hasattr(web, name)]
        if missing:
            raise ImportError(f"tidewire.web lacks {', '.join(missing)}")
    except Exception as exc:
        import_failed(name, exc)
    version = str(getattr(tidewire, "__version__", "unknown"))
    from tidewire.ws.engines import ENGINE

    if opts.check:
        report("CHECK", {"server": name, "version": version, "path": tidewire.__file__})
        return
    from _aiohttp_style import serve

    # access_log=None: no access logging, exactly as aiohttp_server.py and uvicorn_server.py.
    run(serve(web, name, f"{version} ({ENGINE} engine)", opts, access_log=None), opts.uvloop)


if __name__ == "__main__":
    main()
