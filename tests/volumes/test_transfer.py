"""The bounded pool behind export and import: never more than ``in_flight`` items taken from
the source at once (what bounds memory), every result delivered, the first failure raised."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from ark.persistence import transfer


def test_at_most_in_flight_items_are_taken_ahead_of_the_results() -> None:
    lock = threading.Lock()
    taken = done = most = 0

    def items() -> Iterator[int]:
        nonlocal taken, most
        for i in range(50):
            with lock:
                taken += 1
                most = max(most, taken - done)
            yield i

    def task(i: int) -> int:
        nonlocal done
        time.sleep(0.002 * (i % 3))
        with lock:
            done += 1
        return i * 2

    results = list(transfer.bounded(task, items(), workers=4, in_flight=6))
    assert sorted(results) == [i * 2 for i in range(50)]
    assert most <= 6 + 1  # the item just taken, waiting for a free place


def test_the_first_failure_is_raised_and_no_more_items_are_taken() -> None:
    taken: list[int] = []

    def items() -> Iterator[int]:
        for i in range(1000):
            taken.append(i)
            yield i

    def task(i: int) -> int:
        if i == 3:
            raise RuntimeError("block 3 unreadable")
        return i

    with pytest.raises(RuntimeError, match="block 3"):
        list(transfer.bounded(task, items(), workers=2, in_flight=2))
    assert len(taken) < 10


def test_ordered_yields_in_the_items_order_holding_at_most_in_flight() -> None:
    """The first item is the slowest: the others finish first, and wait for it in order."""
    lock = threading.Lock()
    started: list[int] = []

    def task(i: int) -> int:
        with lock:
            started.append(i)
        time.sleep(0.05 if i == 0 else 0.001)
        return i

    seen = []
    for result in transfer.ordered(task, range(40), workers=4, in_flight=5):
        seen.append(result)
        with lock:
            assert len(started) <= len(seen) + 5  # never more than in_flight ahead
    assert seen == list(range(40))
