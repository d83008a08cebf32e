"""``--wait``: follow a Backup's or Restore's status until it finishes.

On a terminal: a live bar (items done/total, current resource or wave, rate, ETA). Otherwise
(a pipe, a CI log): plain lines, one when the phase changes and at most one every few seconds
while items move, without escape sequences. Then a summary; the caller turns the phase into
the exit status.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

from ark.api.kinds import Kind
from ark.cli import common, context, output
from ark.cli.context import Obj

PLAIN_EVERY = 2.0
"""Seconds between two plain progress lines while only the counts change."""
NEW_HINT_AFTER = 20.0
"""Seconds in phase New before saying the operator may not be running."""


@dataclass(frozen=True)
class Tracked:
    kind: Kind
    name: str
    done_field: str
    """``itemsBackedUp`` or ``itemsRestored``."""
    detail: Callable[[Obj], str]
    terminal: frozenset[str]


@dataclass
class Sample:
    phase: str
    done: int
    total: int
    detail: str


class Rate:
    """Items per second since the first item moved, and the time left at that rate."""

    def __init__(self) -> None:
        self._start: tuple[float, int] | None = None
        self.per_second: float | None = None

    def update(self, done: int, now: float) -> None:
        if self._start is None:
            if done > 0:
                self._start = (now, done)
            return
        elapsed = now - self._start[0]
        if elapsed > 0.5 and done > self._start[1]:
            self.per_second = (done - self._start[1]) / elapsed

    def eta(self, done: int, total: int) -> str:
        if not self.per_second or total <= done:
            return "-"
        return output.seconds((total - done) / self.per_second)

    def text(self) -> str:
        return "-" if self.per_second is None else f"{self.per_second:.0f} items/s"


def sample(obj: Obj, tracked: Tracked) -> Sample:
    status = obj.get("status") or {}
    progress = status.get("progress") or {}
    return Sample(
        phase=str(status.get("phase") or "New"),
        done=int(progress.get(tracked.done_field) or 0),
        total=int(progress.get("totalItems") or 0),
        detail=tracked.detail(obj),
    )


def wait(tracked: Tracked, *, poll: float = 0.3) -> Obj:
    """Poll until the object reaches a terminal phase; returns it then."""
    if output.console().is_terminal:
        return _wait_live(tracked, poll=poll)
    return _wait_plain(tracked, poll=poll)


def _fetch(tracked: Tracked) -> Obj:
    return common.get(tracked.kind, tracked.name)


class Waiting:
    """Says once when nothing has picked the object up for a while."""

    def __init__(self, tracked: Tracked, *, namespace: str, after: float = NEW_HINT_AFTER) -> None:
        self._tracked = tracked
        self._namespace = namespace
        self._after = after
        self._since = time.monotonic()
        self._said = False

    def hint(self, phase: str) -> str | None:
        """The hint, the first time the object is still New ``after`` seconds on."""
        if self._said or phase != "New" or time.monotonic() - self._since < self._after:
            return None
        self._said = True
        return (
            f"{common.label(self._tracked.kind)} {self._tracked.name} is still New after "
            f"{self._after:.0f}s: is the operator running for namespace {self._namespace}? "
            "(ark version shows it; Ctrl-C stops waiting, the request stays)"
        )


def _wait_live(tracked: Tracked, *, poll: float) -> Obj:
    rate = Rate()
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TextColumn("ETA {task.fields[eta]}"),
        TextColumn("{task.fields[detail]}", style="dim"),
    )
    what = f"{common.label(tracked.kind)} {tracked.name}"
    waiting = Waiting(tracked, namespace=context.settings().namespace)
    with Progress(*columns, console=output.console(), transient=False) as bar:
        task = bar.add_task(what, total=None, rate="-", eta="-", detail="")
        while True:
            obj = _fetch(tracked)
            s = sample(obj, tracked)
            if hint := waiting.hint(s.phase):
                bar.console.print(hint, style="yellow", markup=False)
            rate.update(s.done, time.monotonic())
            bar.update(
                task,
                description=f"{what} {s.phase}",
                completed=s.done,
                total=s.total or None,
                rate=rate.text(),
                eta=rate.eta(s.done, s.total),
                detail=s.detail,
            )
            if s.phase in tracked.terminal:
                return obj
            time.sleep(poll)


def _wait_plain(tracked: Tracked, *, poll: float) -> Obj:
    rate = Rate()
    last: Sample | None = None
    last_at = 0.0
    what = f"{common.label(tracked.kind)} {tracked.name}"
    waiting = Waiting(tracked, namespace=context.settings().namespace)
    while True:
        obj = _fetch(tracked)
        s = sample(obj, tracked)
        if hint := waiting.hint(s.phase):
            output.err_console().print(hint, markup=False)
        now = time.monotonic()
        rate.update(s.done, now)
        moved = last is None or (s.done, s.total) != (last.done, last.total)
        if (
            last is None
            or s.phase != last.phase
            or s.phase in tracked.terminal
            or (moved and now - last_at >= PLAIN_EVERY)
        ):
            output.echo(plain_line(what, s, rate))
            last, last_at = s, now
        if s.phase in tracked.terminal:
            return obj
        time.sleep(poll)


def plain_line(what: str, s: Sample, rate: Rate) -> str:
    parts = [f"{what}: {s.phase}"]
    if s.total:
        parts.append(f"{s.done}/{s.total} items ({100 * s.done // s.total}%)")
    elif s.done:
        parts.append(f"{s.done} items")
    if s.detail:
        parts.append(s.detail)
    if rate.per_second is not None:
        parts.append(rate.text())
        eta = rate.eta(s.done, s.total)
        if eta != "-":
            parts.append(f"ETA {eta}")
    return ", ".join(parts)


def summary(obj: Obj, tracked: Tracked) -> str:
    """One line: what finished, how, how much, how long."""
    status = obj.get("status") or {}
    s = sample(obj, tracked)
    took = output.took(status.get("startTimestamp"), status.get("completionTimestamp"))
    took = f" in {took}" if took else ""
    what = f"{tracked.kind.kind} {tracked.name}"
    counts = f"{s.done} of {s.total} items" if s.total else f"{s.done} items"
    return (
        f"{what} {s.phase}: {counts}{took}, "
        f"{status.get('warnings') or 0} warnings, {status.get('errors') or 0} errors"
    )


def problems(obj: Obj) -> list[str]:
    """Why it did not complete, as the status says."""
    status = obj.get("status") or {}
    lines = [f"validation error: {e}" for e in status.get("validationErrors") or []]
    if status.get("failureReason"):
        lines.append(f"failure: {status['failureReason']}")
    return lines
