"""DeleteBackupRequest: delete a backup's data and snapshots, then the Backup; a failure is
reported in the request's status and events and retried."""

from __future__ import annotations

import asyncio
from typing import Any

import kopf

from ark import control
from ark.operator import backups, deletion, metrics, runtime

RETRY_DELAY = 10.0


async def _status(name: str, patch: dict[str, Any]) -> None:
    await runtime.current().patch_status(control.DBR, name, patch)


async def process(body: kopf.Body, name: str, **_: Any) -> None:
    rt = runtime.current()
    request = await rt.get(control.DBR, name)
    if request is None or (request.get("status") or {}).get("phase") == "Processed":
        return
    target = request["spec"]["backupName"]
    await _status(name, {"phase": "InProgress"})
    backup = await rt.get(control.BACKUP, target)
    if backup is None:
        await _status(name, {"phase": "Processed", "errors": [f"backup {target} not found"]})
        kopf.warn(body, reason="NotFound", message=f"backup {target} not found")
        return
    if not backups.is_finished(backup) and backup["status"].get("phase") != "Deleting":
        message = f"backup {target} is still running; deletion waits for it"
        await _status(name, {"errors": [message]})
        raise kopf.TemporaryError(message, delay=RETRY_DELAY)
    await rt.patch_status(control.BACKUP, target, {"phase": "Deleting"})
    outcome = await asyncio.to_thread(deletion.delete_backup_data, rt.client, rt.namespace, backup)
    if outcome.kept is not None:  # nothing of its own to delete: the Backup goes alone
        await asyncio.to_thread(control.delete, rt.client, control.BACKUP, rt.namespace, target)
        await _status(name, {"phase": "Processed", "errors": None})
        kopf.info(body, reason="Deleted", message=f"backup {target} deleted; {outcome.kept}")
        return
    if (
        outcome.locked
        or outcome.location_missing
        or (outcome.errors and all("ReadOnly" in e for e in outcome.errors))
    ):
        refusal = outcome.locked or outcome.location_missing
        errors = [refusal] if refusal else outcome.errors
        previous = (backup.get("status") or {}).get("phase")
        await rt.patch_status(control.BACKUP, target, {"phase": previous})
        await _status(name, {"phase": "Processed", "errors": errors})
        kopf.warn(body, reason="DeletionRefused", message="; ".join(e or "" for e in errors))
        return
    if outcome.errors:
        metrics.BACKUP_DELETION_FAILURE.inc()
        await _status(name, {"errors": outcome.errors})
        kopf.warn(body, reason="DeletionFailed", message="; ".join(outcome.errors))
        raise kopf.TemporaryError("; ".join(outcome.errors), delay=RETRY_DELAY)
    await asyncio.to_thread(control.delete, rt.client, control.BACKUP, rt.namespace, target)
    metrics.BACKUP_DELETION_SUCCESS.inc()
    await _status(name, {"phase": "Processed", "errors": outcome.snapshots_kept or None})
    if outcome.snapshots_kept:
        kopf.warn(body, reason="SnapshotsKept", message="; ".join(outcome.snapshots_kept))
    if outcome.chunks_kept:
        kopf.warn(body, reason="ChunksKept", message=outcome.chunks_kept)
    kopf.info(body, reason="Deleted", message=f"backup {target}: {deletion.deleted(outcome)}")
