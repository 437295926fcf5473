"""The ``HTTPException`` family: an exception that *is* an HTTP answer.

Raise one from a handler and the server sends it as the response; any other
exception becomes a 500. Every standard status has its class, under the names
aiohttp uses, grouped by class of status (RFC 9110 section 15).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any, ClassVar

from multidict import CIMultiDict

from .framing import status_has_body
from .response import Response

__all__ = [
    "HTTPAccepted",
    "HTTPBadGateway",
    "HTTPBadRequest",
    "HTTPClientError",
    "HTTPConflict",
    "HTTPCreated",
    "HTTPError",
    "HTTPException",
    "HTTPExpectationFailed",
    "HTTPFailedDependency",
    "HTTPForbidden",
    "HTTPFound",
    "HTTPGatewayTimeout",
    "HTTPGone",
    "HTTPInsufficientStorage",
    "HTTPInternalServerError",
    "HTTPLengthRequired",
    "HTTPMethodNotAllowed",
    "HTTPMisdirectedRequest",
    "HTTPMove",
    "HTTPMovedPermanently",
    "HTTPMultipleChoices",
    "HTTPNetworkAuthenticationRequired",
    "HTTPNoContent",
    "HTTPNonAuthoritativeInformation",
    "HTTPNotAcceptable",
    "HTTPNotExtended",
    "HTTPNotFound",
    "HTTPNotImplemented",
    "HTTPNotModified",
    "HTTPOk",
    "HTTPPartialContent",
    "HTTPPaymentRequired",
    "HTTPPermanentRedirect",
    "HTTPPreconditionFailed",
    "HTTPPreconditionRequired",
    "HTTPProxyAuthenticationRequired",
    "HTTPRedirection",
    "HTTPRequestEntityTooLarge",
    "HTTPRequestHeaderFieldsTooLarge",
    "HTTPRequestRangeNotSatisfiable",
    "HTTPRequestTimeout",
    "HTTPRequestURITooLong",
    "HTTPResetContent",
    "HTTPSeeOther",
    "HTTPServerError",
    "HTTPServiceUnavailable",
    "HTTPSuccessful",
    "HTTPTemporaryRedirect",
    "HTTPTooManyRequests",
    "HTTPUnauthorized",
    "HTTPUnavailableForLegalReasons",
    "HTTPUnprocessableEntity",
    "HTTPUnsupportedMediaType",
    "HTTPUpgradeRequired",
    "HTTPUseProxy",
    "HTTPVariantAlsoNegotiates",
    "HTTPVersionNotSupported",
]


class HTTPException(Exception):
    """An HTTP response raised as an exception.

    Subclasses fix :attr:`status_code`. The body is ``text`` when given, else
    ``"<status>: <reason>"`` (no body for 204 and 304). The caller may raise it
    from a handler, or return it, and the server sends :meth:`to_response`.
    """

    status_code: ClassVar[int] = -1

    def __init__(
        self,
        *,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        reason: str | None = None,
        text: str | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
    ) -> None:
        if self.status_code < 0:
            raise TypeError("HTTPException is abstract: raise one of its subclasses")
        self.reason = reason if reason is not None else HTTPStatus(self.status_code).phrase
        self.headers: CIMultiDict[str] = CIMultiDict(headers or ())
        if not status_has_body(self.status_code):
            self.text: str | None = None
            self.body: bytes | None = None
        elif body is not None:
            self.text, self.body = None, body
        else:
            self.text = text if text is not None else f"{self.status_code}: {self.reason}"
            self.body = None
        self.content_type = content_type
        super().__init__(f"{self.status_code}: {self.reason}")

    @property
    def status(self) -> int:
        """The status code (same as :attr:`status_code`)."""
        return self.status_code

    def to_response(self) -> Response:
        """Build the response the server sends for this exception."""
        content_type = self.content_type
        if content_type is None and "Content-Type" not in self.headers and self.text is not None:
            content_type = "text/plain"
        return Response(
            status=self.status_code,
            reason=self.reason,
            headers=self.headers,
            text=self.text,
            body=self.body,
            content_type=content_type,
        )


class HTTPError(HTTPException):
    """Base of the 4xx and 5xx exceptions."""


class HTTPSuccessful(HTTPException):
    """Base of the 2xx exceptions."""


class HTTPRedirection(HTTPException):
    """Base of the 3xx exceptions."""


class HTTPClientError(HTTPError):
    """Base of the 4xx exceptions."""


class HTTPServerError(HTTPError):
    """Base of the 5xx exceptions."""


class HTTPMove(HTTPRedirection):
    """A redirect: the caller must give ``location``, sent as the ``Location`` header."""

    def __init__(self, location: str, **kwargs: Any) -> None:
        if not location:
            raise ValueError("HTTP redirects need a location")
        super().__init__(**kwargs)
        self.headers["Location"] = str(location)
        self.location = str(location)


class HTTPMethodNotAllowed(HTTPClientError):
    """405: ``allowed_methods`` become the ``Allow`` header (RFC 9110 section 15.5.6)."""

    status_code = 405

    def __init__(self, method: str, allowed_methods: Iterable[str], **kwargs: Any) -> None:
        allowed = sorted({m.upper() for m in allowed_methods})
        super().__init__(**kwargs)
        self.headers["Allow"] = ",".join(allowed)
        self.method = method.upper()
        self.allowed_methods = set(allowed)


class HTTPRequestEntityTooLarge(HTTPClientError):
    """413: the body was larger than ``max_size`` (``actual_size`` when known)."""

    status_code = 413

    def __init__(self, max_size: int, actual_size: int, **kwargs: Any) -> None:
        kwargs.setdefault(
            "text",
            f"Maximum request body size {max_size} exceeded, actual body size {actual_size}",
        )
        super().__init__(**kwargs)
        self.max_size, self.actual_size = max_size, actual_size


class HTTPUnavailableForLegalReasons(HTTPClientError):
    """451: ``link``, when given, is sent as a ``Link: <...>; rel="blocked-by"`` header."""

    status_code = 451

    def __init__(self, link: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if link:
            self.headers["Link"] = f'<{link}>; rel="blocked-by"'
        self.link = link


class HTTPOk(HTTPSuccessful):
    """200 OK."""

    status_code = 200


class HTTPCreated(HTTPSuccessful):
    """201 Created."""

    status_code = 201


class HTTPAccepted(HTTPSuccessful):
    """202 Accepted."""

    status_code = 202


class HTTPNonAuthoritativeInformation(HTTPSuccessful):
    """203 Non-Authoritative Information."""

    status_code = 203


class HTTPNoContent(HTTPSuccessful):
    """204 No Content."""

    status_code = 204


class HTTPResetContent(HTTPSuccessful):
    """205 Reset Content."""

    status_code = 205


class HTTPPartialContent(HTTPSuccessful):
    """206 Partial Content."""

    status_code = 206


class HTTPMultipleChoices(HTTPMove):
    """300 Multiple Choices."""

    status_code = 300


class HTTPMovedPermanently(HTTPMove):
    """301 Moved Permanently."""

    status_code = 301


class HTTPFound(HTTPMove):
    """302 Found."""

    status_code = 302


class HTTPSeeOther(HTTPMove):
    """303 See Other."""

    status_code = 303


class HTTPNotModified(HTTPRedirection):
    """304 Not Modified."""

    status_code = 304


class HTTPUseProxy(HTTPMove):
    """305 Use Proxy."""

    status_code = 305


class HTTPTemporaryRedirect(HTTPMove):
    """307 Temporary Redirect."""

    status_code = 307


class HTTPPermanentRedirect(HTTPMove):
    """308 Permanent Redirect."""

    status_code = 308


class HTTPBadRequest(HTTPClientError):
    """400 Bad Request."""

    status_code = 400


class HTTPUnauthorized(HTTPClientError):
    """401 Unauthorized."""

    status_code = 401


class HTTPPaymentRequired(HTTPClientError):
    """402 Payment Required."""

    status_code = 402


class HTTPForbidden(HTTPClientError):
    """403 Forbidden."""

    status_code = 403


class HTTPNotFound(HTTPClientError):
    """404 Not Found."""

    status_code = 404


class HTTPNotAcceptable(HTTPClientError):
    """406 Not Acceptable."""

    status_code = 406


class HTTPProxyAuthenticationRequired(HTTPClientError):
    """407 Proxy Authentication Required."""

    status_code = 407


class HTTPRequestTimeout(HTTPClientError):
    """408 Request Timeout."""

    status_code = 408


class HTTPConflict(HTTPClientError):
    """409 Conflict."""

    status_code = 409


class HTTPGone(HTTPClientError):
    """410 Gone."""

    status_code = 410


class HTTPLengthRequired(HTTPClientError):
    """411 Length Required."""

    status_code = 411


class HTTPPreconditionFailed(HTTPClientError):
    """412 Precondition Failed."""

    status_code = 412


class HTTPRequestURITooLong(HTTPClientError):
    """414 Request-URI Too Long."""

    status_code = 414


class HTTPUnsupportedMediaType(HTTPClientError):
    """415 Unsupported Media Type."""

    status_code = 415


class HTTPRequestRangeNotSatisfiable(HTTPClientError):
    """416 Requested Range Not Satisfiable."""

    status_code = 416


class HTTPExpectationFailed(HTTPClientError):
    """417 Expectation Failed."""

    status_code = 417


class HTTPMisdirectedRequest(HTTPClientError):
    """421 Misdirected Request."""

    status_code = 421


class HTTPUnprocessableEntity(HTTPClientError):
    """422 Unprocessable Entity."""

    status_code = 422


class HTTPFailedDependency(HTTPClientError):
    """424 Failed Dependency."""

    status_code = 424


class HTTPUpgradeRequired(HTTPClientError):
    """426 Upgrade Required."""

    status_code = 426


class HTTPPreconditionRequired(HTTPClientError):
    """428 Precondition Required."""

    status_code = 428


class HTTPTooManyRequests(HTTPClientError):
    """429 Too Many Requests."""

    status_code = 429


class HTTPRequestHeaderFieldsTooLarge(HTTPClientError):
    """431 Request Header Fields Too Large."""

    status_code = 431


class HTTPInternalServerError(HTTPServerError):
    """500 Internal Server Error."""

    status_code = 500


class HTTPNotImplemented(HTTPServerError):
    """501 Not Implemented."""

    status_code = 501


class HTTPBadGateway(HTTPServerError):
    """502 Bad Gateway."""

    status_code = 502


class HTTPServiceUnavailable(HTTPServerError):
    """503 Service Unavailable."""

    status_code = 503


class HTTPGatewayTimeout(HTTPServerError):
    """504 Gateway Timeout."""

    status_code = 504


class HTTPVersionNotSupported(HTTPServerError):
    """505 HTTP Version Not Supported."""

    status_code = 505


class HTTPVariantAlsoNegotiates(HTTPServerError):
    """506 Variant Also Negotiates."""

    status_code = 506


class HTTPInsufficientStorage(HTTPServerError):
    """507 Insufficient Storage."""

    status_code = 507


class HTTPNotExtended(HTTPServerError):
    """510 Not Extended."""

    status_code = 510


class HTTPNetworkAuthenticationRequired(HTTPServerError):
    """511 Network Authentication Required."""

    status_code = 511


def _status_table() -> dict[int, type[HTTPException]]:
    """Each status's exception class, for the classes built from keywords alone."""
    needs_arguments = (HTTPMove, HTTPMethodNotAllowed, HTTPRequestEntityTooLarge)
    table: dict[int, type[HTTPException]] = {}
    for name in __all__:
        cls = globals()[name]
        if cls.status_code > 0 and not issubclass(cls, needs_arguments):
            table[cls.status_code] = cls
    return table


#: The one status-to-exception table (statuses whose class needs more than ``text``
#: are left out: they are never made from a status alone).
STATUS_EXCEPTIONS = _status_table()


def exception_for_status(status: int, text: str) -> HTTPException:
    """The exception that answers ``status`` with ``text``.

    A status without a class here becomes 400 for 4xx and 500 otherwise.
    """
    cls = STATUS_EXCEPTIONS.get(status)
    if cls is None:
        cls = HTTPBadRequest if 400 <= status < 500 else HTTPInternalServerError
    return cls(text=text)
