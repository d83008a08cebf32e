"""PersistentVolume bindings across a disaster.

A PersistentVolume with reclaim policy Retain outlives its namespace: it is Released, its
claimRef still naming the deleted claim's uid, so the restored claim could never bind. When the
restore meets such a volume, and the volume's claim is the one being restored, the stale uid is
cleared and the volume binds to the restored claim.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ark.kube import KubeApiError, KubeClient
from ark.persistence import SnapshotRecord
from ark.report import RunLog
from ark.snapshot import errors as snapshot_errors
from ark.snapshot.blocks import BlockTarget
from ark.snapshot.interface import (
    PV_TAG,
    RESTORE_TAG,
    RESTORE_UID_TAG,
    ClaimRestorer,
    SnapshotPhase,
    VolumeSnapshotter,
)

_T = TypeVar("_T")


def rebind_released(client: KubeClient, desired: dict[str, Any]) -> str | None:
    """Clear a Released volume's stale claim uid when ``desired`` (the PV as restored) claims
    the same namespace/name. Returns a note for the results, or None when nothing was done."""
    name = desired["metadata"]["name"]
    claim = (desired.get("spec") or {}).get("claimRef") or {}
    try:
        live = client.get(f"/api/v1/persistentvolumes/{name}")
    except KubeApiError:
        return None
    live_claim = (live.get("spec") or {}).get("claimRef") or {}
    if (live.get("status") or {}).get("phase") != "Released" or not claim:
        return None
    if (live_claim.get("namespace"), live_claim.get("name")) != (
        claim.get("namespace"),
        claim.get("name"),
    ):
        return None
    client.request(
        "PATCH",
        f"/api/v1/persistentvolumes/{name}",
        body={"spec": {"claimRef": {"uid": None, "resourceVersion": None}}},
        content_type="application/merge-patch+json",
    )
    return f"Released volume kept; its claim {claim['namespace']}/{claim['name']} can bind again"


# -- volumes from snapshots (restorePVs) ---------------------------------------------------
@dataclass(frozen=True)
class VolumeOptions:
    """How a restore brings volumes back from the backup's snapshots.

    ``snapshotters`` maps the backup's VolumeSnapshotLocation names to snapshotters (where the
    snapshots are). ``target``, when given, is where the new volumes go: a snapshot in another
    region is copied there first (a cross-region clone); ``zone`` is the zone for the new
    volumes (default: the original volume's zone, which a cross-region restore cannot use).
    """

    snapshotters: Mapping[str, VolumeSnapshotter]
    target: VolumeSnapshotter | None = None
    zone: str | None = None
    timeout: float = 3600.0
    target_blocks: BlockTarget | None = None
    """Block access to ``target``: a volume the backup exported (``spec.exportVolumes``) is
    imported there from the storage location, not copied, when ``target`` is in another
    region or cloud (the snapshot's own region may be gone)."""


Importer = Callable[[SnapshotRecord, str, Mapping[str, str]], "tuple[str, str] | None"]
"""(the snapshot's record, the zone, the tags) -> (snapshot id, volume id) of the volume
imported from the backup's export of that PV; None when the backup did not export it.
Raises SnapshotError (the target's, or the store's problem as one)."""


@dataclass(frozen=True)
class NewVolume:
    snapshotter: VolumeSnapshotter
    volume_id: str
    zone: str | None
    snapshot_id: str
    adopted: bool = False
    """Made by an interrupted attempt of the same restore (found by its uid tag), not now."""
    how: str = "snapshot"
    """snapshot, copied, imported or adopted (``RestoredVolume.how``)."""


@dataclass(frozen=True)
class ClaimSnapshot:
    """A volume its CSI driver provisions anew: the restored claim is made from the snapshot
    and the backed-up PersistentVolume is not restored."""

    snapshotter: ClaimRestorer
    snapshot_id: str
    persistent_volume: str
    source: Mapping[str, str] = field(default_factory=dict)
    """The record's ``source`` (the driver's snapshotHandle), so the claim is restored from it
    where the snapshot's own objects are not (another cluster); empty in older records."""

    def restore_claim(self, claim: Mapping[str, Any], *, tags: Mapping[str, str]) -> dict[str, Any]:
        return self.snapshotter.claim_from_snapshot(
            claim, snapshot_id=self.snapshot_id, tags=tags, source=self.source or None
        )


def claim_snapshots(
    records: list[SnapshotRecord], pv_names: set[str], options: VolumeOptions
) -> dict[str, ClaimSnapshot]:
    """Claim (``namespace/name`` as backed up) -> its snapshot, for the restored PVs whose
    snapshotter restores through claims (csi)."""
    out: dict[str, ClaimSnapshot] = {}
    for r in records:
        # typed object: mypy (wrongly) deems a VolumeSnapshotter never a ClaimRestorer
        snapshotter: object = options.snapshotters.get(r.location)
        if (
            r.persistent_volume in pv_names
            and r.phase == "Completed"
            and r.claim
            and isinstance(snapshotter, ClaimRestorer)
        ):
            out[r.claim] = ClaimSnapshot(snapshotter, r.snapshot_id, r.persistent_volume, r.source)
    return out


def _wait_snapshot(snapshotter: VolumeSnapshotter, snapshot_id: str, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        status = snapshotter.snapshot_status(snapshot_id)
        if status.phase is SnapshotPhase.COMPLETED:
            return
        if status.phase is SnapshotPhase.FAILED:
            raise snapshot_errors.SnapshotError(f"snapshot {snapshot_id} failed: {status.message}")
        if time.monotonic() > deadline:
            raise snapshot_errors.SnapshotError(
                f"snapshot {snapshot_id} not ready after {timeout:.0f}s"
            )
        time.sleep(1.0)


def restore_tags(restore_name: str, pv: str, *, uid: str | None) -> dict[str, str]:
    """The tags of what a restore makes in the cloud for ``pv``; with the Restore's uid, a
    restarted attempt finds what the interrupted one made."""
    tags = {RESTORE_TAG: restore_name, PV_TAG: pv}
    if uid:
        tags[RESTORE_UID_TAG] = uid
    return tags


def _look(
    lister: Callable[[Mapping[str, str]], list[_T]],
    tags: Mapping[str, str] | None,
    *,
    pv: str,
    log: RunLog | None,
) -> list[_T]:
    """What ``lister`` finds tagged ``tags`` (None: nothing is looked for). A failed look is
    logged and finds nothing: the volume is restored, at the risk of a duplicate."""
    if tags is None:
        return []
    try:
        return lister(tags)
    except snapshot_errors.SnapshotError as exc:
        if log is not None:
            log.warning(
                f"persistentvolume {pv}: cannot look for what an earlier attempt made: {exc}"
            )
        return []


def _adoptable(found: list[str], *, what: str, pv: str, log: RunLog | None) -> str | None:
    """The first of what an earlier attempt made (the cloud's list, sorted), if any."""
    if not found:
        return None
    extra = f" (and {len(found) - 1} more, left as they are: {', '.join(found[1:])})"
    if log is not None:
        log.info(
            f"persistentvolume {pv}: adopting {what} {found[0]} made by an interrupted attempt"
            + (extra if len(found) > 1 else "")
        )
    return found[0]


def create_volumes(
    records: list[SnapshotRecord],
    pv_names: set[str],
    options: VolumeOptions,
    *,
    restore_name: str,
    uid: str | None = None,
    log: RunLog | None = None,
    importer: Importer | None = None,
) -> tuple[dict[str, NewVolume], dict[str, str]]:
    """New volumes for the restored PVs that have a completed snapshot (in parallel).

    With an ``importer``, a volume whose target is in another region or cloud than its
    snapshot is imported from the backup's export when there is one (else copied as before).

    With the Restore's ``uid``, a volume (or cross-region snapshot copy) an earlier attempt of
    the same restore made for a PV, tagged with that uid, is adopted instead of made again;
    ``log`` is told of each adoption. Returns (PV name -> new volume, PV name -> why it could
    not be made)."""
    wanted = [
        r
        for r in records
        if r.persistent_volume in pv_names
        and r.phase == "Completed"
        and not isinstance(options.snapshotters.get(r.location), ClaimRestorer)
    ]

    def one(record: SnapshotRecord) -> tuple[str, NewVolume | str]:
        pv = record.persistent_volume
        source = options.snapshotters.get(record.location)
        if source is None:
            return pv, (
                f"no snapshot location {record.location!r} to read snapshot {record.snapshot_id}"
            )
        target = options.target or source
        tags = restore_tags(restore_name, pv, uid=uid)
        ours = {RESTORE_UID_TAG: uid, PV_TAG: pv} if uid else None
        try:
            found = _look(target.volumes_tagged, ours, pv=pv, log=log)
            adopted = _adoptable([v.volume_id for v in found], what="volume", pv=pv, log=log)
            if adopted is not None:
                zone = found[0].zone
                return pv, NewVolume(
                    target, adopted, zone, record.snapshot_id, adopted=True, how="adopted"
                )
            elsewhere = (target.provider, target.region) != (record.provider, record.region)
            if importer is not None and elsewhere and options.zone:
                imported = importer(record, options.zone, tags)
                if imported is not None:
                    return pv, NewVolume(
                        target, imported[1], options.zone, imported[0], how="imported"
                    )
            snapshot_id = record.snapshot_id
            if target.region != record.region:
                copies = _look(target.snapshots_tagged, ours, pv=pv, log=log)
                copied = _adoptable(copies, what="snapshot copy", pv=pv, log=log)
                snapshot_id = copied or source.copy_snapshot(
                    snapshot_id, to_region=target.region, tags=tags
                )
                _wait_snapshot(target, snapshot_id, timeout=options.timeout)
            zone = options.zone or (record.zone if target.region == record.region else None)
            if zone is None and target.region != record.region:
                return pv, f"a volume in region {target.region} needs a zone (volumeZone)"
            volume_id = target.create_volume_from_snapshot(
                snapshot_id,
                zone=zone,
                volume_type=record.volume_type,
                iops=record.iops,
                tags=tags,
            )
        except snapshot_errors.SnapshotError as exc:
            return pv, f"cannot create a volume from its snapshot: {exc}"

        how = "snapshot" if snapshot_id == record.snapshot_id else "copied"
        return pv, NewVolume(target, volume_id, zone, snapshot_id, how=how)

    made: dict[str, NewVolume] = {}
    failed: dict[str, str] = {}
    if not wanted:
        return made, failed
    with ThreadPoolExecutor(max_workers=min(len(wanted), 16)) as pool:
        for pv, outcome in pool.map(one, wanted):
            if isinstance(outcome, NewVolume):
                made[pv] = outcome
            else:
                failed[pv] = outcome
    return made, failed
