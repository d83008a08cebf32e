"""Schedules: when the next cron tick is, what one tick does, and retention after a success.

A tick creates ``<schedule>-YYYYMMDDHHMMSS`` (the tick's time, UTC) from the template, so a
tick repeated after a restart finds its backup already there instead of making a second one.
``status.nextRun`` is written after the backup exists: the tick is never lost, never doubled.
A tick while the schedule's previous backup still runs is skipped (``skippedTicks``).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from croniter import croniter

from ark import control
from ark.api.schedule import RetentionPolicy, ScheduleSpec
from ark.kube import KubeClient
from ark.operator import backups, changelogs, retention
from ark.storage import StoreError

_log = logging.getLogger("ark.operator")

_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


def next_after(
    expression: str, after: dt.datetime, *, cron_seconds: str | None = None
) -> dt.datetime:
    """The first tick strictly after ``after`` (UTC). ``cron_seconds`` (tests only) adds a
    seconds field: ``* * * * *`` with ``*/3`` ticks every 3 seconds."""
    expr = _MACROS.get(expression.strip(), expression.strip())
    if cron_seconds:
        expr = f"{expr} {cron_seconds}"
    found: dt.datetime = croniter(expr, after.astimezone(dt.UTC)).get_next(dt.datetime)
    return found.astimezone(dt.UTC)


def backup_name(schedule: str, tick: dt.datetime) -> str:
    return f"{schedule}-{tick.astimezone(dt.UTC):%Y%m%d%H%M%S}"


@dataclass
class Tick:
    """What one look at a schedule decided."""

    status: dict[str, Any]
    created: str | None = None
    skipped: str | None = None
    """The backup still running when a tick came."""
    invalid: list[str] | None = None


def _invalid(error: str) -> Tick:
    return Tick({"phase": "FailedValidation", "validationErrors": [error]}, invalid=[error])


def tick(
    client: KubeClient,
    namespace: str,
    obj: dict[str, Any],
    *,
    now: dt.datetime,
    cron_seconds: str | None,
) -> Tick:
    name = obj["metadata"]["name"]
    status = obj.get("status") or {}
    try:
        spec = ScheduleSpec.model_validate(obj.get("spec") or {})
    except ValueError as exc:
        return _invalid(f"invalid spec: {exc}")
    if (bad_name := control.SCHEDULE.check_name(name)) is not None:
        return _invalid(bad_name)
    if spec.paused:
        upcoming = next_after(spec.schedule, now, cron_seconds=cron_seconds)
        return Tick(
            {"phase": "Enabled", "validationErrors": None, "nextRun": control.timestamp(upcoming)}
        )
    created = control.parse_time(obj["metadata"].get("creationTimestamp")) or now
    due = control.parse_time(status.get("nextRun")) or next_after(
        spec.schedule, created, cron_seconds=cron_seconds
    )
    out: dict[str, Any] = {
        "phase": "Enabled",
        "validationErrors": None,
        "nextRun": control.timestamp(due),
    }
    if now < due:
        return Tick(out)
    out["nextRun"] = control.timestamp(next_after(spec.schedule, now, cron_seconds=cron_seconds))
    previous = status.get("lastBackupName")
    if previous:
        prev = control.get(client, control.BACKUP, namespace, previous)
        if prev is not None and not backups.is_finished(prev):
            out["skippedTicks"] = int(status.get("skippedTicks") or 0) + 1
            return Tick(out, skipped=previous)
    backup = backup_name(name, due)
    body: dict[str, Any] = {
        "metadata": {"name": backup, "labels": {control.SCHEDULE_LABEL: name}},
        "spec": (obj.get("spec") or {}).get("template") or {},
    }
    if spec.use_owner_references_in_backup:
        body["metadata"]["ownerReferences"] = [
            {
                "apiVersion": control.SCHEDULE.api_version,
                "kind": control.SCHEDULE.kind,
                "name": name,
                "uid": obj["metadata"]["uid"],
                "controller": True,
            }
        ]
    control.create(client, control.BACKUP, namespace, body)  # None: made before a restart
    out.update(lastBackup=control.timestamp(now), lastBackupName=backup)
    return Tick(out, created=backup)


def apply_retention(
    client: KubeClient,
    namespace: str,
    schedule: str,
    policy: RetentionPolicy,
    *,
    now: dt.datetime,
) -> list[str]:
    """Expire the schedule's Completed backups the policy does not keep: their expiration
    becomes ``now``, and expiry deletes them as it deletes any other (only a backup this
    cluster wrote loses its data); the change log's segments before the oldest kept backup
    go with them. Returns the names expired."""
    candidates = []
    for b in control.list_objects(
        client, control.BACKUP, namespace, label_selector=f"{control.SCHEDULE_LABEL}={schedule}"
    ):
        status = b.get("status") or {}
        if status.get("phase") != "Completed" or b["metadata"].get("deletionTimestamp"):
            continue
        taken = control.parse_time(status.get("startTimestamp")) or control.parse_time(
            b["metadata"].get("creationTimestamp")
        )
        if taken is not None:
            candidates.append(retention.Candidate(b["metadata"]["name"], taken))
    doomed = retention.to_delete(candidates, policy)
    for name in doomed:
        control.patch_status(
            client, control.BACKUP, namespace, name, {"expiration": control.timestamp(now)}
        )
    kept = [c.taken for c in candidates if c.name not in doomed]
    if doomed and kept:
        try:
            changelogs.trim(client, namespace, schedule, oldest_kept=min(kept))
        except (control.LocationError, StoreError) as exc:  # tried again at the next expiry
            _log.warning("schedule %s: change log not trimmed: %s", schedule, exc)
    return doomed


def after_backup(
    client: KubeClient, namespace: str, schedule: str, *, phase: str, completed: dt.datetime
) -> list[str]:
    """Record a finished backup of ``schedule``; on success apply its retention policy."""
    obj = control.get(client, control.SCHEDULE, namespace, schedule)
    if obj is None or phase != "Completed":
        return []
    control.patch_status(
        client,
        control.SCHEDULE,
        namespace,
        schedule,
        {"lastSuccessfulBackup": control.timestamp(completed)},
    )
    policy = (obj.get("spec") or {}).get("retention")
    if not policy:
        return []
    return apply_retention(
        client,
        namespace,
        schedule,
        RetentionPolicy.model_validate(policy),
        now=dt.datetime.now(dt.UTC),
    )


def wants_verify(client: KubeClient, namespace: str, schedule: str) -> bool:
    """Whether ``schedule`` asks for each of its backups to be verified (``spec.verify``)."""
    obj = control.get(client, control.SCHEDULE, namespace, schedule)
    return bool(obj is not None and (obj.get("spec") or {}).get("verify"))
