"""``python -m tidewire module:handler --host H --port P [--unix PATH]``: serve a handler."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any

from .server import run_server


def load_handler(spec: str) -> Any:
    """Import ``module:attribute`` (dotted attributes allowed) and return it."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError("expected module:handler")
    target: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        target = getattr(target, part)
    return target


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line and serve until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m tidewire", description=__doc__)
    parser.add_argument("handler", help="the async handler, as module:function")
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--unix", metavar="PATH", help="serve on a Unix socket instead")
    parser.add_argument("--debug", action="store_true", help="tracebacks in 500 bodies")
    args = parser.parse_args(argv)
    sys.path.insert(0, "")
    try:
        handler = load_handler(args.handler)
    except (ValueError, ImportError, AttributeError) as exc:
        parser.error(f"cannot load {args.handler!r}: {exc}")
    if not callable(handler):
        parser.error(f"{args.handler!r} is not callable")
    run_server(handler, args.host, args.port, path=args.unix, debug=args.debug)


if __name__ == "__main__":
    main()
