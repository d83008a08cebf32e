"""Volume snapshots of a backup, as close to one instant as the clouds allow.

Every selected volume's snapshot is *started* at once (a thread each), the snapshot ids are
handed to ``on_started`` before anything waits (the operator records them in status, so a
restarted operator adopts them instead of taking new ones), and only then does the backup wait
for completion. The skew between the first and the last start is reported.

A snapshot started by an attempt killed before ``on_started`` recorded it is found by its tags
(the Backup's uid and the PV) and adopted too, so no snapshot is taken twice or orphaned.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from ark.persistence import SnapshotRecord
from ark.report import Issues, RunLog
from ark.snapshot import errors as snapshot_errors
from ark.snapshot.blocks import BlockSource
from ark.snapshot.interface import (
    BACKUP_TAG,
    BACKUP_UID_TAG,
    PV_TAG,
    SnapshotPhase,
    VolumeRef,
    VolumeSnapshotter,
)

POLL_INTERVAL = 1.0


@dataclass(frozen=True)
class SnapshotLocation:
    """A VolumeSnapshotLocation resolved to a snapshotter (provider, region, credentials)."""

    name: str
    snapshotter: VolumeSnapshotter
    blocks: BlockSource | None = None
    """Block access to its snapshots, when the backup exports them (``spec.exportVolumes``)."""


@dataclass
class SnapshotOutcome:
    records: list[SnapshotRecord] = field(default_factory=list)
    skew_seconds: float | None = None


def _claim(pv: Mapping[str, Any]) -> str | None:
    ref = (pv.get("spec") or {}).get("claimRef") or {}
    return f"{ref['namespace']}/{ref['name']}" if ref.get("name") else None


def _find(
    pv: Mapping[str, Any], locations: Sequence[SnapshotLocation]
) -> tuple[SnapshotLocation, VolumeRef] | None:
    for location in locations:
        volume = location.snapshotter.volume_of(pv)
        if volume is not None:
            return location, volume
    return None


def snapshot_volumes(
    pvs: Sequence[Mapping[str, Any]],
    *,
    backup_name: str,
    locations: Sequence[SnapshotLocation],
    issues: Issues,
    log: RunLog,
    adopt: Mapping[str, str] | None = None,
    on_started: Callable[[list[SnapshotRecord]], None] | None = None,
    timeout: float = 3600.0,
    uid: str | None = None,
) -> SnapshotOutcome:
    """Snapshot the cloud volumes behind ``pvs``. ``adopt`` maps PV names to snapshot ids a
    previous attempt already started: those are waited for, not taken again. With the
    Backup's ``uid``, the snapshots are tagged with it, and one a previous attempt started for
    a PV not in ``adopt`` is found by that tag and adopted."""
    adopt = adopt or {}
    targets: list[tuple[Mapping[str, Any], SnapshotLocation, VolumeRef]] = []
    for pv in pvs:
        name = pv["metadata"]["name"]
        try:
            found = _find(pv, locations)
        except snapshot_errors.SnapshotError as exc:
            issues.error(f"cannot find its volume: {exc}", resource="persistentvolumes", name=name)
            continue
        if found is None:
            log.info(f"persistentvolume {name}: no snapshot location handles this volume type")
            continue
        targets.append((pv, *found))
    if not targets:
        return SnapshotOutcome()

    def start(target: tuple[Mapping[str, Any], SnapshotLocation, VolumeRef]) -> SnapshotRecord:
        pv, location, volume = target
        name = pv["metadata"]["name"]
        record = SnapshotRecord(
            persistent_volume=name,
            location=location.name,
            provider=location.snapshotter.provider,
            region=volume.region,
            volume_id=volume.volume_id,
            snapshot_id="",
            claim=_claim(pv),
            zone=volume.zone,
            volume_type=volume.volume_type,
            iops=volume.iops,
            size_gib=volume.size_gib,
            encrypted=volume.encrypted,
        )
        if name in adopt:
            return replace(record, snapshot_id=adopt[name], started=time.time())
        tags = {
            BACKUP_TAG: backup_name,
            PV_TAG: name,
            "ark.dev/pvc": record.claim or "",
        }
        if uid:
            tags[BACKUP_UID_TAG] = uid
        started = time.time()
        try:
            found = _started_before(location, name, uid=uid, log=log)
            if found is not None:
                return replace(record, snapshot_id=found, started=started)
            snapshot_id = location.snapshotter.create_snapshot(volume, tags=tags)
        except snapshot_errors.SnapshotError as exc:
            return replace(record, phase="Failed", started=started, message=str(exc))
        return replace(record, snapshot_id=snapshot_id, started=started)

    with ThreadPoolExecutor(max_workers=min(len(targets), 32)) as pool:
        records = list(pool.map(start, targets))
    starts = [r.started for r in records if r.snapshot_id]
    skew = max(starts) - min(starts) if starts else None
    log.info(
        f"started {len(starts)} snapshots; skew between first and last start "
        f"{(skew or 0.0) * 1000:.0f} ms"
    )
    if on_started is not None:
        on_started(records)
    by_location = {loc.name: loc.snapshotter for loc in locations}
    records = _wait(records, by_location, timeout=timeout)
    for r in records:
        if r.phase != "Completed":
            issues.error(
                f"snapshot {r.snapshot_id or '(none)'} of volume {r.volume_id}: "
                f"{r.message or r.phase}",
                resource="persistentvolumes",
                name=r.persistent_volume,
            )
    return SnapshotOutcome(records=records, skew_seconds=skew)


def _started_before(
    location: SnapshotLocation, pv: str, *, uid: str | None, log: RunLog
) -> str | None:
    """A snapshot of ``pv`` an interrupted attempt of the backup with ``uid`` started (tagged,
    not recorded), or None."""
    if not uid:
        return None
    try:
        found = location.snapshotter.snapshots_tagged({BACKUP_UID_TAG: uid, PV_TAG: pv})
    except snapshot_errors.SnapshotError as exc:
        # A backup taken is worth more than a possible duplicate: snapshot anyway.
        log.warning(f"persistentvolume {pv}: cannot look for a snapshot to adopt: {exc}")
        return None
    if not found:
        return None
    more = f" ({len(found) - 1} more left as they are: {', '.join(found[1:])})" if found[1:] else ""
    log.info(
        f"persistentvolume {pv}: adopting snapshot {found[0]}, started by an interrupted "
        f"attempt{more}"
    )
    return found[0]


def _wait(
    records: list[SnapshotRecord],
    snapshotters: Mapping[str, VolumeSnapshotter],
    *,
    timeout: float,
) -> list[SnapshotRecord]:
    deadline = time.monotonic() + timeout
    pending = {i for i, r in enumerate(records) if r.phase == "InProgress"}
    while pending:
        for i in sorted(pending):
            r = records[i]
            try:
                status = snapshotters[r.location].snapshot_status(r.snapshot_id)
            except snapshot_errors.SnapshotError as exc:
                records[i] = replace(r, phase="Failed", message=str(exc))
                pending.discard(i)
                continue
            if status.phase is SnapshotPhase.COMPLETED:
                records[i] = replace(r, phase="Completed", source=dict(status.source))
                pending.discard(i)
            elif status.phase is SnapshotPhase.FAILED:
                records[i] = replace(r, phase="Failed", message=status.message)
                pending.discard(i)
        if pending and time.monotonic() > deadline:
            for i in pending:
                records[i] = replace(
                    records[i], phase="Failed", message=f"not completed after {timeout:.0f}s"
                )
            break
        if pending:
            time.sleep(POLL_INTERVAL)
    return records
