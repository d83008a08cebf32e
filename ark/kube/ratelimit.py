"""A client-side request rate limit (client-go's ``--kube-api-qps``/``--kube-api-burst``).

The API server protects itself with Priority and Fairness (429s, which the client honours);
this limit lets an operator be gentler still: a backup of a large cluster at a few requests a
second instead of as fast as the server answers.
"""

from __future__ import annotations

import threading
import time


class TokenBucket:
    """``qps`` requests a second on average, at most ``burst`` at once. Thread-safe: callers
    that find the bucket empty reserve the next token and sleep until it is theirs."""

    def __init__(self, *, qps: float, burst: int = 1) -> None:
        if qps <= 0:
            raise ValueError(f"qps must be positive, not {qps}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, not {burst}")
        self.qps = qps
        self.burst = burst
        self._tokens = float(burst)
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> float:
        """Wait for one token; return the seconds waited."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.qps)
            self._last = now
            self._tokens -= 1
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self.qps
        if wait:
            time.sleep(wait)
        return wait
