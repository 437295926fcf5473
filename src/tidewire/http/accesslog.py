"""Access log lines in aiohttp's ``%`` format, compiled once per server."""

from __future__ import annotations

import abc
import logging
import os
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .request import BaseRequest
    from .streamresponse import StreamResponse

__all__ = ["AbstractAccessLogger", "AccessLogger"]

_Field = Callable[["BaseRequest", "StreamResponse", float], str]
_DIRECTIVE = re.compile(r"%(\{([A-Za-z0-9\-_]+)\}([ioe])|[atPrsbOTDf%])")


def _header(kind: str, name: str) -> _Field:
    if kind == "i":
        return lambda req, resp, t: req.headers.get(name, "-")
    if kind == "o":
        return lambda req, resp, t: resp.headers.get(name, "-")
    return lambda req, resp, t: os.environ.get(name, "-")


_SIMPLE: dict[str, _Field] = {
    "a": lambda req, resp, t: req.remote or "-",
    "t": lambda req, resp, t: time.strftime("[%d/%b/%Y:%H:%M:%S %z]"),
    "P": lambda req, resp, t: f"<{os.getpid()}>",
    "r": lambda req, resp, t: (
        f"{req.method} {req.raw_path} HTTP/{req.version.major}.{req.version.minor}"
    ),
    "s": lambda req, resp, t: str(resp.status),
    "b": lambda req, resp, t: str(resp.body_length),
    "O": lambda req, resp, t: str(resp.body_length),
    "T": lambda req, resp, t: str(round(t)),
    "D": lambda req, resp, t: str(round(t * 1_000_000)),
    "f": lambda req, resp, t: f"{t:.6f}",
    "%": lambda req, resp, t: "%",
}


class AbstractAccessLogger(abc.ABC):
    """Base of access loggers (aiohttp's ``AbstractAccessLogger``): ``Server(access_log_class=)``.

    The server builds one as ``cls(logger, log_format)`` and calls :meth:`log`
    after each response, unless :attr:`enabled` is False.
    """

    def __init__(self, logger: logging.Logger, log_format: str) -> None:
        self.logger = logger
        self.log_format = log_format

    @property
    def enabled(self) -> bool:
        """True when the logger would emit an INFO line."""
        return self.logger.isEnabledFor(logging.INFO)

    @abc.abstractmethod
    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        """Log one request that took ``time`` seconds."""


class AccessLogger(AbstractAccessLogger):
    """Formats and logs one line per request on ``logger`` at INFO level.

    ``fmt`` takes aiohttp's directives: ``%a`` remote, ``%t`` time, ``%r`` request
    line, ``%s`` status, ``%b`` body bytes, ``%T``/``%D``/``%f`` duration,
    ``%{Name}i`` request header, ``%{Name}o`` response header.
    """

    def __init__(self, logger: logging.Logger, fmt: str) -> None:
        super().__init__(logger, fmt)
        self._literals: list[str] = []
        self._fields: list[_Field] = []
        position = 0
        for match in _DIRECTIVE.finditer(fmt):
            self._literals.append(fmt[position : match.start()])
            if match.group(2):
                self._fields.append(_header(match.group(3), match.group(2)))
            else:
                self._fields.append(_SIMPLE[match.group(1)])
            position = match.end()
        self._tail = fmt[position:]

    def log(self, request: BaseRequest, response: StreamResponse, elapsed: float) -> None:
        """Emit the line for one request that took ``elapsed`` seconds."""
        try:
            parts = [
                literal + field(request, response, elapsed)
                for literal, field in zip(self._literals, self._fields, strict=True)
            ]
            self.logger.info("".join(parts) + self._tail)
        except Exception:
            self.logger.exception("error in access log formatting")
