"""Scheduled restore tests from the handlers: started after a schedule's Completed backup,
judged when the test's Restore finishes (and at each schedule look), each with an Event on the
Schedule and the schedule's restore test metrics.

One thing at a time per schedule: a judgement waits for claims to bind and for its cleanup
(a minute or two), and a second one started meanwhile (the Restore's handler and a schedule
look both judge) would find the claims already deleted and judge a test of nothing. A look
that finds one running leaves the work to it."""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import cast

import kopf

from ark import control
from ark.kube import KubeError
from ark.operator import metrics, restore_tests, runtime

_log = logging.getLogger("ark.operator")
_busy: dict[str, asyncio.Lock] = {}
"""Per schedule: held while its restore test is started, judged or tidied."""


def _lock(schedule: str) -> asyncio.Lock:
    return _busy.setdefault(schedule, asyncio.Lock())


async def start(schedule: str, backup: str) -> None:
    rt = runtime.current()
    try:
        async with _lock(schedule):
            outcome = await asyncio.to_thread(
                restore_tests.start, rt.client, rt.namespace, schedule, backup
            )
    except KubeError as exc:
        _log.warning("schedule %s: restore test of %s not started: %s", schedule, backup, exc)
        return
    if outcome is not None:
        await _say(outcome)


async def judge(schedule: str, *, wait: bool = True) -> None:
    """Judge the schedule's test once its Restore finished; ``wait=False`` (a schedule look):
    not while another start, judgement or cleanup of the schedule runs."""
    rt = runtime.current()
    lock = _lock(schedule)
    if not wait and lock.locked():
        return
    try:
        async with lock:
            outcome = await asyncio.to_thread(
                restore_tests.judge, rt.client, rt.namespace, schedule
            )
    except KubeError as exc:
        _log.warning("schedule %s: restore test not judged: %s", schedule, exc)
        return
    if outcome is not None:
        await _say(outcome)


async def tidy(schedule: str) -> None:
    """Another attempt at deleting what the schedule's judged restore test left behind (none
    while another start, judgement or cleanup of the schedule runs)."""
    rt = runtime.current()
    lock = _lock(schedule)
    if lock.locked():
        return
    try:
        async with lock:
            outcome = await asyncio.to_thread(
                functools.partial(
                    restore_tests.tidy,
                    rt.client,
                    rt.namespace,
                    schedule,
                    retry_seconds=rt.settings.schedule_interval * restore_tests.RETRY_LOOKS,
                )
            )
    except KubeError as exc:
        _log.warning("schedule %s: restore test cleanup not retried: %s", schedule, exc)
        return
    if outcome is None:
        return
    metrics.restore_test_cleanup(schedule=schedule, left=len(outcome.left_behind))
    obj = await rt.get(control.SCHEDULE, schedule)
    if obj is None:
        return
    body = kopf.Body(cast("kopf.RawBody", obj))
    if outcome.cleaned:
        kopf.info(
            body,
            reason="RestoreTestCleanedUp",
            message=f"restore test {outcome.restore}: everything it made is deleted",
        )
    elif outcome.cleanup_errors:
        kopf.warn(body, reason="RestoreTestCleanupFailed", message=_left(outcome))


def _left(outcome: restore_tests.Outcome) -> str:
    return f"restore test {outcome.restore} left behind: {'; '.join(outcome.left_behind)}"


async def _say(outcome: restore_tests.Outcome) -> None:
    """The Event on the Schedule and, for a verdict, the metrics."""
    obj = await runtime.current().get(control.SCHEDULE, outcome.schedule)
    if outcome.phase in (restore_tests.PASSED, restore_tests.FAILED):
        passed = outcome.phase == restore_tests.PASSED
        metrics.restore_tested(schedule=outcome.schedule, passed=passed, seconds=outcome.seconds)
        metrics.restore_test_cleanup(schedule=outcome.schedule, left=len(outcome.left_behind))
    if obj is None:
        return
    body = kopf.Body(cast("kopf.RawBody", obj))
    if outcome.left_behind:
        kopf.warn(body, reason="RestoreTestCleanupFailed", message=_left(outcome))
    if outcome.phase == restore_tests.FAILED:
        kopf.warn(body, reason="RestoreTestFailed", message=outcome.message)
    elif outcome.phase == restore_tests.PASSED:
        kopf.info(body, reason="RestoreTestPassed", message=outcome.message)
    elif outcome.phase == restore_tests.SKIPPED:
        kopf.info(body, reason="RestoreTestSkipped", message=outcome.message)
    else:
        kopf.info(body, reason="RestoreTestStarted", message=outcome.message)
