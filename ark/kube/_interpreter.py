"""Interpreter-wide settings that bulk listing changes while it needs them.

Each is held by any number of threads at once: the first changes it, the last puts back what
was there before the first.
"""

from __future__ import annotations

import gc
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

SWITCH_INTERVAL = 0.0002
"""The thread switch interval (seconds) while pages are read ahead."""
LONGEST_PAUSE = 2.0
"""Seconds the collector stays paused while holders overlap, before one collection runs."""


class _Held:
    def __init__(
        self,
        change: Callable[[], Callable[[], None]],
        *,
        joined: Callable[[], None] | None = None,
    ) -> None:
        self._change = change  # makes the change, returns what undoes it
        self._joined = joined  # called when a holder joins a change already made
        self._lock = threading.Lock()
        self._users = 0
        self._undo: Callable[[], None] = _nothing

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._lock:
            first = self._users == 0
            if first:
                self._undo = self._change()
            self._users += 1
        if not first and self._joined is not None:
            # Outside the lock: it may collect, and a collection runs finalizers, which may be
            # another holder's (a generator's) way out through this lock, in this very thread.
            self._joined()
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0:
                    undo, self._undo = self._undo, _nothing
                    undo()


def _nothing() -> None:
    pass


def _short_switch_interval() -> Callable[[], None]:
    saved = sys.getswitchinterval()
    sys.setswitchinterval(min(saved, SWITCH_INTERVAL))
    return lambda: sys.setswitchinterval(saved)


class _CollectorPause:
    def __init__(self) -> None:
        self.since: float | None = None  # when this pause began; None: not paused by it

    def change(self) -> Callable[[], None]:
        if not gc.isenabled():  # someone else's choice: leave it alone
            return _nothing
        gc.disable()
        self.since = time.monotonic()
        return self._resume

    def _resume(self) -> None:
        self.since = None
        gc.enable()

    def joined(self) -> None:
        """Holders in several threads can keep the pause going without a break: then collect
        once in a while, so cycles made elsewhere in the process do not pile up meanwhile."""
        since = self.since
        if since is not None and time.monotonic() - since > LONGEST_PAUSE:
            self.since = time.monotonic()  # before collecting: one holder collects, not each
            gc.collect()


_COLLECTOR = _CollectorPause()


responsive_switching = _Held(_short_switch_interval).held
"""A short thread switch interval, for a thread reading ahead while another computes.

The API server sends a page in small TLS records, and the thread reading it needs the GIL back
after each; with the default switch interval a page read ahead next to a busy thread comes in
far more slowly than the server sends it. A short interval lets it come in meanwhile
(docs/performance.md has the figures).
"""

collector_paused = _Held(_COLLECTOR.change, joined=_COLLECTOR.joined).held
"""The cyclic garbage collector paused while a page is parsed and worked on, until its
objects are freed.

A page of objects is thousands of new dicts and lists, none in a cycle. Without the pause
every few hundred of them start a collection that walks them all again, and now and then one
that walks every live object of the process. Freed before the collector resumes, they cost
none (docs/performance.md has the figures).
"""
