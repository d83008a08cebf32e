"""Running one Restore: which backup (named, or a schedule's newest), where it is, which
namespaces it writes (restores of different targets run together), and its status.

Volumes (``restorePVs``, on by default when the backup has snapshots) come back from the
backup's snapshots through the VolumeSnapshotLocations that took them, in another location's
region when ``volumeSnapshotLocation`` names one.

Restart safety: status records the backup chosen and ``attempt``; a Restore found InProgress
after a restart runs again against the same backup. The engine skips or updates what exists
(per existingResourcePolicy), and adopts the volumes the interrupted attempt made in the cloud
(tagged with the Restore's uid), so a second run creates no duplicates.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ark import archive, control, persistence
from ark.api.restore import TERMINAL_RESTORE_PHASES, RestorePhase, RestoreSpec
from ark.kube import KubeApiError, KubeClient
from ark.operator import changelogs, snapshots, stores
from ark.operator.runtime import EVERYTHING
from ark.restore import modifiers, pointintime
from ark.restore.volumes import VolumeOptions
from ark.storage import StoreError

if TYPE_CHECKING:
    from ark.restore import RestoreProgress, RestoreResult

TERMINAL = {str(p) for p in TERMINAL_RESTORE_PHASES}
RESTORABLE = ("Completed", "PartiallyFailed")
_QUIET_OUTCOMES = {
    "created",
    "updated",
    "recreated",
    "skipped-exists",
    "would-create",
    "would-update",
    "would-recreate",
    "would-skip-exists",
}
MAX_VOLUMES = 500
MAX_RESULTS = 200


def is_finished(obj: dict[str, Any]) -> bool:
    return (obj.get("status") or {}).get("phase") in TERMINAL


@dataclass
class Plan:
    spec: RestoreSpec | None = None
    backup_name: str | None = None
    store: persistence.BackupStore | None = None
    volumes: VolumeOptions | None = None
    """restorePVs: where the backup's snapshots are (None: no volumes from snapshots)."""
    modifiers: modifiers.Modifiers | None = None
    """The rules of spec.resourceModifier's ConfigMap."""
    point_in_time: pointintime.PointInTime | None = None
    """spec.pointInTime: ``backup_name`` replayed to it with the schedule's change log."""
    errors: list[str] = field(default_factory=list)


def newest_of_schedule(client: KubeClient, namespace: str, schedule: str) -> str | None:
    finished = [
        b
        for b in control.list_objects(
            client,
            control.BACKUP,
            namespace,
            label_selector=f"{control.SCHEDULE_LABEL}={schedule}",
        )
        if (b.get("status") or {}).get("phase") == "Completed"
    ]
    if not finished:
        return None
    newest = max(
        finished, key=lambda b: (b["status"].get("startTimestamp") or "", b["metadata"]["name"])
    )
    return str(newest["metadata"]["name"])


def validate(client: KubeClient, namespace: str, obj: dict[str, Any]) -> Plan:
    plan = Plan()
    name = obj["metadata"]["name"]
    try:
        archive.restore_name(name)
    except archive.InvalidName as exc:
        plan.errors.append(str(exc))
    try:
        plan.spec = RestoreSpec.model_validate(obj.get("spec") or {})
    except ValueError as exc:
        plan.errors.append(f"invalid spec: {exc}")
        return plan
    if plan.spec.resource_modifier is not None:
        plan.modifiers = read_modifiers(
            client, namespace, plan.spec.resource_modifier.name, errors=plan.errors
        )
    chosen = _choose(client, namespace, obj, plan)
    if chosen is None:
        return plan
    plan.backup_name = chosen
    backup = control.get(client, control.BACKUP, namespace, chosen)
    if backup is None:
        plan.errors.append(f"backup {namespace}/{chosen} not found")
        return plan
    phase = (backup.get("status") or {}).get("phase")
    if phase not in RESTORABLE:
        plan.errors.append(
            f"backup {chosen} is {phase or 'New'}; only a Completed or "
            "PartiallyFailed backup can be restored"
        )
        return plan
    where = (backup.get("status") or {}).get("storageLocation") or (backup.get("spec") or {}).get(
        "storageLocation"
    )
    try:
        bsl = control.resolve_bsl(client, namespace, where)
        plan.store = stores.open_store(client, namespace, bsl)
    except control.LocationError as exc:
        plan.errors.append(f"backup {chosen}: {exc}")
        return plan
    found = snapshots.restore_volumes(
        client, namespace, plan.spec, store=plan.store, backup_name=chosen
    )
    plan.volumes = found.options
    plan.errors.extend(found.errors)
    return plan


def _choose(client: KubeClient, namespace: str, obj: dict[str, Any], plan: Plan) -> str | None:
    """The backup to restore: the one named (or chosen before a restart), the schedule's
    base for ``pointInTime``, or the schedule's newest; None with the reason in errors."""
    assert plan.spec is not None
    schedule = plan.spec.schedule_name
    if plan.spec.point_in_time is not None and schedule:
        plan.point_in_time = pointintime.PointInTime(schedule, plan.spec.point_in_time)
        return base_at(
            client,
            namespace,
            schedule,
            plan.spec.point_in_time,
            cluster=plan.spec.point_in_time_cluster,
            errors=plan.errors,
        )
    chosen = (obj.get("status") or {}).get("backupName") or plan.spec.backup_name
    if chosen is None and schedule:
        chosen = newest_of_schedule(client, namespace, schedule)
        if chosen is None:
            plan.errors.append(f"schedule {schedule} has no Completed backup")
    return chosen


