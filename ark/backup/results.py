"""What a backup run produces: progress, the result, and the files kept next to the archive
(the record last, and only for a backup whose archive is complete)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ark import archive, persistence
from ark.api.backup import BackupPhase, BackupSpec
from ark.backup.volume_exports import ExportOutcome
from ark.backup.volumes import SnapshotLocation
from ark.persistence import SnapshotRecord
from ark.report import Issues, RunLog
from ark.storage import Retention


@dataclass
class Progress:
    total_items: int = 0
    items_backed_up: int = 0
    current_resource: str | None = None
    current_volume_export: str | None = None


@dataclass(frozen=True)
class SnapshotOptions:
    """How a backup snapshots volumes: where, which snapshots to adopt, whom to tell."""

    locations: Sequence[SnapshotLocation]
    adopt: Mapping[str, str] = field(default_factory=dict)
    """PV name -> snapshot id started by an earlier attempt of this backup (from status)."""
    on_started: Callable[[list[SnapshotRecord]], None] | None = None
    """Called with the snapshot ids once all are started, before waiting for them."""
    timeout: float = 3600.0


@dataclass
class BackupResult:
    name: str
    phase: BackupPhase
    started: dt.datetime
    completed: dt.datetime
    expiration: dt.datetime | None
    progress: Progress
    issues: Issues
    manifest: archive.Manifest | None
    failure_reason: str | None = None
    cluster_version: str | None = None
    cluster_uid: str | None = None
    """The uid of the backed-up cluster's kube-system namespace: who wrote the backup."""
    per_resource: dict[str, int] = field(default_factory=dict)
    volume_snapshots: list[SnapshotRecord] = field(default_factory=list)
    snapshot_skew_seconds: float | None = None
    volume_exports: list[ExportOutcome] = field(default_factory=list)
    hooks_attempted: int = 0
    hooks_failed: int = 0
    manifest_digest: str | None = None
    """SHA-256 of the manifest file as stored; the record keeps it too (tamper evidence)."""
    encryption_key: str | None = None
    """The id of the key that wraps the backup's data key; None when stored unencrypted."""
    object_lock: Retention | None = None
    """The retention every object of the backup is to get (its location's objectLock)."""

    @property
    def warnings(self) -> int:
        return len(self.issues.warnings)

    @property
    def errors(self) -> int:
        return len(self.issues.errors)


ProgressCallback = Callable[[Progress], None]


def upload(
    store: persistence.BackupStore,
    result: BackupResult,
    *,
    spec: BackupSpec,
    issues: Issues,
    log: RunLog,
) -> str | None:
    """Results and log; for a backup whose archive is complete, its snapshot records,
    manifest and resource list, then its record, last; all locked with ``result.object_lock``
    when set. Returns the stored manifest's SHA-256 (None for a backup whose archive is not
    complete)."""
    complete: persistence.CompleteBackup | None = None
    if result.manifest is not None:
        complete = persistence.CompleteBackup(
            manifest=result.manifest,
            snapshots=result.volume_snapshots,
            record=persistence.backup_record(result.name, spec, record_status(result)),
        )
    return store.put_backup(
        result.name,
        results=issues.results_document(),
        log=log,
        complete=complete,
        retention=result.object_lock if complete is not None else None,
    )


def record_status(result: BackupResult) -> persistence.RecordStatus:
    return persistence.RecordStatus(
        phase=result.phase,
        started=result.started,
        completed=result.completed,
        expiration=result.expiration,
        total_items=result.progress.total_items,
        items_backed_up=result.progress.items_backed_up,
        warnings=result.warnings,
        errors=result.errors,
        hooks_attempted=result.hooks_attempted,
        hooks_failed=result.hooks_failed,
        cluster_version=result.cluster_version,
        cluster_uid=result.cluster_uid,
        lock=result.object_lock,
    )
