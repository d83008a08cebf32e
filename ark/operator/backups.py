"""Running one Backup: validate its spec, then status before, during and after the engine.

Restart safety: the status records ``attempt``; a Backup found InProgress after a restart is
run again from scratch as attempt N+1. The engine overwrites its own archive and writes
the backup's record last, and the stale marker of an earlier attempt is deleted before the
engine starts, so a half-written archive is never marked Completed. The volume snapshots an
interrupted attempt started are recorded in status, and adopted, not taken again (``snapshots``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ark import archive, control, persistence
from ark.api.backup import TERMINAL_BACKUP_PHASES, BackupPhase, BackupSpec
from ark.api.locations import LocationPhase
from ark.api.types import parse_duration
from ark.archive import layout
from ark.backup import BackupResult, Progress, SnapshotLocation, SnapshotOptions, volume_exports
from ark.kube import KubeClient
from ark.operator import snapshots, stores
from ark.storage import StoreError

TERMINAL = {str(p) for p in TERMINAL_BACKUP_PHASES}


def is_finished(obj: dict[str, Any]) -> bool:
    return (obj.get("status") or {}).get("phase") in TERMINAL


@dataclass
class Plan:
    """A validated backup: what to take, where to, through which store."""

    spec: BackupSpec | None = None
    location: control.StorageLocation | None = None
    store: persistence.BackupStore | None = None
    snapshot_locations: list[SnapshotLocation] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def validate(
    client: KubeClient,
    namespace: str,
    obj: dict[str, Any],
    *,
    default_snapshot_locations: Mapping[str, str] | None = None,
) -> Plan:
    """Everything that makes a backup impossible before it starts, each reason named.
    ``default_snapshot_locations`` maps a provider to its default VolumeSnapshotLocation."""
    plan = Plan()
    name = obj["metadata"]["name"]
    try:
        archive.backup_name(name)
    except archive.InvalidName as exc:
        plan.errors.append(str(exc))
    try:
        plan.spec = BackupSpec.model_validate(obj.get("spec") or {})
        parse_duration(plan.spec.ttl)
    except ValueError as exc:
        plan.errors.append(f"invalid spec: {exc}")
        return plan
    try:
        bsl = control.resolve_bsl(client, namespace, plan.spec.storage_location)
    except control.LocationError as exc:
        plan.errors.append(str(exc))
        bsl = None
    if bsl is not None:
        _check_location(client, namespace, plan, bsl)
    if plan.spec.export_volumes and plan.spec.snapshot_volumes is False:
        plan.errors.append("exportVolumes needs volume snapshots: snapshotVolumes is false")
    if plan.spec.snapshot_volumes is not False:
        resolved = snapshots.resolve(
            client,
            namespace,
            plan.spec.volume_snapshot_locations,
            defaults=default_snapshot_locations or {},
            export=plan.spec.export_volumes,
        )
        plan.snapshot_locations = resolved.locations
        plan.errors.extend(resolved.errors)
    status = obj.get("status") or {}
    if plan.store is not None and not plan.errors and not status.get("attempt"):
        try:
            if plan.store.has_record(name):
                plan.errors.append(
                    f"a backup named {name} already exists in BackupStorageLocation "
                    f"{plan.location.name if plan.location else ''}"
                )
        except StoreError as exc:
            plan.errors.append(f"cannot reach the storage location: {exc}")
    return plan


def _check_location(
    client: KubeClient, namespace: str, plan: Plan, bsl: control.StorageLocation
) -> None:
    """Open the backup's location into ``plan``, adding why a backup cannot be written there."""
    assert plan.spec is not None
    plan.location = bsl
    if bsl.read_only:
        plan.errors.append(f"BackupStorageLocation {bsl.name} is ReadOnly: no backups to it")
    if bsl.phase == LocationPhase.UNAVAILABLE:
        why = f": {bsl.message}" if bsl.message else ""
        plan.errors.append(f"BackupStorageLocation {bsl.name} is Unavailable{why}")
    if (refused := ttl_within_lock(plan.spec, bsl)) is not None:
        plan.errors.append(refused)
    try:
        plan.store = stores.open_store(client, namespace, bsl)
        plan.errors.extend(stores.current_key_problems(plan.store))
        if (unlockable := control.locking_problem(plan.store.objects, bsl)) is not None:
            plan.errors.append(unlockable)
    except control.LocationError as exc:
        plan.errors.append(str(exc))
    except StoreError as exc:
        plan.errors.append(f"cannot reach the storage location: {exc}")


