"""The client-side rate limit: a burst goes at once, the rest at the configured rate, shared
by every thread of a client."""

from __future__ import annotations

import threading
import time

import pytest

from ark.kube.ratelimit import TokenBucket


def test_a_burst_is_free_and_the_rest_waits_its_turn() -> None:
    bucket = TokenBucket(qps=50, burst=5)
    waits = [bucket.take() for _ in range(5)]
    assert waits == [0.0] * 5
    started = time.monotonic()
    for _ in range(10):
        bucket.take()
    assert time.monotonic() - started >= 10 / 50 * 0.9


def test_threads_share_one_rate() -> None:
    bucket = TokenBucket(qps=100, burst=1)
    bucket.take()
    started = time.monotonic()
    threads = [threading.Thread(target=lambda: [bucket.take() for _ in range(5)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert time.monotonic() - started >= 20 / 100 * 0.9


@pytest.mark.parametrize(("qps", "burst"), [(0, 1), (-1, 1), (10, 0)])
def test_nonsense_limits_are_refused(qps: float, burst: int) -> None:
    with pytest.raises(ValueError, match=r"qps|burst"):
        TokenBucket(qps=qps, burst=burst)
