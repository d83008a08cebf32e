"""Running one Backup: validate its spec, then status before, during and after the engine.

Restart safety: the status records ``attempt``; a Backup found InProgress after a restart is
run again from scratch as attempt N+1. The engine overwrites its own archive and writes
velero-backup.json last, and the stale marker of an earlier attempt is deleted before the
engine starts, so a half-written archive is never marked Completed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from ark import archive
from ark.api.backup import TERMINAL_BACKUP_PHASES, BackupPhase, BackupSpec
from ark.api.locations import LocationPhase
from ark.api.types import parse_duration
from ark.archive import layout
from ark.backup import BackupResult, Progress
from ark.kube import KubeClient
from ark.operator import locations, resources
from ark.storage import ObjectStore, StoreError

TERMINAL = {str(p) for p in TERMINAL_BACKUP_PHASES}


def is_finished(obj: dict[str, Any]) -> bool:
    return (obj.get("status") or {}).get("phase") in TERMINAL


@dataclass
class Plan:
    """A validated backup: what to take, where to, through which store."""

    spec: BackupSpec | None = None
    location: locations.StorageLocation | None = None
    store: ObjectStore | None = None
    errors: list[str] = field(default_factory=list)


def validate(client: KubeClient, namespace: str, obj: dict[str, Any]) -> Plan:
    """Everything that makes a backup impossible before it starts, each reason named."""
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
        bsl = locations.resolve_bsl(client, namespace, plan.spec.storage_location)
    except locations.LocationError as exc:
        plan.errors.append(str(exc))
        bsl = None
    if bsl is not None:
        plan.location = bsl
        if bsl.read_only:
            plan.errors.append(f"BackupStorageLocation {bsl.name} is ReadOnly: no backups to it")
        if bsl.phase == LocationPhase.UNAVAILABLE:
            plan.errors.append(f"BackupStorageLocation {bsl.name} is Unavailable")
        try:
            plan.store = locations.open_bsl(client, namespace, bsl)
        except locations.LocationError as exc:
            plan.errors.append(str(exc))
    for vsl in plan.spec.volume_snapshot_locations or []:
        if resources.get(client, resources.VSL, namespace, vsl) is None:
            plan.errors.append(f"VolumeSnapshotLocation {namespace}/{vsl} not found")
    status = obj.get("status") or {}
    if plan.store is not None and not plan.errors and not status.get("attempt"):
        keys = archive.BackupKeys(archive.backup_name(name))
        try:
            if plan.store.exists(keys.metadata):
                plan.errors.append(
                    f"a backup named {name} already exists in BackupStorageLocation "
                    f"{plan.location.name if plan.location else ''}"
                )
        except StoreError as exc:
            plan.errors.append(f"cannot reach the storage location: {exc}")
    return plan


def failed_validation_status(errors: list[str]) -> dict[str, Any]:
    return {
        "phase": BackupPhase.FAILED_VALIDATION.value,
        "validationErrors": errors,
        "completionTimestamp": resources.timestamp(),
    }


def start_status(obj: dict[str, Any], plan: Plan, *, now: dt.datetime) -> dict[str, Any]:
    assert plan.spec is not None and plan.location is not None
    attempt = int((obj.get("status") or {}).get("attempt") or 0) + 1
    ttl = parse_duration(plan.spec.ttl)
    return {
        "phase": BackupPhase.IN_PROGRESS.value,
        "attempt": attempt,
        "startTimestamp": resources.timestamp(now),
        "expiration": resources.timestamp(now + ttl) if ttl else None,
        "storageLocation": plan.location.name,
        "formatVersion": layout.FORMAT_VERSION,
        "progress": {"totalItems": 0, "itemsBackedUp": 0},
        "validationErrors": None,
        "failureReason": None,
        "completionTimestamp": None,
    }


def progress_status(progress: Progress) -> dict[str, Any]:
    out: dict[str, Any] = {
        "totalItems": progress.total_items,
        "itemsBackedUp": progress.items_backed_up,
    }
    if progress.current_resource:
        out["currentResource"] = progress.current_resource
    return out


def final_status(result: BackupResult) -> dict[str, Any]:
    return {
        "phase": str(result.phase),
        "completionTimestamp": resources.timestamp(result.completed),
        "expiration": resources.timestamp(result.expiration) if result.expiration else None,
        "progress": {
            "totalItems": result.progress.total_items,
            "itemsBackedUp": result.progress.items_backed_up,
        },
        "warnings": result.warnings,
        "errors": result.errors,
        "failureReason": result.failure_reason,
        "hookStatus": {
            "hooksAttempted": result.hooks_attempted,
            "hooksFailed": result.hooks_failed,
        }
        if result.hooks_attempted
        else None,
    }


def clear_marker(store: ObjectStore, name: str) -> None:
    """Delete an earlier attempt's velero-backup.json before writing again."""
    store.delete(archive.BackupKeys(archive.backup_name(name)).metadata)


def expired(obj: dict[str, Any], *, now: dt.datetime) -> bool:
    status = obj.get("status") or {}
    when = resources.parse_time(status.get("expiration"))
    return when is not None and when <= now and status.get("phase") in TERMINAL
