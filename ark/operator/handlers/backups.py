"""Backup handlers: run new (and interrupted) backups, expire finished ones.

Deleting a Backup object deletes nothing else (see ``ark.operator.deletion``)."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import time
from typing import Any

import kopf

from ark import backup as engine
from ark import control, persistence
from ark.backup import BackupResult, SnapshotOptions, verify
from ark.kube import KubeError
from ark.operator import backups, deletion, metrics, runtime, scheduling, snapshots, status
from ark.operator.handlers import restore_testing

_log = logging.getLogger("ark.operator")

EXPIRED = "Expired"


async def _get(name: str) -> dict[str, Any] | None:
    return await runtime.current().get(control.BACKUP, name)


async def _patch(name: str, patch: dict[str, Any]) -> None:
    await runtime.current().patch_status(control.BACKUP, name, patch)


async def reconcile(body: kopf.Body, name: str, **_: Any) -> None:
    """Run the backup unless it already finished (on create, and on resume after a restart);
    a Backup backup sync made takes its status from the bucket instead."""
    rt = runtime.current()
    obj = await _get(name)
    if obj is None or backups.is_finished(obj) or obj["metadata"].get("deletionTimestamp"):
        return
    if (obj.get("status") or {}).get("phase") == "Deleting":
        return
    if (given_up := status.interrupted_too_often(obj, limit=rt.settings.max_attempts)) is not None:
        await _patch(name, given_up)
        kopf.warn(body, reason="Failed", message=given_up["failureReason"])
        return
    schedule = (obj["metadata"].get("labels") or {}).get(control.SCHEDULE_LABEL, "")
    if control.SYNCED_ANNOTATION in (obj["metadata"].get("annotations") or {}):
        from ark.operator import sync  # noqa: PLC0415 - rare path

        await asyncio.to_thread(sync.adopt, rt.client, rt.namespace, obj)
        return
    plan = await asyncio.to_thread(
        functools.partial(
            backups.validate,
            default_snapshot_locations=rt.settings.default_volume_snapshot_locations,
        ),
        rt.client,
        rt.namespace,
        obj,
    )
    if plan.errors:
        await _patch(name, backups.failed_validation_status(plan.errors))
        metrics.BACKUP_VALIDATION_FAILURE.labels(schedule).inc()
        kopf.warn(body, reason="FailedValidation", message="; ".join(plan.errors))
        return
    await _take(body, name, plan, schedule)


async def _take(body: kopf.Body, name: str, plan: backups.Plan, schedule: str) -> None:
    """A validated backup, once one of the ``--max-concurrent-backups`` slots is free: its
    status before, during and after the engine, then the schedule's retention."""
    rt = runtime.current()
    async with rt.backups:
        obj = await _get(name)
        if obj is None or backups.is_finished(obj):
            return
        earlier = snapshots.recorded(obj.get("status"))
        options = backups.snapshot_options(
            rt.client, rt.namespace, obj, plan, timeout=rt.settings.snapshot_timeout
        )
        await _start(body, obj, plan, schedule)
        assert plan.store is not None
        await asyncio.to_thread(backups.clear_marker, plan.store, name)
        began = time.monotonic()
        result = await _run(body, name, plan, options, uid=obj["metadata"].get("uid"))
        if result is None:
            return
        await _patch(name, backups.final_status(result, earlier_snapshots=earlier))
    metrics.backup_finished(
        schedule=schedule,
        phase=str(result.phase),
        seconds=time.monotonic() - began,
        items=result.progress.items_backed_up,
        completed=result.completed,
    )
    _say_finished(body, result)
    if schedule:
        if result.manifest_digest is not None and await asyncio.to_thread(
            scheduling.wants_verify, rt.client, rt.namespace, schedule
        ):
            assert plan.store is not None
            await _verify(body, name, plan.store, schedule)
        await _retain(body, schedule, result)
        if str(result.phase) == "Completed":
            await restore_testing.start(schedule, name)


async def _verify(
    body: kopf.Body, name: str, store: persistence.BackupStore, schedule: str
) -> None:
    """Verify the finished backup (its schedule's ``spec.verify``): status, metric, Event."""
    rt = runtime.current()
    began = time.monotonic()
    found = await asyncio.to_thread(verify.run, store, name)
    metrics.backup_verified(
        schedule=schedule,
        result=found.reason,
        seconds=time.monotonic() - began,
        when=found.completed or found.started,
    )
    try:
        await asyncio.to_thread(verify.write_status, rt.client, rt.namespace, found)
    except KubeError as exc:
        _log.warning("backup %s: cannot write its verification: %s", name, exc)
    if found.ok:
        kopf.info(body, reason="Verified", message=found.summary())
    else:
        problems = "; ".join(str(p) for p in found.problems[:5])
        kopf.warn(body, reason="VerificationFailed", message=f"{found.summary()}: {problems}")


