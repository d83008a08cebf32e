"""Many blocks through a thread pool, with at most ``in_flight`` of them held at once.

What bounds a volume export's or import's memory: a block is read (or fetched) inside its
task, so the pool never holds more than ``in_flight`` blocks, however large the volume.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def bounded(
    task: Callable[[T], R],
    items: Iterable[T],
    *,
    workers: int,
    in_flight: int,
    name: str = "ark-blocks",
) -> Iterator[R]:
    """``task(item)`` for every item, on ``workers`` threads, yielded as they finish (not in
    order). ``items`` is consumed lazily: a new task starts only when fewer than ``in_flight``
    are unfinished. The first failure is raised; tasks not started then are cancelled."""
    _check(workers, in_flight)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name) as pool:
        pending: set[Future[R]] = set()
        try:
            for item in items:
                while len(pending) >= in_flight:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        yield future.result()
                pending.add(pool.submit(task, item))
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        finally:
            for future in pending:
                future.cancel()


def ordered(
    task: Callable[[T], R],
    items: Iterable[T],
    *,
    workers: int,
    in_flight: int,
    name: str = "ark-blocks",
) -> Iterator[R]:
    """As :func:`bounded`, but yielded in the order of ``items``: for a consumer that must
    take blocks in order (a stream), while ``workers`` threads fetch ahead of it. At most
    ``in_flight`` results are held, however slow the first."""
    _check(workers, in_flight)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name) as pool:
        window: deque[Future[R]] = deque()
        try:
            for item in items:
                if len(window) >= in_flight:
                    yield window.popleft().result()
                window.append(pool.submit(task, item))
            while window:
                yield window.popleft().result()
        finally:
            for future in window:
                future.cancel()


def _check(workers: int, in_flight: int) -> None:
    if workers < 1 or in_flight < 1:
        raise ValueError("workers and in_flight must be at least 1")
