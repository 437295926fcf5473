"""Reconnection policy of the WebSocket client, as pure values: how long to wait, whether to retry.

:func:`tidewire.connect` with ``reconnect=True`` asks :class:`Backoff` for the
delay before each new attempt and :func:`should_retry` whether a failed opening
is worth another; the asyncio loop that sleeps and opens lives in
:mod:`tidewire.ws.client`.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from .client_errors import WSConnectError, WSHandshakeRejected, WSOpenTimeout

__all__ = ["Backoff", "should_retry"]


class Backoff:
    """Exponential backoff with jitter.

    The n-th consecutive delay is ``initial * factor**(n-1)``, capped at
    ``maximum``, then multiplied by a random factor in ``[1 - jitter, 1 + jitter]``
    so that many clients dropped at once do not come back in step. The caller
    must :meth:`reset` it once a connection opened.
    """

    __slots__ = ("_attempt", "_random", "factor", "initial", "jitter", "maximum")

    def __init__(
        self,
        initial: float = 0.5,
        maximum: float = 30.0,
        factor: float = 2.0,
        jitter: float = 0.5,
        random_unit: Callable[[], float] = random.random,
    ) -> None:
        if initial < 0 or maximum < initial or factor < 1 or not 0 <= jitter <= 1:
            raise ValueError("need 0 <= initial <= maximum, factor >= 1 and 0 <= jitter <= 1")
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
        self._random = random_unit
        self._attempt = 0

    def next_delay(self) -> float:
        """Seconds to wait before the next attempt (grows with each call until :meth:`reset`)."""
        base = min(self.initial * self.factor**self._attempt, self.maximum)
        self._attempt += 1
        return base * (1 - self.jitter + 2 * self.jitter * self._random())

    def reset(self) -> None:
        """A connection opened: the next failure starts again from ``initial``."""
        self._attempt = 0


def should_retry(error: BaseException) -> bool:
    """Whether a failed opening may be retried.

    Unreachable servers, timeouts and 5xx (or other non-4xx) answers are
    transient. A 4xx answer says the request itself is refused (RFC 9110
    section 15.5), so retrying cannot help; nor can a redirect, an invalid
    upgrade or any other error.
    """
    if isinstance(error, WSHandshakeRejected):
        return not 400 <= error.status < 500
    return isinstance(error, WSConnectError | WSOpenTimeout)
