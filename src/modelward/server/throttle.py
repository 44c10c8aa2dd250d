"""Wrong secrets are throttled: after :data:`MAX_FAILURES` wrong tokens from one client address within
:data:`WINDOW_S` seconds, that client's further attempts are refused with 429 (and ``Retry-After``) until
the oldest failure leaves the window, whatever token they carry.

Why this exists: the admin token guards promotions, rollbacks and retraining, and the console's sign-in
form and the bearer-token endpoints answer in microseconds; without a limit a client could try tokens as
fast as the server answers. The right token still works for every other client, so one attacker cannot
lock the operators out. Memory is bounded: at most :data:`MAX_CLIENTS` addresses are remembered (the
ones seen longest ago are forgotten first).

>>> now = [0.0]
>>> attempts = FailedAttempts(max_failures=2, window_s=60, clock=lambda: now[0])
>>> attempts.failed("10.0.0.1"); attempts.failed("10.0.0.1")
>>> attempts.wait("10.0.0.1"), attempts.wait("10.0.0.2")
(60.0, None)
>>> now[0] = 61.0
>>> attempts.wait("10.0.0.1") is None
True
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable

from modelward.errors import ModelwardError

__all__ = ["MAX_CLIENTS", "MAX_FAILURES", "WINDOW_S", "FailedAttempts", "TooManyAttemptsError"]

MAX_FAILURES = 10
WINDOW_S = 60.0
MAX_CLIENTS = 10_000


class TooManyAttemptsError(ModelwardError):
    code = "too_many_attempts"
    status_code = 429


class FailedAttempts:
    """Wrong-secret attempts per client address, over a sliding window (see the module docstring)."""

    def __init__(
        self,
        *,
        max_failures: int = MAX_FAILURES,
        window_s: float = WINDOW_S,
        max_clients: int = MAX_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.max_clients = max_clients
        self.clock = clock
        self._failures: collections.OrderedDict[str, collections.deque[float]] = collections.OrderedDict()
        self._lock = threading.Lock()

    def wait(self, client: str) -> float | None:
        """Seconds ``client`` must wait before its next attempt, or None when it may try now."""
        now = self.clock()
        with self._lock:
            times = self._failures.get(client)
            if times is None:
                return None
            while times and times[0] <= now - self.window_s:
                times.popleft()
            if not times:
                del self._failures[client]
                return None
            if len(times) < self.max_failures:
                return None
            return times[0] + self.window_s - now

    def failed(self, client: str) -> None:
        """Count one wrong secret from ``client``."""
        with self._lock:
            times = self._failures.pop(client, None) or collections.deque(maxlen=self.max_failures)
            times.append(self.clock())
            self._failures[client] = times  # most recently seen last
            while len(self._failures) > self.max_clients:
                self._failures.popitem(last=False)

    def check(self, client: str) -> None:
        """Raise :class:`TooManyAttemptsError` when ``client`` must wait."""
        seconds = self.wait(client)
        if seconds is not None:
            retry = max(1, int(seconds + 0.999))
            raise TooManyAttemptsError(
                f"Too many wrong tokens from this address: {self.max_failures} in {self.window_s:g} s. "
                f"Try again in {retry} s, with the right token.",
                details={"retry_after": retry},
            )
