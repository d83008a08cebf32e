"""Deleting a backup's data: its volume snapshots, the restores made from it, and every object
under ``backups/<name>/`` — the completion marker (velero-backup.json) first, so a half-deleted
backup never looks complete to backup sync. Idempotent: a retry finishes what a failed or
interrupted attempt left."""

from __future__ import annotations

import gzip
import logging
from dataclasses import dataclass, field
from typing import Any

import orjson

from ark import archive
from ark.kube import KubeClient, KubeError
from ark.operator import locations, resources
from ark.snapshot.errors import SnapshotError
from ark.storage import ObjectNotFound, ObjectStore, StoreError

_log = logging.getLogger("ark.operator")


@dataclass
class Outcome:
    errors: list[str] = field(default_factory=list)
    location_missing: str | None = None
    """Why the data could not even be looked for (no such location); nothing was deleted."""
    snapshots_deleted: int = 0
    objects_deleted: int = 0


def location_of(backup: dict[str, Any]) -> str | None:
    status = backup.get("status") or {}
    spec = backup.get("spec") or {}
    return status.get("storageLocation") or spec.get("storageLocation")


def _snapshots(backup: dict[str, Any], store: ObjectStore, name: str) -> list[dict[str, Any]]:
    """Snapshots recorded in status, plus those in the stored list (a synced backup's)."""
    found = list((backup.get("status") or {}).get("volumeSnapshots") or [])
    keys = archive.BackupKeys(archive.backup_name(name))
    try:
        stored = orjson.loads(gzip.decompress(store.get(keys.volume_snapshots)))
    except ObjectNotFound:
        stored = []
    except (StoreError, OSError, orjson.JSONDecodeError) as exc:
        _log.warning("backup %s: cannot read its volume-snapshot list: %s", name, exc)
        stored = []
    known = {s.get("snapshotId") for s in found}
    for entry in stored if isinstance(stored, list) else []:
        if isinstance(entry, dict) and entry.get("snapshotId") not in known:
            found.append(entry)
    return found


def _delete_snapshots(
    client: KubeClient, namespace: str, name: str, snapshots: list[dict[str, Any]], out: Outcome
) -> None:
    for snap in snapshots:
        snapshot_id, where = snap.get("snapshotId"), snap.get("location")
        if not snapshot_id:
            continue
        if not where:
            out.errors.append(f"backup {name}: snapshot {snapshot_id} names no location")
            continue
        try:
            snapshotter = locations.open_vsl_snapshotter(client, namespace, where)
            snapshotter.delete_snapshot(snapshot_id)
            out.snapshots_deleted += 1
        except (locations.LocationError, SnapshotError) as exc:
            out.errors.append(f"backup {name}: cannot delete snapshot {snapshot_id}: {exc}")


def _delete_prefix(store: ObjectStore, prefix: str, *, first: str | None = None) -> int:
    if first is not None:
        store.delete(first)
    count = 0
    for info in list(store.list(prefix)):
        store.delete(info.key)
        count += 1
    if any(True for _ in store.list(prefix)):
        raise StoreError(f"objects remain under {prefix} after deleting them")
    return count


def restores_of(client: KubeClient, namespace: str, backup: str) -> list[dict[str, Any]]:
    return [
        r
        for r in resources.list_objects(client, resources.RESTORE, namespace)
        if ((r.get("status") or {}).get("backupName") or (r.get("spec") or {}).get("backupName"))
        == backup
    ]


def delete_backup_data(client: KubeClient, namespace: str, backup: dict[str, Any]) -> Outcome:
    """Delete everything the backup owns outside the cluster, and the Restores made from it.
    Errors are collected (the caller retries); nothing here raises for a store or cloud error."""
    name = backup["metadata"]["name"]
    out = Outcome()
    try:
        bsl = locations.resolve_bsl(client, namespace, location_of(backup))
    except locations.LocationError as exc:
        out.location_missing = str(exc)
        return out
    except KubeError as exc:
        out.errors.append(f"backup {name}: cannot look up its location: {exc}")
        return out
    if bsl.read_only:
        out.errors.append(
            f"backup {name}: BackupStorageLocation {bsl.name} is ReadOnly; nothing deleted"
        )
        return out
    try:
        store = locations.open_bsl(client, namespace, bsl)
        _delete_snapshots(client, namespace, name, _snapshots(backup, store, name), out)
        if out.errors:
            return out  # keep the data (and the snapshot list) for the retry
        for restore in restores_of(client, namespace, name):
            rname = restore["metadata"]["name"]
            keys = archive.RestoreKeys(archive.restore_name(rname))
            out.objects_deleted += _delete_prefix(store, keys.prefix)
            resources.delete(client, resources.RESTORE, namespace, rname)
        keys_ = archive.BackupKeys(archive.backup_name(name))
        out.objects_deleted += _delete_prefix(store, keys_.prefix, first=keys_.metadata)
    except (locations.LocationError, StoreError, KubeError) as exc:
        out.errors.append(f"backup {name}: cannot delete its data: {exc}")
    return out
