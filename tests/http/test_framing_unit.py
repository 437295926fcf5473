"""The response framing decision as a table (RFC 9112 sections 6 and 9.3), no sockets."""

from __future__ import annotations

import pytest

from tidewire.http.framing import BodyFraming, Framing, decide_framing, status_has_body

NONE, LENGTH, CHUNKED, CLOSE = (
    BodyFraming.NONE,
    BodyFraming.LENGTH,
    BodyFraming.CHUNKED,
    BodyFraming.CLOSE,
)

# status, HEAD?, HTTP/1.1?, client keep-alive, known length, chunked asked, Connection: close
#   -> framing, Content-Length, body sent, keep-alive
TABLE = [
    # a body of known length, the usual case
    ((200, False, True, True, 5, False, False), (LENGTH, 5, True, True)),
    ((200, False, True, True, 0, False, False), (LENGTH, 0, True, True)),
    # streaming without a length: chunked on 1.1, close-delimited on 1.0
    ((200, False, True, True, None, False, False), (CHUNKED, None, True, True)),
    ((200, False, False, True, None, False, False), (CLOSE, None, True, False)),
    ((200, False, False, True, 5, False, False), (LENGTH, 5, True, True)),
    # chunked asked for: wins over a known length on 1.1 (never both), impossible on 1.0
    ((200, False, True, True, 5, True, False), (CHUNKED, None, True, True)),
    ((200, False, False, True, 5, True, False), (LENGTH, 5, True, True)),
    ((200, False, False, True, None, True, False), (CLOSE, None, True, False)),
    # HEAD: the headers a GET would have, no body, never close-delimited
    ((200, True, True, True, 5, False, False), (LENGTH, 5, False, True)),
    ((200, True, True, True, None, False, False), (CHUNKED, None, False, True)),
    ((200, True, False, True, None, False, False), (NONE, None, False, True)),
    # statuses without a body: no framing at all, whatever was asked
    ((204, False, True, True, 5, False, False), (NONE, None, False, True)),
    ((304, False, True, True, None, True, False), (NONE, None, False, True)),
    ((100, False, True, True, None, False, False), (NONE, None, False, True)),
    ((101, False, True, True, None, False, False), (NONE, None, False, False)),
    # keep-alive: the client, the server and the response's own Connection header
    ((200, False, True, False, 5, False, False), (LENGTH, 5, True, False)),
    ((200, False, True, True, 5, False, True), (LENGTH, 5, True, False)),
    ((204, False, True, True, None, False, True), (NONE, None, False, False)),
    ((500, False, True, False, None, False, False), (CHUNKED, None, True, False)),
]


@pytest.mark.parametrize(("given", "expected"), TABLE)
def test_decide_framing(
    given: tuple[int, bool, bool, bool, int | None, bool, bool],
    expected: tuple[BodyFraming, int | None, bool, bool],
) -> None:
    status, head, http11, keep_alive, length, chunked, close = given
    decided = decide_framing(
        status=status,
        head_request=head,
        http11=http11,
        keep_alive=keep_alive,
        length=length,
        chunked=chunked,
        connection_close=close,
    )
    assert decided == Framing(*expected)


@pytest.mark.parametrize("given", [row[0] for row in TABLE])
def test_exactly_one_framing_and_close_delimited_never_kept_alive(
    given: tuple[int, bool, bool, bool, int | None, bool, bool],
) -> None:
    status, head, http11, keep_alive, length, chunked, close = given
    decided = decide_framing(
        status=status,
        head_request=head,
        http11=http11,
        keep_alive=keep_alive,
        length=length,
        chunked=chunked,
        connection_close=close,
    )
    assert (decided.length is not None) <= (decided.framing is LENGTH)
    assert not (decided.framing is CLOSE and decided.keep_alive)
    assert not (decided.framing is CHUNKED and not http11)
    assert decided.send_body <= (status_has_body(status) and not head)


@pytest.mark.parametrize(
    ("status", "has_body"), [(100, False), (101, False), (200, True), (204, False), (304, False)]
)
def test_status_has_body(status: int, has_body: bool) -> None:
    assert status_has_body(status) is has_body
