"""Verifying a stored backup without restoring it: ``ark backup verify`` and a Schedule's
``verify``.

    result = verify.run(store, "nightly-1")               # store: a persistence.BackupStore
    result = verify.run(store, "nightly-1", snapshotter_for=open_vsl)   # --deep
    result.ok, result.problems                             # Problem(reason, message)

Checks, each failure a :class:`Problem` with a reason users and scripts read:

- the record (``velero-backup.json``): there, finished, naming this backup;
- ark's manifest against the record (tamper evidence: missing, another backup's, altered);
- the archive, streamed once: every entry and object as a restore checks them, every item's
  SHA-256 against the manifest (Velero-written backups have none: everything else is checked);
- the resource list against the archive's items, the record's item count against them;
- the volume snapshot records parse; with ``snapshotter_for`` (deep), each snapshot is asked
  for at its provider: it must exist and be complete.

Memory: the manifest (bounded by the persistence layer's limit), one object at a time and a
small record per item; nothing of the archive is written to disk.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ark import archive, control, persistence
from ark.kube import KubeClient, KubeError
from ark.persistence import SnapshotRecord
from ark.snapshot.errors import SnapshotError, SnapshotNotFound
from ark.snapshot.interface import SnapshotPhase, VolumeSnapshotter
from ark.storage import ObjectNotFound, StoreError

RECORD_MISSING = "RecordMissing"
RECORD_MISMATCH = "RecordMismatch"
UNREADABLE = "Unreadable"
ARCHIVE_MISSING = "ArchiveMissing"
CHECKSUM_MISMATCH = "ChecksumMismatch"
CORRUPT_ARCHIVE = "CorruptArchive"
HOSTILE_ARCHIVE = "HostileArchive"
RESOURCE_LIST_MISMATCH = "ResourceListMismatch"
SNAPSHOT_MISSING = "SnapshotMissing"
SNAPSHOT_INCOMPLETE = "SnapshotIncomplete"
SNAPSHOT_UNCHECKED = "SnapshotUnchecked"
CONDITION = "Verified"
VERIFIED = "Verified"
"""The reason of a passing verification; the others name what failed (and ManifestMissing,
ManifestOfAnotherBackup, ManifestAltered, and for an encrypted backup KeyUnavailable,
Undecryptable, RecordAltered from the persistence layer)."""
_RESTORABLE = ("Completed", "PartiallyFailed")
_SAMPLE = 3

SnapshotterFor = Callable[[SnapshotRecord], VolumeSnapshotter]
"""The snapshotter of a snapshot record's location (raises what it raises: the problem is
named SnapshotUnchecked)."""


@dataclass(frozen=True)
class Problem:
    reason: str
    message: str

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"


@dataclass
class Verification:
    """What verifying one backup found."""

    name: str
    started: dt.datetime
    completed: dt.datetime | None = None
    deep: bool = False
    items: int = 0
    """Items read from the archive and parsed."""
    checksummed: int = 0
    """Items whose SHA-256 matched ark's manifest (0 for a Velero-written backup)."""
    bytes: int = 0
    volume_snapshots: int = 0
    """Snapshot records read; with ``deep``, those found complete at their provider."""
    problems: list[Problem] = field(default_factory=list)
    workers: int = 0
    """Worker processes that checked segments of the archive beside this one."""
    workers_peak_rss: int = 0
    """The sum of their peak resident set sizes, in bytes."""

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def reason(self) -> str:
        """``Verified``, or the first problem's reason."""
        return self.problems[0].reason if self.problems else VERIFIED

    def add(self, reason: str, message: str) -> None:
        self.problems.append(Problem(reason, message))

    def summary(self) -> str:
        """One line with the counts, as the Verified condition's message says it."""
        checked = (
            f"{self.items} items parsed, {self.checksummed} checksums matched"
            if self.checksummed or not self.items
            else f"{self.items} items parsed, no ark manifest (Velero-written): no checksums"
        )
        snaps = f", {self.volume_snapshots} volume snapshots" + (
            " found complete" if self.deep else " recorded"
        )
        verdict = "verified" if self.ok else f"{len(self.problems)} problems"
        return f"backup {self.name} {verdict}: {checked}{snaps}"

    def status(self) -> dict[str, Any]:
        """The Backup's ``status.verification`` (``BackupVerification``, camelCase)."""
        return {
            "time": _ts(self.completed or self.started),
            "verified": self.ok,
            "deep": self.deep,
            "items": self.items,
            "checksummed": self.checksummed,
            "volumeSnapshots": self.volume_snapshots,
            "problems": [str(p)[:4096] for p in self.problems[:64]] or None,
        }


