"""Deleting a backup's data: its volume snapshots, the restores made from it, and every object
under ``backups/<name>/`` — the completion marker (the backup's record) first, so a half-deleted
backup never looks complete to backup sync. Idempotent: a retry finishes what a failed or
interrupted attempt left.

A backup any of whose objects is under a retention lock (its location's ``objectLock``) that has
not ended loses nothing, by request or by expiry: ``Outcome.locked`` names the lock and its end.

Data goes only by intent: a DeleteBackupRequest (``ark backup delete``), or expiry (TTL or a
schedule's retention) in the cluster that wrote the backup. Deleting a Backup object removes
the object alone (backup sync brings it back while its data is in the bucket), so another
cluster sharing the bucket, or ark's own removal, never deletes a backup's data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from ark import archive, control, persistence
from ark.api.backup import BackupPhase
from ark.kube import KubeClient, KubeError
from ark.operator import stores
from ark.persistence import chunk_gc, writer_of
from ark.snapshot.errors import NotOwned, SnapshotError
from ark.snapshot.interface import owner_tags
from ark.storage import StoreError

_log = logging.getLogger("ark.operator")


@dataclass
class Outcome:
    errors: list[str] = field(default_factory=list)
    location_missing: str | None = None
    """Why the data could not even be looked for (no such location); nothing was deleted."""
    kept: str | None = None
    """Why the data was deliberately left where it is (not this backup's, or not to be
    touched); nothing was deleted."""
    snapshots_deleted: int = 0
    snapshots_kept: list[str] = field(default_factory=list)
    """Snapshots named by the backup's records that the cloud says are not the backup's:
    left in place, each with the reason."""
    objects_deleted: int = 0
    chunks_deleted: int = 0
    """Exported volumes' chunks no backup names any more, swept after this one's data."""
    chunks_kept: str | None = None
    """Why the sweep deleted no chunk (an export running, an index it cannot read); the
    next deletion of a backup with exported volumes sweeps them."""
    locked: str | None = None
    """Why nothing was deleted: an object of the backup is under a retention lock that has
    not ended (the lock's mode and end are named)."""


def deleted(out: Outcome) -> str:
    """What a deletion deleted, as its Event says it."""
    chunks = f", {out.chunks_deleted} volume chunks" if out.chunks_deleted else ""
    return f"{out.objects_deleted} objects{chunks} and {out.snapshots_deleted} snapshots deleted"


def location_of(backup: dict[str, Any]) -> str | None:
    status = backup.get("status") or {}
    spec = backup.get("spec") or {}
    return status.get("storageLocation") or spec.get("storageLocation")


def _snapshots(
    backup: dict[str, Any], store: persistence.BackupStore, name: str
) -> list[dict[str, Any]]:
    """Snapshots recorded in status, plus those in the stored list (a synced backup's)."""
    found = list((backup.get("status") or {}).get("volumeSnapshots") or [])
    try:
        stored = store.snapshots(name)
    except StoreError as exc:
        _log.warning("backup %s: cannot read its volume-snapshot list: %s", name, exc)
        stored = []
    known = {s.get("snapshotId") for s in found}
    for record in stored:
        if record.snapshot_id and record.snapshot_id not in known:
            found.append({"snapshotId": record.snapshot_id, "location": record.location})
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
            snapshotter = control.open_vsl_snapshotter(client, namespace, where)
            snapshotter.delete_snapshot(snapshot_id, owner_tags=owner_tags(name))
            out.snapshots_deleted += 1
        except NotOwned as exc:
            out.snapshots_kept.append(f"backup {name}: {exc}")
        except control.LocationNotFound as exc:  # a synced backup's, taken in another cluster
            out.snapshots_kept.append(f"backup {name}: snapshot {snapshot_id} left: {exc}")
        except (control.LocationError, SnapshotError) as exc:
            out.errors.append(f"backup {name}: cannot delete snapshot {snapshot_id}: {exc}")


def restores_of(client: KubeClient, namespace: str, backup: str) -> list[dict[str, Any]]:
    return [
        r
        for r in control.list_objects(client, control.RESTORE, namespace)
        if ((r.get("status") or {}).get("backupName") or (r.get("spec") or {}).get("backupName"))
        == backup
    ]


def delete_backup_data(client: KubeClient, namespace: str, backup: dict[str, Any]) -> Outcome:
    """Delete everything the backup owns outside the cluster, and the Restores made from it.
    Errors are collected (the caller retries); nothing here raises for a store or cloud error."""
    name = backup["metadata"]["name"]
    out = Outcome()
    if (backup.get("status") or {}).get("phase") == BackupPhase.FAILED_VALIDATION:
        out.kept = (
            f"backup {name} failed validation and never wrote data; whatever is stored under "
            "its name belongs to another backup and is kept"
        )
        return out
    try:
        bsl = control.resolve_bsl(client, namespace, location_of(backup))
    except control.LocationError as exc:
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
        store = stores.open_store(client, namespace, bsl)
    except control.LocationError as exc:
        out.errors.append(f"backup {name}: cannot delete its data: {exc}")
        return out
    return _delete_from(client, namespace, backup, store, out)


def _delete_from(
    client: KubeClient,
    namespace: str,
    backup: dict[str, Any],
    store: persistence.BackupStore,
    out: Outcome,
) -> Outcome:
    """The backup's snapshots, then the Restores made from it with their files, then its own
    files, from its (already opened) location. A backup with an object still locked loses
    nothing: every object's retention is asked before anything is deleted."""
    name = backup["metadata"]["name"]
    try:
        store.check_unlocked(name)
    except persistence.BackupLocked as exc:
        out.locked = str(exc)
        return out
    except (StoreError, archive.InvalidName) as exc:
        out.errors.append(f"backup {name}: cannot look at its object locks: {exc}")
        return out
    try:
        _delete_snapshots(client, namespace, name, _snapshots(backup, store, name), out)
        if out.errors:
            return out  # keep the data (and the snapshot list) for the retry
        for restore in restores_of(client, namespace, name):
            rname = restore["metadata"]["name"]
            out.objects_deleted += store.delete_restore(rname)
            control.delete(client, control.RESTORE, namespace, rname)
        exported = bool(store.exported_volumes(name))
        out.objects_deleted += store.delete_backup(name)
    except (StoreError, KubeError) as exc:
        out.errors.append(f"backup {name}: cannot delete its data: {exc}")
        return out
    if exported:
        _sweep_chunks(store, name, out)
    return out


def _sweep_chunks(store: persistence.BackupStore, name: str, out: Outcome) -> None:
    """The chunks only backup ``name`` named, gone with it (a sweep of the location)."""
    try:
        collected = chunk_gc.collect(store, holder=f"deletion of backup {name}")
    except StoreError as exc:
        out.chunks_kept = f"volume chunks not swept: {exc}"
    else:
        out.chunks_deleted = collected.deleted
        out.chunks_kept = collected.skipped
    if out.chunks_kept:
        _log.warning("backup %s deleted; %s", name, out.chunks_kept)


def expire(client: KubeClient, namespace: str, backup: dict[str, Any]) -> Outcome:
    """An expired backup (TTL, or a schedule's retention): its data and snapshots are deleted
    only when this cluster wrote them (the stored record names it); then the Backup goes too.
    Otherwise the data is kept and ``kept`` says why: the Backup is removed only when nothing
    of it is left in the bucket, so backup sync does not bring it back to expire again."""
    name = backup["metadata"]["name"]
    out = Outcome()
    if (backup.get("status") or {}).get("phase") == BackupPhase.FAILED_VALIDATION:
        control.delete(client, control.BACKUP, namespace, name)
        return out
    try:
        bsl = control.resolve_bsl(client, namespace, location_of(backup))
        store = stores.open_store(client, namespace, bsl)
        ours, out.kept = _ownership(client, store, backup)
    except control.LocationError as exc:
        out.location_missing = str(exc)
        control.delete(client, control.BACKUP, namespace, name)
        return out
    except (StoreError, KubeError, archive.InvalidName) as exc:
        out.errors.append(f"backup {name}: cannot look at its data: {exc}")
        return out
    if out.kept is None and ours and bsl.read_only:
        out.kept = f"BackupStorageLocation {bsl.name} is ReadOnly; nothing deleted"
    if out.kept is not None:
        return out
    if ours:
        _delete_from(client, namespace, backup, store, out)
    if not out.errors and not out.location_missing and out.kept is None and out.locked is None:
        control.delete(client, control.BACKUP, namespace, name)
    return out


def _ownership(
    client: KubeClient, store: persistence.BackupStore, backup: dict[str, Any]
) -> tuple[bool, str | None]:
    """(whether this cluster wrote the backup, why its stored data is kept if it is).
    Not ours and nothing kept: nothing of it is stored, and the Backup may simply go."""
    name = backup["metadata"]["name"]
    here = client.cluster_uid()
    document = store.complete_record(name)
    if document is None:
        if store.has_files(name):
            return False, (
                f"backup {name} has files in the bucket but no record naming who wrote them; "
                "they are kept (ark backup delete removes them)"
            )
        return _ran_here(backup), None  # its snapshots (in status) may still be there
    writer = writer_of(document)
    if writer is None and _ran_here(backup):
        writer = here  # written by an ark that did not record its cluster yet
    if writer != here:
        return False, (
            f"backup {name} was written by "
            + (f"cluster {writer}" if writer else "another cluster or tool")
            + f", not this one ({here}): it expires there, or goes with ark backup delete"
        )
    return True, None


def _ran_here(backup: dict[str, Any]) -> bool:
    """A Backup this cluster's operator ran (not one backup sync brought in)."""
    annotations = backup["metadata"].get("annotations") or {}
    return control.SYNCED_ANNOTATION not in annotations and bool(
        (backup.get("status") or {}).get("attempt")
    )
