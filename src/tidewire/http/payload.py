"""Errors of reading a request body (aiohttp's ``web.RequestPayloadError``)."""

from __future__ import annotations

from .exceptions import HTTPBadRequest

__all__ = ["PayloadDecodeError", "RequestPayloadError"]


class RequestPayloadError(Exception):
    """The request body could not be read as sent (aiohttp's name, for ``except`` clauses).

    Reads raise a subclass that is also the :class:`HTTPException` the server
    answers with, so a handler that lets it propagate gets that answer sent.
    A client that disconnects mid-body raises ``ConnectionResetError`` instead
    (as aiohttp since 3.10).
    """


class PayloadDecodeError(HTTPBadRequest, RequestPayloadError):
    """400: the body does not decode with its ``Content-Encoding``."""
