"""Interpreter-wide settings held while bulk listing needs them: changed by the first holder,
put back by the last, and someone else's choice left alone."""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Iterator

import pytest

from ark.kube import _interpreter
from ark.kube._interpreter import SWITCH_INTERVAL, collector_paused, responsive_switching


def test_the_collector_is_paused_until_the_last_holder_is_done() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer holder still parses
    assert gc.isenabled()


def test_a_collector_someone_else_disabled_stays_disabled() -> None:
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_an_error_inside_still_restores() -> None:
    before = sys.getswitchinterval()
    with pytest.raises(RuntimeError), responsive_switching():
        assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL)
        raise RuntimeError("boom")
    assert sys.getswitchinterval() == before


def test_holders_in_threads_overlap() -> None:
    before = sys.getswitchinterval()
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        with responsive_switching():
            inside.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    assert inside.wait(10)
    with responsive_switching():
        pass
    assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL)  # the thread holds it
    release.set()
    thread.join()
    assert sys.getswitchinterval() == before


def test_a_holder_the_periodic_collection_finalizes_lets_go(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A generator holding the pause, dropped in a reference cycle, is closed by the collection
    the next holder runs after a long pause; its way out takes the same lock, in that thread."""
    monkeypatch.setattr(_interpreter, "LONGEST_PAUSE", 0.0)
    finalized = threading.Event()

    def holding() -> Iterator[None]:
        try:
            with collector_paused():
                yield
        finally:
            finalized.set()

    def later_holder() -> None:
        gen = holding()
        next(gen)
        cycle: list[object] = [gen]
        cycle.append(cycle)  # only a collection frees it
        del gen, cycle
        with collector_paused():
            pass

    thread = threading.Thread(target=later_holder, daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), "the holder waits for itself"
    assert finalized.is_set()
    assert gc.isenabled()