async def _start(body: kopf.Body, obj: dict[str, Any], plan: backups.Plan, schedule: str) -> None:
    """Status InProgress with the next attempt's number, its Event and its metric."""
    assert plan.location is not None
    start = backups.start_status(obj, plan, now=dt.datetime.now(dt.UTC))
    await _patch(obj["metadata"]["name"], start)
    attempt = start["attempt"]
    kopf.info(
        body,
        reason="Started" if attempt == 1 else "Restarted",
        message=f"backup to {plan.location.name}"
        + (f" (attempt {attempt}, the previous one was interrupted)" if attempt > 1 else ""),
    )
    metrics.BACKUP_ATTEMPTS.labels(schedule).inc()


async def _run(
    body: kopf.Body,
    name: str,
    plan: backups.Plan,
    options: SnapshotOptions | None,
    *,
    uid: str | None,
) -> BackupResult | None:
    """The engine in a thread, its progress written to status as it goes; None when it
    raised (a bug, not a cluster or store problem: reported, not retried). ``uid`` (the
    Backup's) tags its snapshots, so a restarted attempt adopts those it did not record."""
    rt = runtime.current()
    assert plan.store is not None and plan.spec is not None and plan.location is not None
    spec = plan.spec.model_copy(update={"storage_location": plan.location.name})
    reporter = status.ProgressReporter(
        rt.client,
        control.BACKUP,
        rt.namespace,
        name,
        render=backups.progress_status,
        interval=rt.settings.progress_interval,
    )
    try:
        result: BackupResult = await reporter.run_while(
            functools.partial(
                engine.run,
                rt.client,
                plan.store,
                name=name,
                spec=spec,
                on_progress=reporter.update,
                workers=rt.settings.backup_workers,
                snapshots=options,
                page_size=rt.settings.client_page_size,
                uid=uid,
                lock=plan.location.spec.object_lock,
            )
        )
    except Exception as exc:
        _log.exception("backup %s: the engine failed", name)
        await _patch(name, status.internal_error(exc))
        kopf.warn(body, reason="Failed", message=f"internal error: {exc}")
        return None
    return result


def _say_finished(body: kopf.Body, result: BackupResult) -> None:
    message = backups.summary(result)
    if result.failure_reason:
        kopf.warn(body, reason=str(result.phase), message=result.failure_reason)
    elif result.errors:
        kopf.warn(body, reason=str(result.phase), message=message)
    else:
        kopf.info(body, reason=str(result.phase), message=message)


async def _retain(body: kopf.Body, schedule: str, result: BackupResult) -> None:
    """The schedule records its finished backup; a Completed one applies its retention."""
    rt = runtime.current()
    expired = await asyncio.to_thread(
        scheduling.after_backup,
        rt.client,
        rt.namespace,
        schedule,
        phase=str(result.phase),
        completed=result.completed,
    )
    if expired:
        kopf.info(
            body,
            reason="Retention",
            message=f"schedule {schedule} retention expires {', '.join(expired)}",
        )


async def collect_garbage(body: kopf.Body, name: str, **_: Any) -> None:
    """Timer: a finished backup past its expiration loses its data and goes, when this cluster
    wrote it; one written elsewhere is left to its writer, and says so once."""
    rt = runtime.current()
    if not backups.expired(dict(body), now=dt.datetime.now(dt.UTC)):
        return
    obj = await _get(name)
    if obj is None or obj["metadata"].get("deletionTimestamp"):
        return
    outcome = await asyncio.to_thread(deletion.expire, rt.client, rt.namespace, obj)
    if outcome.locked is not None:  # tried again on the next tick, until the lock ends
        await _say_kept(body, obj, outcome.locked)
    elif outcome.kept is not None:
        await _say_kept(body, obj, outcome.kept)
    elif outcome.errors:
        metrics.BACKUP_DELETION_FAILURE.inc()
        kopf.warn(body, reason="DeletionFailed", message="; ".join(outcome.errors))
    elif outcome.location_missing:
        kopf.warn(
            body,
            reason="DataKept",
            message=f"backup {name} expired and removed, its data not: {outcome.location_missing}",
        )
    else:
        metrics.BACKUP_DELETION_SUCCESS.inc()
        if outcome.snapshots_kept:
            kopf.warn(body, reason="SnapshotsKept", message="; ".join(outcome.snapshots_kept))
        if outcome.chunks_kept:
            kopf.warn(body, reason="ChunksKept", message=outcome.chunks_kept)
        kopf.info(
            body, reason="Expired", message=f"backup {name} expired: {deletion.deleted(outcome)}"
        )


async def _say_kept(body: kopf.Body, obj: dict[str, Any], why: str) -> None:
    """An expired backup whose data stays: an Expired condition and an Event, once per reason."""
    conditions = (obj.get("status") or {}).get("conditions") or []
    if any(c.get("type") == EXPIRED and c.get("message") == why for c in conditions):
        return
    kept = control.condition(EXPIRED, True, reason="DataKept", message=why)
    await _patch(obj["metadata"]["name"], {"conditions": control.set_condition(conditions, kept)})
    kopf.info(body, reason="Expired", message=f"backup {obj['metadata']['name']} expired; {why}")
