"""The answer to a handler that raised something other than an ``HTTPException``.

As aiohttp's low-level server does: a handler's ``TimeoutError`` (``asyncio.TimeoutError``)
is answered ``504 Gateway Timeout`` and logged at DEBUG (a deadline the handler
set itself expired, typically waiting on an upstream: RFC 9110 section 15.6.5);
any other exception is answered ``500 Internal Server Error`` and logged at
ERROR with its traceback. The page is HTML when the client's ``Accept`` names
``text/html``, plain text otherwise; with ``debug`` it carries the traceback
(escaped in HTML).
"""

from __future__ import annotations

import asyncio
import html
import logging
import traceback
from typing import TYPE_CHECKING

from .response import Response
from .serialize import reason_phrase

if TYPE_CHECKING:
    from .request import BaseRequest

__all__ = ["failure_response", "log_failure"]

_MESSAGES = {
    500: "Server got itself in trouble",
    504: "The request handler timed out",
}


def _status_for(exc: BaseException) -> int:
    # asyncio.TimeoutError is the builtin TimeoutError from Python 3.11 on, not before
    return 504 if isinstance(exc, TimeoutError | asyncio.TimeoutError) else 500


def log_failure(logger: logging.Logger, request: BaseRequest, exc: BaseException) -> None:
    """Log a handler failure: DEBUG for a timeout (504), ERROR with traceback otherwise."""
    if _status_for(exc) == 504:
        logger.debug("Request handler timed out: %r", request, exc_info=exc)
    else:
        logger.error("Error handling request %r", request, exc_info=exc)


def failure_response(request: BaseRequest, exc: BaseException, *, debug: bool) -> Response:
    """The 500 (or 504) response for ``exc``; HTML when the client accepts ``text/html``."""
    status = _status_for(exc)
    title = f"{status} {reason_phrase(status)}"
    message = _MESSAGES[status]
    trace = "".join(traceback.format_exception(exc)) if debug else None
    if "text/html" in request.headers.get("Accept", ""):
        if trace is not None:
            message = f"<h2>Traceback:</h2>\n<pre>{html.escape(trace)}</pre>"
        page = (
            f"<html><head><title>{title}</title></head><body>\n"
            f"<h1>{title}</h1>\n{message}\n</body></html>\n"
        )
        return Response(status=status, text=page, content_type="text/html")
    return Response(status=status, text=f"{title}\n\n{trace if trace is not None else message}")
