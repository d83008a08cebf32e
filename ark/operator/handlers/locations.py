"""Location handlers: validate BackupStorageLocations and VolumeSnapshotLocations, and sync
backups from each available BackupStorageLocation on its own period."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

import kopf

from ark import control
from ark.api.types import parse_duration
from ark.kube import KubeError
from ark.operator import runtime, sync
from ark.storage import StoreError

_log = logging.getLogger("ark.operator")


def _due(last: str | None, period: str | None, *, default: float, now: dt.datetime) -> bool:
    seconds = parse_duration(period).total_seconds() if period else default
    if period is not None and seconds == 0:
        return False  # "0" turns it off
    when = control.parse_time(last)
    return when is None or (now - when).total_seconds() >= seconds


async def reconcile_bsl(body: kopf.Body, name: str, reason: str | None = None, **_: Any) -> None:
    """Validate when due (or on any change), then sync when due and Available."""
    rt = runtime.current()
    obj = await rt.get(control.BSL, name)
    if obj is None or obj["metadata"].get("deletionTimestamp"):
        return
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    now = dt.datetime.now(dt.UTC)
    default = rt.settings.default_location_period
    phase = status.get("phase")
    if (
        reason is not None
        or phase is None
        or _due(
            status.get("lastValidationTime"),
            spec.get("validationFrequency"),
            default=default,
            now=now,
        )
    ):
        phase = await _validate_bsl(body, obj, now=now)
    if phase == "Available" and _due(
        status.get("lastSyncedTime"), spec.get("backupSyncPeriod"), default=default, now=now
    ):
        await _sync(body, obj, now=now)


async def _validate_bsl(body: kopf.Body, obj: dict[str, Any], *, now: dt.datetime) -> str:
    """Contact the location; its phase and message in status, an Event when the phase
    changes. Returns the new phase."""
    rt = runtime.current()
    name = obj["metadata"]["name"]
    problem = await asyncio.to_thread(control.validate_bsl, rt.client, rt.namespace, obj)
    phase = "Unavailable" if problem else "Available"
    await rt.patch_status(
        control.BSL,
        name,
        {
            "phase": phase,
            "message": problem,
            "lastValidationTime": control.timestamp(now),
        },
    )
    if phase != (obj.get("status") or {}).get("phase"):
        if problem:
            kopf.warn(body, reason="Unavailable", message=problem)
        else:
            kopf.info(body, reason="Available", message=f"{name} is reachable")
    return phase


async def _sync(body: kopf.Body, obj: dict[str, Any], *, now: dt.datetime) -> None:
    """One backup sync pass over the location, its time in status, what it found in Events."""
    rt = runtime.current()
    name = obj["metadata"]["name"]
    try:
        bsl = control.parse_bsl(obj)
        outcome = await asyncio.to_thread(sync.sync_location, rt.client, rt.namespace, bsl)
    except (control.LocationError, StoreError, KubeError) as exc:
        kopf.warn(body, reason="SyncFailed", message=f"backup sync from {name} failed: {exc}")
        return
    await rt.patch_status(
        control.BSL,
        name,
        {"lastSyncedTime": control.timestamp(now)},
    )
    if outcome.created:
        kopf.info(
            body,
            reason="BackupsSynced",
            message=f"backups found in {name}: {', '.join(outcome.created)}",
        )
    if outcome.missing:
        kopf.warn(
            body,
            reason="BackupsMissing",
            message=f"no data in {name} for backups: {', '.join(outcome.missing)}",
        )
    for error in outcome.errors:
        kopf.warn(body, reason="SyncFailed", message=error)


async def reconcile_vsl(body: kopf.Body, name: str, **_: Any) -> None:
    rt = runtime.current()
    obj = await rt.get(control.VSL, name)
    if obj is None or obj["metadata"].get("deletionTimestamp"):
        return
    problem = await asyncio.to_thread(control.validate_vsl, rt.client, rt.namespace, obj)
    status = obj.get("status") or {}
    phase = "Unavailable" if problem else "Available"
    if status.get("phase") == phase and status.get("message") == problem:
        return
    await rt.patch_status(
        control.VSL,
        name,
        {"phase": phase, "message": problem},
    )
    if problem:
        kopf.warn(body, reason="Unavailable", message=problem)
    else:
        kopf.info(body, reason="Available", message=f"provider {obj['spec']['provider']} ready")