def base_at(
    client: KubeClient,
    namespace: str,
    schedule: str,
    at: dt.datetime,
    *,
    cluster: str | None = None,
    errors: list[str],
) -> str | None:
    """The backup a restore of ``schedule`` at ``at`` starts from (its newest Completed one
    finished by then, written by ``cluster`` or the one cluster that wrote the schedule's
    backups), once its cluster's change log is known to reach ``at``; None, with the reason
    (the library's: before the log, after its newest change, in a gap, two clusters, ...) in
    ``errors``."""
    try:
        store = changelogs.schedule_store(client, namespace, schedule)
        base = pointintime.base_backup(store, schedule, at, cluster=cluster)
        log = persistence.ChangeLog(store, schedule, cluster=base.cluster)
        pointintime.check_reachable(log, since=base.started, at=at)
    except (control.LocationError, StoreError, pointintime.PointInTimeUnavailable) as exc:
        errors.append(f"point in time {control.timestamp(at)}: {exc}")
        return None
    return base.name


def read_modifiers(
    client: KubeClient, namespace: str, name: str, *, errors: list[str]
) -> modifiers.Modifiers | None:
    """The resource modifier rules in ConfigMap ``namespace/name``; None, with the reasons
    (each bad rule's index and what is wrong) added to ``errors``, when they cannot be used."""
    try:
        config_map = client.get(f"/api/v1/namespaces/{namespace}/configmaps/{name}")
    except KubeApiError as exc:
        errors.append(
            f"resourceModifier: configmap {namespace}/{name} "
            + ("not found" if exc.not_found else f"cannot be read: {exc.message}")
        )
        return None
    try:
        return modifiers.from_config_map(config_map)
    except modifiers.InvalidModifiers as exc:
        errors.extend(f"resourceModifier: {reason}" for reason in exc.reasons)
        return None


def targets(spec: RestoreSpec) -> set[str]:
    """The namespaces a restore writes to; ``*`` when it cannot be known up front."""
    included = spec.included_namespaces or []
    if not included or any(ch in ns for ns in included for ch in "*?[!"):
        return {EVERYTHING}
    mapping = spec.namespace_mapping or {}
    return {mapping.get(ns, ns) for ns in included}


def failed_validation_status(errors: list[str], backup: str | None) -> dict[str, Any]:
    return {
        "phase": RestorePhase.FAILED_VALIDATION.value,
        "validationErrors": errors,
        "backupName": backup,
        "completionTimestamp": control.timestamp(),
    }


def start_status(obj: dict[str, Any], plan: Plan, *, now: dt.datetime) -> dict[str, Any]:
    attempt = int((obj.get("status") or {}).get("attempt") or 0) + 1
    return {
        "phase": RestorePhase.IN_PROGRESS.value,
        "attempt": attempt,
        "backupName": plan.backup_name,
        "startTimestamp": control.timestamp(now),
        "progress": {"totalItems": 0, "itemsRestored": 0},
        "validationErrors": None,
        "failureReason": None,
        "completionTimestamp": None,
        "volumes": None,
    }


def progress_status(progress: RestoreProgress) -> dict[str, Any]:
    out: dict[str, Any] = {
        "totalItems": progress.total_items,
        "itemsRestored": progress.items_restored,
    }
    if progress.current_wave is not None:
        out["currentWave"] = progress.current_wave
    return out


def summary(result: RestoreResult) -> str:
    """The finished restore in one line, for its Event."""
    return (
        f"{result.phase}: {result.progress.items_restored} items, "
        f"{len(result.issues.warnings)} warnings, {len(result.issues.errors)} errors"
    )


def _noteworthy(result: RestoreResult, *, limit: int = MAX_RESULTS) -> list[dict[str, Any]]:
    """The first ``limit`` of: failed items, items with a message, and items restored but
    different from the backup (an error on an item that did not fail). One pass over the
    outcomes (on disk), keeping no more than are shown."""
    out: list[dict[str, Any]] = []
    failed: set[tuple[str, str | None, str]] = set()
    for o in result.outcomes:
        if o.outcome == "failed":
            failed.add((o.resource, o.target_namespace, o.name))
        if len(out) < limit and (str(o.outcome) not in _QUIET_OUTCOMES or o.message):
            out.append(
                {
                    "resource": o.resource,
                    "namespace": o.namespace,
                    "name": o.name,
                    "outcome": "failed" if o.outcome == "failed" else "warning",
                    "message": o.message,
                }
            )
    for i in result.issues.errors:
        if len(out) >= limit:
            break
        if i.resource and i.name and (i.resource, i.namespace, i.name) not in failed:
            out.append(
                {
                    "resource": i.resource,
                    "namespace": i.namespace,
                    "name": i.name,
                    "outcome": "error",
                    "message": i.message,
                }
            )
    return out


def final_status(result: RestoreResult) -> dict[str, Any]:
    noteworthy = _noteworthy(result)
    return {
        "phase": str(result.phase),
        "completionTimestamp": control.timestamp(result.completed),
        "progress": progress_status(result.progress),
        "warnings": len(result.issues.warnings),
        "errors": len(result.issues.errors),
        "failureReason": result.failure_reason,
        "results": [{k: v for k, v in r.items() if v is not None} for r in noteworthy] or None,
        "volumes": [v.status() for v in result.volumes[:MAX_VOLUMES]] or None,
    }
