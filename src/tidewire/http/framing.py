"""How a response's body is delimited, and whether the connection outlives it.

Everything that decides a response's message framing lives in
:func:`decide_framing`, a pure function of plain values (after h11's
``_body_framing`` and ``_keep_alive``). The response object applies the
decision to its headers and writes; the protocol reads the keep-alive verdict.
Nothing here knows sockets or asyncio, so the rules are tested as a table.

The rules (RFC 9112 section 6 and 9.3, RFC 9110 section 6.4.1):

* Every 1xx, 204 and 304 response has no body and carries no
  ``Content-Length``, ``Transfer-Encoding`` nor ``Content-Type``.
* A response to HEAD has the framing headers a GET would have had (so a client
  learns the size) but no body bytes (``send_body`` is False); as nothing
  follows its head, it never needs to close the connection to end a body.
* Otherwise exactly one framing is used, never two: a chunked response is
  chunked (no ``Content-Length``), a response with a declared or known length
  sends exactly that many bytes, and anything else is chunked for HTTP/1.1 or
  ends when the connection closes for HTTP/1.0 (which has no chunked coding).
* The connection stays open only when the client allows it, the server is not
  closing it, the response does not say ``Connection: close``, the body does not
  end by closing, and the response is not a ``101`` (after which the connection
  belongs to another protocol, or is closed).
"""

from __future__ import annotations

import enum
from typing import NamedTuple

__all__ = ["NO_BODY_STATUSES", "BodyFraming", "Framing", "decide_framing", "status_has_body"]

#: Statuses whose responses never have a body (RFC 9110 sections 15.2, 15.3.5, 15.4.5).
#: 1xx are covered by :func:`status_has_body` too; the set lists the final ones.
NO_BODY_STATUSES = frozenset({204, 304})


class BodyFraming(enum.Enum):
    """How the end of a response body is found by the client."""

    #: No body bytes are sent (HEAD, 1xx, 204, 304).
    NONE = "none"
    #: ``Content-Length: n``, exactly n bytes follow.
    LENGTH = "length"
    #: ``Transfer-Encoding: chunked`` (HTTP/1.1 only).
    CHUNKED = "chunked"
    #: The body ends when the server closes the connection (HTTP/1.0 without a length).
    CLOSE = "close"


class Framing(NamedTuple):
    """The decision: how the body is framed, whether it is sent, and keep-alive.

    ``length`` is the ``Content-Length`` to send (``None``: send none).
    ``send_body`` is False for HEAD and the no-body statuses: the framing headers
    are sent (for HEAD) but no body byte.
    """

    framing: BodyFraming
    length: int | None
    send_body: bool
    keep_alive: bool


def status_has_body(status: int) -> bool:
    """True when a response with ``status`` may carry a body (not 1xx, 204 or 304)."""
    return status >= 200 and status not in NO_BODY_STATUSES


def decide_framing(
    status: int,
    head_request: bool,
    http11: bool,
    keep_alive: bool,
    length: int | None,
    chunked: bool,
    connection_close: bool,
) -> Framing:
    """Decide a response's framing from plain values.

    - ``status``: the response status; ``head_request``: the request was HEAD;
      ``http11``: the request was HTTP/1.1 (else 1.0).
    - ``keep_alive``: the client allows a persistent connection and the server is
      not closing it.
    - ``length``: the body length if known before the head is sent (a declared
      ``Content-Length`` or a whole body in memory), else ``None``.
    - ``chunked``: the handler asked for chunked coding.
    - ``connection_close``: the response's headers say ``Connection: close``.

    The caller must send exactly the headers the result implies (see the module
    docstring) and, for :attr:`BodyFraming.LENGTH`, never more than ``length``
    body bytes; a body that ends short must close the connection.
    """
    if status < 200 or status in NO_BODY_STATUSES:
        return Framing(
            BodyFraming.NONE, None, False, keep_alive and not connection_close and status != 101
        )
    keep_alive = keep_alive and not connection_close
    send_body = not head_request
    if chunked and http11:
        return Framing(BodyFraming.CHUNKED, None, send_body, keep_alive)
    if length is not None:
        return Framing(BodyFraming.LENGTH, length, send_body, keep_alive)
    if http11:
        return Framing(BodyFraming.CHUNKED, None, send_body, keep_alive)
    if head_request:
        return Framing(BodyFraming.NONE, None, False, keep_alive)
    return Framing(BodyFraming.CLOSE, None, True, False)
