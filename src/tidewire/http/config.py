"""Every limit and option of the HTTP server, in one place, with its default.

A :class:`ServerConfig` is built once per :class:`~tidewire.server.Server` and
shared, read-only, by all of its connections.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

__all__ = ["DEFAULT_ACCESS_LOG_FORMAT", "ServerConfig"]

#: The default access logger, ``tidewire.access``.
ACCESS_LOGGER = logging.getLogger("tidewire.access")
#: The default logger of handler failures, ``tidewire.server``.
SERVER_LOGGER = logging.getLogger("tidewire.server")
DEFAULT_ACCESS_LOG_FORMAT = '%a %t "%r" %s %b "%{Referer}i" "%{User-Agent}i"'


@dataclass(frozen=True)
class ServerConfig:
    """Limits and behaviour switches of a server (all sizes in bytes, times in seconds).

    The names that aiohttp's low-level server also has keep aiohttp's meaning.
    """

    #: Longest request line (method, target, version); a longer one is answered 414.
    max_line_size: int = 8190
    #: Longest single header name or value; a longer one is answered 431.
    max_field_size: int = 8190
    #: Most header fields in one request; more is answered 431.
    max_headers: int = 100
    #: Largest whole request head (request line plus every header); larger is answered 431.
    max_head_size: int = 65536
    #: Largest body :meth:`BaseRequest.read`, ``text``, ``json`` and ``post`` accept (413 past
    #: it). Streaming through ``request.content`` is not capped in total, only flow-controlled.
    client_max_size: int = 1024**2
    #: Request body bytes buffered before the server stops reading from the socket.
    read_buffer_limit: int = 256 * 1024
    #: Requests parsed ahead of the one being handled (pipelining) before parsing and
    #: reading pause (give or take the requests in one 16 KiB slice of input).
    max_pipelined: int = 16
    #: Unread request body the server discards after the response to keep the connection;
    #: a larger remainder closes the connection instead.
    max_discard: int = 256 * 1024
    #: Seconds an idle keep-alive connection is kept open.
    keepalive_timeout: float = 75.0
    #: Seconds a client has to send a whole request head once it started one (slowloris);
    #: answered 408 and closed.
    head_timeout: float = 15.0
    #: Decode ``Content-Encoding: gzip``/``deflate``/``br`` request bodies as they are read
    #: (the decoded size is what ``client_max_size`` bounds). ``False``: bodies as sent.
    auto_decompress: bool = True
    #: Seconds a handler waits for the next piece of a request body before 408.
    body_timeout: float = 60.0
    #: Slowest average request body rate, in bytes per second, once ``body_rate_grace``
    #: has passed since the handler began reading: a slower body (R.U.D.Y.) is answered
    #: 408 and the connection closed. Time the server spent not reading (its buffer was
    #: full) does not count. ``None``: no minimum (``body_timeout`` still applies).
    min_body_rate: float | None = 500.0
    #: Seconds a request body may take before ``min_body_rate`` applies.
    body_rate_grace: float = 10.0
    #: Seconds :meth:`Server.shutdown` lets in-flight requests run before cancelling them.
    shutdown_timeout: float = 60.0
    #: Cancel the handler's task when its client disconnects.
    handler_cancellation: bool = False
    #: Put the traceback of an unhandled exception in the 500 body.
    debug: bool = False
    #: Log each request on ``access_log`` (``None``: no access log).
    access_log: logging.Logger | None = ACCESS_LOGGER
    #: Format of an access log line (aiohttp's ``%`` directives).
    access_log_format: str = DEFAULT_ACCESS_LOG_FORMAT
    #: Value of the ``Server`` response header (``""``: none).
    server_header: str = "tidewire"
    #: Where handler failures are logged (aiohttp's ``logger``).
    logger: logging.Logger = SERVER_LOGGER
    #: Accepted for aiohttp compatibility, no effect: aiohttp reads a closing client's
    #: leftover body for up to this many seconds; tidewire bounds that in bytes
    #: (``max_discard``) and closes at once past it.
    lingering_time: float = 10.0
    #: Accepted for aiohttp compatibility, no effect: aiohttp rounds timeouts above this
    #: many seconds up to whole seconds to batch timer wake-ups; tidewire's deadlines
    #: already use one timer per connection.
    timeout_ceil_threshold: float = 5.0

    def __post_init__(self) -> None:
        for name in (
            "max_line_size",
            "max_field_size",
            "max_headers",
            "max_head_size",
            "client_max_size",
            "read_buffer_limit",
            "max_pipelined",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.min_body_rate is not None and self.min_body_rate <= 0:
            raise ValueError("min_body_rate must be positive or None")
        if self.body_rate_grace < 0:
            raise ValueError("body_rate_grace must not be negative")
