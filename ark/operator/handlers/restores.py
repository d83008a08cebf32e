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
from ark.operator import metrics, restores, runtime, status

_log = logging.getLogger("ark.operator")


async def _get(name: str) -> dict[str, Any] | None:
    return await runtime.current().get(control.RESTORE, name)


async def _patch(name: str, patch: dict[str, Any]) -> None:
    await runtime.current().patch_status(control.RESTORE, name, patch)


async def reconcile(body: kopf.Body, name: str, **_: Any) -> None:
    rt = runtime.current()
    obj = await _get(name)
    if obj is None or restores.is_finished(obj) or obj["metadata"].get("deletionTimestamp"):
        return
    plan = await asyncio.to_thread(restores.validate, rt.client, rt.namespace, obj)
    if plan.errors:
        await _patch(name, restores.failed_validation_status(plan.errors, plan.backup_name))
        metrics.RESTORE_VALIDATION_FAILURE.inc()
        kopf.warn(body, reason="FailedValidation", message="; ".join(plan.errors))
        return
    assert plan.spec is not None and plan.store is not None and plan.backup_name is not None
    async with rt.restores, rt.restore_targets.hold(restores.targets(plan.spec)):
        obj = await _get(name)
        if obj is None or restores.is_finished(obj):
            return
        start = restores.start_status(obj, plan, now=dt.datetime.now(dt.UTC))
        await _patch(name, start)
        attempt = start["attempt"]
        kopf.info(
            body,
            reason="Started" if attempt == 1 else "Restarted",
            message=f"restoring backup {plan.backup_name}"
            + (f" (attempt {attempt})" if attempt > 1 else ""),
        )
        metrics.RESTORE_ATTEMPTS.inc()
        reporter = status.ProgressReporter(
            rt.client,
            control.RESTORE,
            rt.namespace,
            name,
            render=restores.progress_status,
            interval=rt.settings.progress_interval,
        )
        began = time.monotonic()
        try:
            result = await reporter.run_while(
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
                )
            )
        except Exception as exc:  # a bug: report it rather than retry forever
            _log.exception("restore %s: the engine failed", name)
            await _patch(
                name,
                {
                    "phase": "Failed",
                    "failureReason": f"internal error: {exc}",
                    "completionTimestamp": control.timestamp(),
                },
            )
            kopf.warn(body, reason="Failed", message=f"internal error: {exc}")
            return
        await _patch(name, restores.final_status(result))
    metrics.restore_finished(
        phase=str(result.phase),
        seconds=time.monotonic() - began,
        items=result.progress.items_restored,
    )
    message = (
        f"{result.phase}: {result.progress.items_restored} items, "
        f"{len(result.issues.warnings)} warnings, {len(result.issues.errors)} errors"
    )
    if result.failure_reason:
        kopf.warn(body, reason=str(result.phase), message=result.failure_reason)
    elif result.issues.errors:
        kopf.warn(body, reason=str(result.phase), message=message)
    else:
        kopf.info(body, reason=str(result.phase), message=message)