def _ts(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def run(
    store: persistence.BackupStore,
    name: str,
    *,
    snapshotter_for: SnapshotterFor | None = None,
    limits: archive.Limits | None = None,
    processes: int | None = None,
) -> Verification:
    """Verify backup ``name`` in ``store``; ``snapshotter_for`` makes it deep; ``processes``:
    how many may check the archive's segments (see ``ark.archive.checkpool``). Never raises
    for what it finds (problems in the result); a name that cannot be a backup's raises
    InvalidName."""
    archive.backup_name(name)
    result = Verification(
        name=name, started=dt.datetime.now(dt.UTC), deep=snapshotter_for is not None
    )
    try:
        _verify(
            store,
            name,
            result,
            snapshotter_for,
            limits=limits or archive.Limits(),
            processes=processes,
        )
    finally:
        result.completed = dt.datetime.now(dt.UTC)
    return result


def _verify(
    store: persistence.BackupStore,
    name: str,
    result: Verification,
    snapshotter_for: SnapshotterFor | None,
    *,
    limits: archive.Limits,
    processes: int | None,
) -> None:
    try:
        document = store.record(name)
    except ObjectNotFound as exc:
        result.add(RECORD_MISSING, f"no {exc.key}: the backup is incomplete or not there")
        return
    except StoreError as exc:
        result.add(UNREADABLE, str(exc))
        return
    _check_record(name, document, result)
    manifest: archive.Manifest | None = None
    try:
        stored = store.checked_manifest(name, document)
        manifest = None if stored is None else stored.manifest
    except (persistence.ManifestMismatch, persistence.EncryptionError) as exc:
        result.add(exc.reason, str(exc))
    except StoreError as exc:
        result.add(UNREADABLE, str(exc))
    checked = _check_archive(store, name, manifest, result, limits=limits, processes=processes)
    if checked is not None:
        _check_resource_list(store, name, checked, result)
        _check_counts(document, manifest, checked, result)
    _check_snapshots(store, name, result, snapshotter_for)


def _check_record(name: str, document: dict[str, Any], result: Verification) -> None:
    recorded = (document.get("metadata") or {}).get("name")
    if recorded != name:
        result.add(RECORD_MISMATCH, f"the record names backup {recorded!r}, not {name!r}")
    phase = (document.get("status") or {}).get("phase")
    if phase is not None and phase not in _RESTORABLE:
        result.add(RECORD_MISMATCH, f"the record says the backup is {phase}, not restorable")


def _check_archive(
    store: persistence.BackupStore,
    name: str,
    manifest: archive.Manifest | None,
    result: Verification,
    *,
    limits: archive.Limits,
    processes: int | None,
) -> archive.CheckedArchive | None:
    try:
        with store.open_archive(name) as src:
            checked = archive.check(src, manifest=manifest, limits=limits, processes=processes)
    except ObjectNotFound as exc:
        result.add(ARCHIVE_MISSING, f"no {exc.key}")
        return None
    except archive.HostileArchive as exc:
        result.add(HOSTILE_ARCHIVE, str(exc))
        return None
    except archive.InvalidArchive as exc:
        reason = CHECKSUM_MISMATCH if "checksum mismatch" in exc.cause else CORRUPT_ARCHIVE
        result.add(reason, str(exc))
        return None
    except persistence.EncryptionError as exc:
        result.add(exc.reason, f"the archive: {exc}")
        return None
    except StoreError as exc:
        result.add(UNREADABLE, f"the archive: {exc}")
        return None
    result.items = checked.items
    result.bytes = checked.total_bytes
    result.workers, result.workers_peak_rss = checked.workers, checked.workers_peak_rss
    result.checksummed = checked.items if checked.verified else 0
    return checked


def _check_resource_list(
    store: persistence.BackupStore,
    name: str,
    checked: archive.CheckedArchive,
    result: Verification,
) -> None:
    try:
        stored = store.resource_list(name)
    except ObjectNotFound as exc:
        result.add(RESOURCE_LIST_MISMATCH, f"no {exc.key}")
        return
    except StoreError as exc:
        result.add(UNREADABLE, str(exc))
        return
    found = checked.resource_list
    if found == {k: sorted(v) for k, v in stored.items()}:
        return
    for line in _differences(stored, found):
        result.add(RESOURCE_LIST_MISMATCH, line)


def _differences(stored: dict[str, list[str]], found: dict[str, list[str]]) -> Iterator[str]:
    for key in sorted(set(stored) | set(found)):
        listed, there = set(stored.get(key, ())), set(found.get(key, ()))
        if missing := sorted(listed - there):
            yield f"{key}: listed but not in the archive: {_sample(missing)}"
        if extra := sorted(there - listed):
            yield f"{key}: in the archive but not listed: {_sample(extra)}"


def _sample(names: list[str]) -> str:
    more = f" and {len(names) - _SAMPLE} more" if len(names) > _SAMPLE else ""
    return ", ".join(names[:_SAMPLE]) + more


def _check_counts(
    document: dict[str, Any],
    manifest: archive.Manifest | None,
    checked: archive.CheckedArchive,
    result: Verification,
) -> None:
    """What the record and the manifest say ark wrote, against the archive (ark's only: a
    Velero record counts otherwise)."""
    if manifest is None or not persistence.written_by_ark(document):
        return
    progress = (document.get("status") or {}).get("progress") or {}
    backed_up = progress.get("itemsBackedUp")
    if backed_up is not None and backed_up != checked.items:
        result.add(
            RECORD_MISMATCH,
            f"the record says {backed_up} items were backed up, the archive holds {checked.items}",
        )
    counted = sum(manifest.counts.values())
    if counted != manifest.total_items:
        result.add(
            RECORD_MISMATCH,
            f"the manifest counts {counted} items per resource but lists {manifest.total_items}",
        )


def _check_snapshots(
    store: persistence.BackupStore,
    name: str,
    result: Verification,
    snapshotter_for: SnapshotterFor | None,
) -> None:
    try:
        records = store.snapshots(name)
    except StoreError as exc:
        result.add(UNREADABLE, str(exc))
        return
    if snapshotter_for is None:
        result.volume_snapshots = len(records)
        return
    for record in records:
        what = (
            f"volume snapshot {record.snapshot_id} of PersistentVolume {record.persistent_volume}"
        )
        if record.phase != "Completed":
            result.add(SNAPSHOT_INCOMPLETE, f"{what}: recorded as {record.phase or 'unknown'}")
            continue
        try:
            status = snapshotter_for(record).snapshot_status(record.snapshot_id)
        except SnapshotNotFound:
            result.add(SNAPSHOT_MISSING, f"{what}: not found at provider {record.provider}")
            continue
        except (SnapshotError, KubeError, StoreError, OSError, ValueError) as exc:
            result.add(SNAPSHOT_UNCHECKED, f"{what}: cannot ask provider {record.provider}: {exc}")
            continue
        if status.phase is not SnapshotPhase.COMPLETED:
            detail = f" ({status.message})" if status.message else ""
            result.add(SNAPSHOT_INCOMPLETE, f"{what}: {status.phase}{detail}")
            continue
        result.volume_snapshots += 1


def status_patch(result: Verification, conditions: list[dict[str, Any]] | None) -> dict[str, Any]:
    """The Backup status a verification leaves: ``verification`` and condition Verified
    (reason ``Verified`` or the first problem's, message the counts)."""
    condition = control.condition(
        CONDITION, result.ok, reason=result.reason, message=result.summary()
    )
    return {
        "verification": result.status(),
        "conditions": control.set_condition(conditions, condition),
    }


def write_status(client: KubeClient, namespace: str, result: Verification) -> bool:
    """Write the verification into the Backup's status; False when the Backup is gone."""
    backup = control.get(client, control.BACKUP, namespace, result.name)
    if backup is None:
        return False
    conditions = (backup.get("status") or {}).get("conditions")
    patch = status_patch(result, conditions)
    return control.patch_status(client, control.BACKUP, namespace, result.name, patch)


def snapshotters(client: KubeClient, namespace: str) -> SnapshotterFor:
    """Each snapshot record's VolumeSnapshotLocation opened (once per location): ``deep``."""
    opened: dict[str, VolumeSnapshotter] = {}

    def snapshotter_for(snapshot: SnapshotRecord) -> VolumeSnapshotter:
        if snapshot.location not in opened:
            try:
                opened[snapshot.location] = control.open_vsl_snapshotter(
                    client, namespace, snapshot.location
                )
            except control.LocationError as exc:
                raise SnapshotError(str(exc)) from None
        return opened[snapshot.location]

    return snapshotter_for
