"""aiohttp low-level server (``web.Server``) with its C HTTP parser and WebSocket reader."""

from __future__ import annotations

from _common import ServerOptions, import_failed, parse_options, report, run


def main() -> None:
    """Parse options, import aiohttp and serve until SIGTERM."""
    opts: ServerOptions = parse_options(__doc__ or "")
    try:
        import aiohttp
        from aiohttp import http_parser, web
    except Exception as exc:
        import_failed("aiohttp", exc)
    # Confirm that the C accelerated parser is the one in use (AIOHTTP_NO_EXTENSIONS unset).
    parser_impl = http_parser.HttpRequestParser.__module__
    if opts.check:
        info = {"server": "aiohttp", "version": aiohttp.__version__, "parser": parser_impl}
        report("CHECK", info)
        return
    from _aiohttp_style import serve

    # access_log=None: no access logging, like uvicorn's access_log=False below.
    run(serve(web, "aiohttp", aiohttp.__version__, opts, access_log=None), opts.uvloop)


if __name__ == "__main__":
    main()
