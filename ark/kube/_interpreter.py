"""Interpreter-wide settings that bulk listing changes while it needs them.

Each is held by any number of threads at once: the first changes it, the last puts back what
was there before the first.
"""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

SWITCH_INTERVAL = 0.0002
"""The thread switch interval (seconds) while pages are read ahead."""


class _Held:
    def __init__(self, change: Callable[[], Callable[[], None]]) -> None:
        self._change = change  # makes the change, returns what undoes it
        self._lock = threading.Lock()
        self._users = 0
        self._undo: Callable[[], None] = _nothing

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._lock:
            if self._users == 0:
                self._undo = self._change()
            self._users += 1
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0:
                    self._undo()
                    self._undo = _nothing


def _nothing() -> None:
    pass


def _short_switch_interval() -> Callable[[], None]:
    saved = sys.getswitchinterval()
    sys.setswitchinterval(min(saved, SWITCH_INTERVAL))
    return lambda: sys.setswitchinterval(saved)


def _collector_paused() -> Callable[[], None]:
    if not gc.isenabled():  # someone else's choice: leave it alone
        return _nothing
    gc.disable()
    return gc.enable


responsive_switching = _Held(_short_switch_interval).held
"""A short thread switch interval, for a thread reading ahead while another computes.

The API server sends a page in small TLS records (its HTTP server writes chunks of 2 KiB), and
the thread reading it needs the GIL back after each. While the caller works on the current page
in Python, each of those waits up to the switch interval (5 ms by default): a 250 KiB page then
comes in more slowly than the server sends it and reading ahead gains little (measured: a
fetch took 118 ms instead of 6 next to a busy thread). At 0.2 ms it comes in meanwhile.
"""

collector_paused = _Held(_collector_paused).held
"""The cyclic garbage collector paused, while a page is parsed.

A page of 500 objects is ~20,000 new dicts and lists, none in a cycle, and without the pause
each 700 of them start a collection, some of which walk every live object of a process that
has the kubernetes client loaded: parsing took twice as long (measured: 4.5 ms a page, 2 ms
paused).
"""
