"""What a backup run produces: progress, the result, and the files uploaded next to the
archive (``velero-backup.json`` last, and only for a backup whose archive is complete)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import orjson

from ark import archive
from ark.api.backup import BackupPhase, BackupSpec
from ark.backup.metadata import backup_document
from ark.backup.volumes import SnapshotLocation, SnapshotRecord
from ark.report import Issues, RunLog, gzip_json
from ark.storage import ObjectStore


@dataclass
class Progress:
    total_items: int = 0
    items_backed_up: int = 0
    current_resource: str | None = None


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
    hooks_attempted: int = 0
    hooks_failed: int = 0

    @property
    def warnings(self) -> int:
        return len(self.issues.warnings)

    @property
    def errors(self) -> int:
        return len(self.issues.errors)


ProgressCallback = Callable[[Progress], None]


def upload(
    store: ObjectStore,
    keys: archive.BackupKeys,
    result: BackupResult,
    *,
    spec: BackupSpec,
    issues: Issues,
    log: RunLog,
) -> None:
    """Results, logs and snapshot records next to the manifest and the resource list (each
    is a request of its own, and gzip releases the GIL), then the Backup record, last. The
    manifest and the resource list, the big ones, go one after the other: each holds up to a
    part of its bytes in memory."""
    manifest = result.manifest

    def small_ones() -> None:
        store.put(keys.results, gzip_json(issues.results_document()))
        store.put(keys.logs, log.gzipped_chunks())
        if manifest is not None:
            snapshots = [r.to_velero(result.name) for r in result.volume_snapshots]
            store.put(keys.volume_snapshots, gzip_json(snapshots))

    def big_ones(m: archive.Manifest) -> None:
        # Level 1 as the archive: 13 MB of rows at 100,000 items take 0.3 s at the default.
        store.put(keys.manifest, archive.encode_manifest_chunks(m, compress_level=1))
        store.put(keys.resource_list, archive.encode_manifest_resource_list(m))

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="ark-results") as pool:
        futures = [pool.submit(small_ones)]
        if manifest is not None:
            futures.append(pool.submit(big_ones, manifest))
        for future in futures:
            future.result()  # the first failure (a StoreError) fails the backup
    if manifest is None:
        return
    document = backup_document(result.name, spec, result)
    store.put(keys.metadata, orjson.dumps(document, option=orjson.OPT_INDENT_2))
