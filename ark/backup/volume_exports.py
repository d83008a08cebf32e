"""Exporting a backup's volume snapshots into its storage location (``spec.exportVolumes``).

The same code runs in the backup (the operator, after the snapshots complete and before the
backup's record is written) and later, for a backup already stored (``ark backup
export-volumes``): each completed snapshot whose location reads blocks (``sources``, by
location name) goes through ``export_volume``, one volume after the other (each export is
parallel inside), and every outcome is kept, a failure naming the volume and why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ark import control, persistence
from ark.backup.volume_export import export_volume
from ark.kube import KubeClient
from ark.persistence import SnapshotRecord, volume_index
from ark.report import RunLog
from ark.snapshot.blocks import BlockSource
from ark.snapshot.errors import SnapshotError
from ark.storage import StoreError

COMPLETED = "Completed"
FAILED = "Failed"


@dataclass(frozen=True)
class ExportOutcome:
    """One volume snapshot's export."""

    persistent_volume: str
    snapshot_id: str
    phase: str
    """Completed or Failed."""
    message: str | None = None
    size_bytes: int = 0
    totals: volume_index.Totals | None = None

    def __str__(self) -> str:
        if self.phase != COMPLETED or self.totals is None:
            return f"{self.persistent_volume}: {self.phase}: {self.message}"
        t = self.totals
        return (
            f"{self.persistent_volume}: {t.blocks} blocks, {t.logical_bytes} bytes, "
            f"{t.stored_bytes} stored, {t.new_bytes} new"
        )


def export_snapshots(
    store: persistence.BackupStore,
    backup: str,
    records: Sequence[SnapshotRecord],
    *,
    sources: Mapping[str, BlockSource],
    log: RunLog | None = None,
    workers: int = 8,
    in_flight: int = 32,
    on_progress: Callable[[str], None] | None = None,
) -> list[ExportOutcome]:
    """Export every completed snapshot of ``records`` (a backup's) into ``store``. A snapshot
    that did not complete is left out (its failure is the snapshot's); one in a location
    without block access fails, saying so. Never raises for a volume's problem.
    ``on_progress`` is told, after each block, which volume and how far (one line)."""
    outcomes: list[ExportOutcome] = []
    wanted = [r for r in records if r.phase == COMPLETED and r.snapshot_id]
    parents = parents_of(store, backup, wanted)
    for number, record in enumerate(wanted, 1):
        outcome = _export_one(
            store,
            backup,
            record,
            parent=parents.get(record.persistent_volume),
            source=sources.get(record.location),
            log=log,
            workers=workers,
            in_flight=in_flight,
            on_progress=_teller(on_progress, record.persistent_volume, number, len(wanted)),
        )
        if log is not None:
            say = log.info if outcome.phase == COMPLETED else log.error
            say(f"volume export: {outcome}")
        outcomes.append(outcome)
    return outcomes


def _teller(
    on_progress: Callable[[str], None] | None, pv: str, number: int, count: int
) -> Callable[[int, int], None]:
    """An export's progress as one line for ``on_progress``."""

    def tell(blocks: int, read: int) -> None:
        if on_progress is not None:
            on_progress(
                f"{pv}: {blocks} blocks, {read / 1e6:.1f} MB read (volume {number} of {count})"
            )

    return tell


def _export_one(
    store: persistence.BackupStore,
    backup: str,
    record: SnapshotRecord,
    *,
    parent: str | None,
    source: BlockSource | None,
    log: RunLog | None,
    workers: int,
    in_flight: int,
    on_progress: Callable[[int, int], None],
) -> ExportOutcome:
    pv, snap = record.persistent_volume, record.snapshot_id
    if source is None:
        why = f"VolumeSnapshotLocation {record.location} cannot read its snapshots' blocks"
        return ExportOutcome(pv, snap, FAILED, why)

    def export(parent: str | None) -> volume_index.VolumeIndex:
        return export_volume(
            store,
            backup,
            pv,
            source=source,
            snapshot_id=snap,
            volume_id=record.volume_id or None,
            parent=parent,
            workers=workers,
            in_flight=in_flight,
            on_progress=on_progress,
        )

    try:
        try:
            index = export(parent)
        except SnapshotError as exc:
            if parent is None:
                raise
            if log is not None:  # the parent's snapshot may be gone: every block, then
                log.warning(f"volume export: {pv}: not building on backup {parent}: {exc}")
            index = export(None)
    except (SnapshotError, StoreError) as exc:
        return ExportOutcome(pv, snap, FAILED, f"snapshot {snap}: {exc}")
    if log is not None and index.parent is not None:
        log.info(f"volume export: {pv}: only the blocks changed since backup {index.parent}")
    return ExportOutcome(pv, snap, COMPLETED, size_bytes=index.size_bytes, totals=index.totals)


