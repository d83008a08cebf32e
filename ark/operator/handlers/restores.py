"""Restore handler: run new (and interrupted) restores, several at once when their target
namespaces differ."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import time
from typing import Any

import kopf

import ark.restore
from ark import control
from ark.operator import metrics, restore_tests, restores, runtime, status
from ark.operator.handlers import restore_testing
from ark.restore import RestoreResult

_log = logging.getLogger("ark.operator")


async def _get(name: str) -> dict[str, Any] | None:
    return await runtime.current().get(control.RESTORE, name)


async def _patch(name: str, patch: dict[str, Any]) -> None:
    await runtime.current().patch_status(control.RESTORE, name, patch)


async def reconcile(body: kopf.Body, name: str, **_: Any) -> None:
    """Run the restore unless it already finished (on create, and on resume after a restart)."""
    rt = runtime.current()
    obj = await _get(name)
    if obj is None or restores.is_finished(obj) or obj["metadata"].get("deletionTimestamp"):
        return
    if (given_up := status.interrupted_too_often(obj, limit=rt.settings.max_attempts)) is not None:
        await _patch(name, given_up)
        kopf.warn(body, reason="Failed", message=given_up["failureReason"])
        return
    plan = await asyncio.to_thread(restores.validate, rt.client, rt.namespace, obj)
    if plan.errors:
        await _patch(name, restores.failed_validation_status(plan.errors, plan.backup_name))
        metrics.RESTORE_VALIDATION_FAILURE.inc()
        kopf.warn(body, reason="FailedValidation", message="; ".join(plan.errors))
        return
    assert plan.spec is not None
    async with rt.restores, rt.restore_targets.hold(restores.targets(plan.spec)):
        obj = await _get(name)
        if obj is None or restores.is_finished(obj):
            return
        await _start(body, obj, plan)
        began = time.monotonic()
        result = await _run(body, name, plan, uid=obj["metadata"].get("uid"))
        if result is None:
            return
        await _patch(name, restores.final_status(result))
        result.outcomes.close()  # read for the last time: its file goes now
    metrics.restore_finished(
        phase=str(result.phase),
        seconds=time.monotonic() - began,
        items=result.progress.items_restored,
    )
    _say_finished(body, result)
    schedule = (obj["metadata"].get("labels") or {}).get(restore_tests.TEST_LABEL)
    if schedule:
        await restore_testing.judge(schedule)


async def _start(body: kopf.Body, obj: dict[str, Any], plan: restores.Plan) -> None:
    """Status InProgress with the next attempt's number, its Event and its metric."""
    start = restores.start_status(obj, plan, now=dt.datetime.now(dt.UTC))
    await _patch(obj["metadata"]["name"], start)
    attempt = start["attempt"]
    kopf.info(
        body,
        reason="Started" if attempt == 1 else "Restarted",
        message=f"restoring backup {plan.backup_name}"
        + (f" at {control.timestamp(plan.point_in_time.at)}" if plan.point_in_time else "")
        + (f" (attempt {attempt})" if attempt > 1 else ""),
    )
    metrics.RESTORE_ATTEMPTS.inc()


async def _run(
    body: kopf.Body, name: str, plan: restores.Plan, *, uid: str | None
) -> RestoreResult | None:
    """The engine in a thread, its progress written to status as it goes; None when it
    raised (a bug: reported rather than retried forever). ``uid`` (the Restore's) tags what
    the engine makes in the cloud, so a restarted attempt adopts it."""
    rt = runtime.current()
    assert plan.spec is not None and plan.store is not None and plan.backup_name is not None
    reporter = status.ProgressReporter(
        rt.client,
        control.RESTORE,
        rt.namespace,
        name,
        render=restores.progress_status,
        interval=rt.settings.progress_interval,
    )
    try:
        result: RestoreResult = await reporter.run_while(
            functools.partial(
                ark.restore.run,
                rt.client,
                plan.store,
                name=name,
                backup_name=plan.backup_name,
                spec=plan.spec,
                on_progress=reporter.update,
                workers=rt.settings.restore_workers,
                volumes=plan.volumes,
                modifiers=plan.modifiers,
                uid=uid,
                point_in_time=plan.point_in_time,
            )
        )
    except Exception as exc:
        _log.exception("restore %s: the engine failed", name)
        await _patch(name, status.internal_error(exc))
        kopf.warn(body, reason="Failed", message=f"internal error: {exc}")
        return None
    return result


def _say_finished(body: kopf.Body, result: RestoreResult) -> None:
    message = restores.summary(result)
    if result.failure_reason:
        kopf.warn(body, reason=str(result.phase), message=result.failure_reason)
    elif result.issues.errors:
        kopf.warn(body, reason=str(result.phase), message=message)
    else:
        kopf.info(body, reason=str(result.phase), message=message)
