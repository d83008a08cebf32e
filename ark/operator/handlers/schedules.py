"""Schedule timer: one look per ``--schedule-interval``; cron decides whether it is a tick."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import kopf

from ark import control
from ark.operator import metrics, restore_tests, runtime, scheduling
from ark.operator.handlers import restore_testing


async def tick(body: kopf.Body, name: str, **_: Any) -> None:
    """Timer: a Schedule's due backup, if its cron time has come, and its status."""
    rt = runtime.current()
    obj = await rt.get(control.SCHEDULE, name)
    if obj is None or obj["metadata"].get("deletionTimestamp"):
        return
    outcome = await asyncio.to_thread(
        scheduling.tick,
        rt.client,
        rt.namespace,
        obj,
        now=dt.datetime.now(dt.UTC),
        cron_seconds=rt.settings.cron_seconds,
    )
    current = obj.get("status") or {}
    metrics.schedule_seen(
        schedule=name, last_success=control.parse_time(current.get("lastSuccessfulBackup"))
    )
    log_status = await asyncio.to_thread(
        rt.changelogs.reconcile, {**obj, "status": {**current, **outcome.status}}
    )
    if log_status is not None or current.get("changeLog") is not None:
        outcome.status["changeLog"] = log_status
    changed = {k: v for k, v in outcome.status.items() if current.get(k) != v}
    if changed:
        await rt.patch_status(control.SCHEDULE, name, changed)
    test = current.get("restoreTest") or {}
    if test.get("phase") == restore_tests.IN_PROGRESS:
        # One whose Restore finished while the operator was down (not one being judged now).
        await restore_testing.judge(name, wait=False)
    elif test.get("leftBehind") or test.get("cleanup"):
        await restore_testing.tidy(name)  # what a judged test could not delete yet
    if outcome.invalid and current.get("phase") != "FailedValidation":
        kopf.warn(body, reason="FailedValidation", message="; ".join(outcome.invalid))
    if outcome.created:
        kopf.info(body, reason="BackupCreated", message=f"created backup {outcome.created}")
    if outcome.skipped:
        kopf.info(
            body,
            reason="TickSkipped",
            message=f"tick skipped: the previous backup {outcome.skipped} still runs",
        )


async def forget(name: str, **kwargs: Any) -> None:
    """Event: a deleted Schedule's change log watcher stops (its open segment stored)."""
    if kwargs.get("type") == "DELETED":
        await asyncio.to_thread(runtime.current().changelogs.stop, name)
