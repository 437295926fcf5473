"""The head of a response as the handler edits it, before anything is sent.

:class:`ResponseHead` is the base of :class:`~.streamresponse.StreamResponse`:
status and reason, headers, ``Content-Type`` and its charset, cookies, and the
framing choices (chunked, compression, forced close) a handler makes before
``prepare``. It sends nothing: :mod:`.streamresponse` turns this state into the
status line and headers, once, and writes the body.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from http.cookies import Morsel, SimpleCookie

from multidict import CIMultiDict

from .bodies import charset_param
from .channel import ResponseChannel
from .response_compat import ContentCoding, ResponseCompat
from .serialize import REASON_PHRASES, reason_phrase

__all__ = ["HeadersArg", "ResponseHead"]

#: What a response's ``headers=`` argument accepts.
HeadersArg = Mapping[str, str] | Iterable[tuple[str, str]] | None


class ResponseHead(ResponseCompat):
    """Status, headers, cookies and framing choices of a response not yet sent.

    Not used on its own: the caller makes a :class:`~.streamresponse.StreamResponse`
    or :class:`~.response.Response`. Everything here may be changed until the
    head is sent (``prepare``); :meth:`set_status` and the body setters of
    ``Response`` raise :class:`RuntimeError` after that.
    """

    # Defaults that most responses keep, as class attributes: an instance sets only
    # what differs (a response is made per request).
    _cookies: SimpleCookie | None = None
    _chunked = False
    _compression = False
    _compression_force: str | None = None
    _force_close = False
    _keep_alive: bool | None = None
    _channel: ResponseChannel | None = None  # set when the head is sent

    def __init__(
        self, *, status: int = 200, reason: str | None = None, headers: HeadersArg = None
    ) -> None:
        self._status = status
        self._reason = reason if reason is not None else REASON_PHRASES.get(status, "")
        self._headers: CIMultiDict[str] = CIMultiDict(headers) if headers else CIMultiDict()

    # status and headers -----------------------------------------------------------

    @property
    def status(self) -> int:
        """The status code."""
        return self._status

    @property
    def reason(self) -> str:
        """The reason phrase."""
        return self._reason

    def set_status(self, status: int, reason: str | None = None) -> None:
        """Change status and reason; only before :meth:`prepare`."""
        self._check_not_prepared()
        self._status = status
        self._reason = reason if reason is not None else reason_phrase(status)

    @property
    def headers(self) -> CIMultiDict[str]:
        """The response headers, editable until :meth:`prepare`."""
        return self._headers

    @property
    def content_type(self) -> str:
        """The media type of ``Content-Type`` without parameters."""
        return self._headers.get("Content-Type", "application/octet-stream").split(";")[0].strip()

    @content_type.setter
    def content_type(self, value: str) -> None:
        self._set_content_type(value, self.charset)

    @property
    def charset(self) -> str | None:
        """The ``charset`` parameter of ``Content-Type``, or ``None``."""
        return charset_param(self._headers.get("Content-Type", ""))

    @charset.setter
    def charset(self, value: str | None) -> None:
        self._set_content_type(self.content_type, value)

    def _set_content_type(self, media_type: str, charset: str | None) -> None:
        value = f"{media_type}; charset={charset}" if charset else media_type
        self._headers["Content-Type"] = value

    @property
    def content_length(self) -> int | None:
        """The ``Content-Length`` header as an int, or ``None``."""
        value = self._headers.get("Content-Length")
        return int(value) if value is not None else None

    @content_length.setter
    def content_length(self, value: int | None) -> None:
        if value is None:
            self._headers.pop("Content-Length", None)
        elif self._chunked:
            raise RuntimeError("Content-Length cannot be set on a chunked response")
        else:
            self._headers["Content-Length"] = str(int(value))

    @property
    def cookies(self) -> SimpleCookie:
        """Cookies to send as ``Set-Cookie`` headers."""
        if self._cookies is None:
            self._cookies = SimpleCookie()
        return self._cookies

    def set_cookie(
        self,
        name: str,
        value: str,
        *,
        expires: str | None = None,
        domain: str | None = None,
        max_age: int | str | None = None,
        path: str = "/",
        secure: bool | None = None,
        httponly: bool | None = None,
        samesite: str | None = None,
    ) -> None:
        """Add a ``Set-Cookie`` for ``name`` with the given attributes."""
        self.cookies[name] = value
        morsel: Morsel[str] = self.cookies[name]
        attributes = {
            "expires": expires,
            "domain": domain,
            "max-age": max_age,
            "path": path,
            "secure": secure,
            "httponly": httponly,
            "samesite": samesite,
        }
        for key, val in attributes.items():
            if val is not None and val is not False:
                morsel[key] = str(val) if val is not True else True

    def del_cookie(self, name: str, *, domain: str | None = None, path: str = "/") -> None:
        """Tell the client to drop cookie ``name`` (an expired, empty cookie)."""
        self.cookies.pop(name, None)
        self.set_cookie(
            name, "", max_age=0, expires="Thu, 01 Jan 1970 00:00:00 GMT", domain=domain, path=path
        )

    # framing choices ----------------------------------------------------------------

    def enable_chunked_encoding(self) -> None:
        """Send the body with ``Transfer-Encoding: chunked`` (HTTP/1.1 only)."""
        if "Content-Length" in self._headers:
            raise RuntimeError("chunked encoding cannot be used with a Content-Length")
        self._chunked = True

    def enable_compression(self, force: str | ContentCoding | None = None) -> None:
        """Compress the body with gzip or deflate, as the request's Accept-Encoding allows.

        ``force`` (``"gzip"`` or ``"deflate"``, or a :class:`ContentCoding`)
        compresses regardless of the request.
        """
        if isinstance(force, ContentCoding):
            force = None if force is ContentCoding.identity else force.value
        if force not in (None, "gzip", "deflate"):
            raise ValueError("force must be 'gzip', 'deflate' or None")
        self._compression = True
        self._compression_force = force

    def force_close(self) -> None:
        """Close the connection after this response instead of keeping it alive."""
        self._force_close = True

    @property
    def keep_alive(self) -> bool | None:
        """Whether the connection stays open after this response (known after prepare)."""
        return self._keep_alive

    @property
    def chunked(self) -> bool:
        """True when the body is sent chunked."""
        return self._chunked

    @property
    def compression(self) -> bool:
        """True when compression was enabled."""
        return self._compression

    @property
    def prepared(self) -> bool:
        """True once the head was sent."""
        return self._channel is not None

    def _check_not_prepared(self) -> None:
        if self._channel is not None:
            raise RuntimeError("the response head was already sent")
