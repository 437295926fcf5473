"""tidewire.ws.reconnect: the backoff and the retry decision, without sockets."""

from __future__ import annotations

import pytest

from tidewire.ws.client_errors import (
    WSConnectError,
    WSHandshakeRejected,
    WSInvalidUpgrade,
    WSOpenTimeout,
    WSRedirect,
)
from tidewire.ws.reconnect import Backoff, should_retry


def test_backoff_grows_exponentially_up_to_the_cap() -> None:
    backoff = Backoff(initial=0.5, maximum=4.0, factor=2.0, jitter=0.0)
    assert [backoff.next_delay() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    backoff.reset()
    assert backoff.next_delay() == 0.5


def test_backoff_jitter_spreads_within_bounds() -> None:
    low = Backoff(initial=1.0, jitter=0.5, random_unit=lambda: 0.0)
    high = Backoff(initial=1.0, jitter=0.5, random_unit=lambda: 0.999999)
    assert low.next_delay() == 0.5
    assert high.next_delay() == pytest.approx(1.5, abs=1e-5)
    delays = {Backoff(initial=1.0).next_delay() for _ in range(50)}
    assert len(delays) > 1 and all(0.5 <= d <= 1.5 for d in delays)


@pytest.mark.parametrize(
    "options", [{"initial": -1}, {"initial": 2, "maximum": 1}, {"factor": 0.5}, {"jitter": 2}]
)
def test_backoff_refuses_nonsense(options: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Backoff(**options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (WSConnectError("refused"), True),
        (WSOpenTimeout(), True),
        (WSHandshakeRejected(503), True),
        (WSHandshakeRejected(500), True),
        (WSHandshakeRejected(404), False),
        (WSHandshakeRejected(403), False),
        (WSHandshakeRejected(429), False),
        (WSRedirect(301, "ws://x/", WSHandshakeRejected(1).headers), False),
        (WSInvalidUpgrade("bad accept"), False),
        (ValueError("bad url"), False),
    ],
)
def test_should_retry(error: BaseException, retry: bool) -> None:
    assert should_retry(error) is retry