def ttl_within_lock(spec: BackupSpec, bsl: control.StorageLocation) -> str | None:
    """Why a backup's ttl cannot be kept under its location's objectLock (expiry would come
    before its objects may be deleted), or None. A ttl of 0 (never expire) is always fine."""
    lock = bsl.spec.object_lock
    ttl = parse_duration(spec.ttl)
    if lock is None or not ttl or ttl >= lock.duration:
        return None
    return (
        f"ttl {spec.ttl} is shorter than the objectLock of BackupStorageLocation {bsl.name} "
        f"({lock.mode}, {lock.days} day{'s' if lock.days != 1 else ''}): the backup would "
        "expire while its objects cannot "
        f"be deleted; set a ttl of at least {lock.days * 24}h"
    )


def failed_validation_status(errors: list[str]) -> dict[str, Any]:
    return {
        "phase": BackupPhase.FAILED_VALIDATION.value,
        "validationErrors": errors,
        "completionTimestamp": control.timestamp(),
    }


def start_status(obj: dict[str, Any], plan: Plan, *, now: dt.datetime) -> dict[str, Any]:
    assert plan.spec is not None and plan.location is not None
    attempt = int((obj.get("status") or {}).get("attempt") or 0) + 1
    ttl = parse_duration(plan.spec.ttl)
    return {
        "phase": BackupPhase.IN_PROGRESS.value,
        "attempt": attempt,
        "startTimestamp": control.timestamp(now),
        "expiration": control.timestamp(now + ttl) if ttl else None,
        "storageLocation": plan.location.name,
        "formatVersion": layout.FORMAT_VERSION,
        "progress": {"totalItems": 0, "itemsBackedUp": 0},
        "validationErrors": None,
        "failureReason": None,
        "completionTimestamp": None,
    }


def snapshot_options(
    client: KubeClient,
    namespace: str,
    obj: dict[str, Any],
    plan: Plan,
    *,
    timeout: float,
) -> SnapshotOptions | None:
    """How the engine snapshots: in the plan's locations, adopting what an interrupted attempt
    recorded in ``obj``'s status (read before this attempt started), recording ids at once."""
    return snapshots.backup_options(
        plan.snapshot_locations,
        status=obj.get("status"),
        on_started=snapshots.status_recorder(client, namespace, obj["metadata"]["name"]),
        timeout=timeout,
    )


def progress_status(progress: Progress) -> dict[str, Any]:
    out: dict[str, Any] = {
        "totalItems": progress.total_items,
        "itemsBackedUp": progress.items_backed_up,
    }
    if progress.current_resource:
        out["currentResource"] = progress.current_resource
    if progress.current_volume_export:
        out["currentVolumeExport"] = progress.current_volume_export
    return out


def final_status(
    result: BackupResult, *, earlier_snapshots: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The status a finished run leaves; ``earlier_snapshots`` are those an interrupted
    attempt recorded (kept listed when not adopted, so deleting the backup removes them)."""
    return {
        **snapshots.final_status(
            result.volume_snapshots,
            skew=result.snapshot_skew_seconds,
            earlier=earlier_snapshots or [],
        ),
        **volume_exports.status_of(result.volume_exports),
        "phase": str(result.phase),
        "completionTimestamp": control.timestamp(result.completed),
        "expiration": control.timestamp(result.expiration) if result.expiration else None,
        "progress": {
            "totalItems": result.progress.total_items,
            "itemsBackedUp": result.progress.items_backed_up,
        },
        "warnings": result.warnings,
        "errors": result.errors,
        "failureReason": result.failure_reason,
        "manifestDigest": result.manifest_digest,
        "encryptionKey": result.encryption_key,
        "hookStatus": {
            "hooksAttempted": result.hooks_attempted,
            "hooksFailed": result.hooks_failed,
        }
        if result.hooks_attempted
        else None,
        "objectLock": persistence.lock_status(result.object_lock) if result.object_lock else None,
    }


def summary(result: BackupResult) -> str:
    """The finished backup in one line, for its Event."""
    message = (
        f"{result.phase}: {result.progress.items_backed_up} items, "
        f"{result.warnings} warnings, {result.errors} errors"
    )
    if result.volume_snapshots:
        done = sum(1 for r in result.volume_snapshots if r.phase == "Completed")
        message += f", {done} of {len(result.volume_snapshots)} volume snapshots completed"
    if result.volume_exports:
        done = sum(1 for e in result.volume_exports if e.phase == volume_exports.COMPLETED)
        message += f", {done} of {len(result.volume_exports)} exported"
    return message


def clear_marker(store: persistence.BackupStore, name: str) -> None:
    """Delete an earlier attempt's record before writing again."""
    store.delete_record(name)


def expired(obj: dict[str, Any], *, now: dt.datetime) -> bool:
    status = obj.get("status") or {}
    when = control.parse_time(status.get("expiration"))
    return when is not None and when <= now and status.get("phase") in TERMINAL