def parents_of(
    store: persistence.BackupStore, backup: str, records: Sequence[SnapshotRecord]
) -> dict[str, str]:
    """The backup each export of ``records`` builds on, by PV: the other backup in the
    location whose export of the same volume (same PV, volume id, provider and region) came
    from the newest snapshot taken before the record's. A record that does not say its volume
    or time, or has no such backup, has none. The location is listed once, and each other
    backup's snapshot records are read once, however many volumes."""
    wanted = {r.persistent_volume: r for r in records if r.volume_id and r.started}
    best: dict[str, tuple[float, str]] = {}
    for name, volumes in sorted(store.every_exported_volume().items()):
        candidates = [v for v in volumes if v in wanted]
        if name == backup or not candidates:
            continue
        try:
            started = {r.snapshot_id: r.started for r in store.snapshots(name)}
        except (StoreError, ValueError):  # unreadable: not a parent (a full export is right)
            continue
        for pv in candidates:
            record = wanted[pv]
            try:
                source = store.volume_index(name, pv).source
            except (StoreError, ValueError):
                continue
            if (source.volume_id, source.provider, source.region) != (
                record.volume_id,
                record.provider,
                record.region,
            ):
                continue
            when = started.get(source.snapshot_id, 0.0)
            if 0.0 < when < record.started and (pv not in best or when > best[pv][0]):
                best[pv] = (when, name)
    return {pv: name for pv, (_, name) in best.items()}


def render(outcome: ExportOutcome) -> dict[str, Any]:
    """One ``status.volumeExports`` entry (VolumeExportStatus)."""
    totals = outcome.totals or volume_index.Totals()
    out: dict[str, Any] = {
        "persistentVolume": outcome.persistent_volume,
        "snapshotId": outcome.snapshot_id,
        "phase": outcome.phase,
        "message": outcome.message,
        "sizeBytes": outcome.size_bytes,
        "logicalBytes": totals.logical_bytes,
        "storedBytes": totals.stored_bytes,
        "newBytes": totals.new_bytes,
    }
    return {k: v for k, v in out.items() if v is not None}


def status_of(outcomes: Sequence[ExportOutcome]) -> dict[str, Any]:
    """The Backup status fields the exports fill (none when nothing was exported)."""
    if not outcomes:
        return {}
    return {
        "volumeExportsAttempted": len(outcomes),
        "volumeExportsCompleted": sum(1 for o in outcomes if o.phase == COMPLETED),
        "volumeExports": [render(o) for o in outcomes],
    }


def sources_of(
    client: KubeClient, namespace: str, records: Sequence[SnapshotRecord]
) -> tuple[dict[str, BlockSource], list[str]]:
    """Block access to each location ``records`` name (opened once each), and why a location
    has none (it is gone, or its provider cannot read blocks: GCE, Azure, CSI)."""
    sources: dict[str, BlockSource] = {}
    problems: list[str] = []
    for name in sorted({r.location for r in records if r.location}):
        try:
            obj = control.get_vsl(client, namespace, name)
            sources[name] = control.open_vsl_blocks(client, namespace, obj)
        except control.LocationError as exc:
            problems.append(str(exc))
    return sources, problems


def write_status(
    client: KubeClient, namespace: str, name: str, outcomes: Sequence[ExportOutcome]
) -> bool:
    """Write the exports into Backup ``name``'s status; False when the Backup is gone."""
    return control.patch_status(client, control.BACKUP, namespace, name, status_of(outcomes))
