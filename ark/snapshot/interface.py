"""The contract every volume-snapshot provider implements.

Providers are found through the entry-point group ``ark.volume_snapshotters``; each entry point
names a factory ``open_snapshotter(*, region, config, credentials) -> VolumeSnapshotter``. A
provider that works through the cluster (``csi``) also takes ``kube`` (a KubeClient) and is
given the caller's; cloud providers do not take it.

Zones are written the way Kubernetes labels write them (``topology.kubernetes.io/zone``):
``us-east-1a`` on AWS, ``eastus-1`` on Azure, ``us-central1-a`` on GCP. A volume replicated
across zones (a GCE regional PD) has the multi-zone form ``us-central1-a__us-central1-b``
(Kubernetes' ``__`` delimiter). ``None`` means the volume has no zone (an Azure non-zonal disk).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ark.snapshot import errors

MULTI_ZONE_DELIMITER = "__"
BACKUP_TAG = "ark.dev/backup"
"""The tag naming the backup a snapshot was taken for (``create_snapshot``'s tags)."""
BACKUP_UID_TAG = "ark.dev/backup-uid"
"""The Backup's uid on its snapshots: a restarted attempt finds (and adopts) what the
interrupted one started, never another run's of the same name."""
RESTORE_TAG = "ark.dev/restore"
RESTORE_UID_TAG = "ark.dev/restore-uid"
"""The Restore's uid on the volumes and snapshot copies it makes (see BACKUP_UID_TAG)."""
PV_TAG = "ark.dev/pv"
"""The PersistentVolume a snapshot or restored volume is for."""

PersistentVolume = Mapping[str, Any]
"""A PersistentVolume as the API server returns it (plain JSON, camelCase keys)."""


@dataclass(frozen=True)
class VolumeRef:
    """A cloud volume behind a PersistentVolume, with what a restore needs to recreate it."""

    volume_id: str
    """The provider's id: ``vol-…`` (AWS), an ARM disk id (Azure),
    ``projects/P/zones/Z/disks/D`` or ``projects/P/regions/R/disks/D`` (GCP)."""
    region: str
    zone: str | None
    pv_name: str = ""
    volume_type: str | None = None
    """``gp3``/``io2`` (AWS), ``Premium_LRS`` (Azure), ``pd-ssd`` (GCP)."""
    iops: int | None = None
    size_gib: int | None = None
    encrypted: bool = False
    kms_key_id: str | None = None
    """KMS key ARN (AWS), disk encryption set id (Azure), KMS key name (GCP)."""


class SnapshotPhase(enum.StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(frozen=True)
class SnapshotStatus:
    phase: SnapshotPhase
    progress: int | None = None
    """Percent done, where the cloud reports it."""
    message: str = ""
    source: Mapping[str, str] = field(default_factory=dict)
    """Once completed, what finds the snapshot beyond the id, where the provider has it (csi:
    the driver and its ``snapshotHandle``, so a restore reaches the snapshot from any cluster on
    the same storage); the backup keeps it in the snapshot's record."""


@runtime_checkable
class VolumeSnapshotter(Protocol):
    """Snapshots of one cloud's block volumes, bound to one region (and account/project).

    Snapshot ids are what the cloud calls them: ``snap-…`` (AWS, regional: an id returned by
    ``copy_snapshot`` belongs to ``to_region``, use a snapshotter for that region with it), an ARM
    snapshot id (Azure, usable from any region), a snapshot name (GCP, global), a
    VolumeSnapshotContent name (csi, in the cluster that took it; its ``SnapshotStatus.source``
    finds it from other clusters).
    """

    @property
    def provider(self) -> str: ...

    @property
    def region(self) -> str: ...

    def volume_of(self, pv: PersistentVolume) -> VolumeRef | None:
        """The cloud volume behind ``pv`` (described through the cloud's API), or None when the
        PV is not one of this provider's volumes. Raises VolumeNotFound when it should be but the
        cloud does not know it."""
        ...

    def create_snapshot(self, volume: VolumeRef, *, tags: Mapping[str, str]) -> str:
        """Start a snapshot and return its id at once; poll ``snapshot_status`` for completion."""
        ...

    def snapshot_status(self, snapshot_id: str) -> SnapshotStatus:
        """Raises SnapshotNotFound for an unknown id."""
        ...

    def create_volume_from_snapshot(
        self,
        snapshot_id: str,
        *,
        zone: str | None,
        volume_type: str | None = None,
        iops: int | None = None,
        tags: Mapping[str, str],
    ) -> str:
        """Create a volume in ``zone`` and return its id once the cloud has accepted it (the
        volume may still be initialising). Encryption follows the snapshot."""
        ...

    def copy_snapshot(self, snapshot_id: str, *, to_region: str, tags: Mapping[str, str]) -> str:
        """Start a copy of the snapshot in another region; returns the copy's id."""
        ...

    def delete_snapshot(
        self, snapshot_id: str, *, owner_tags: Mapping[str, str] | None = None
    ) -> None:
        """Delete a snapshot; a snapshot that does not exist is not an error. With
        ``owner_tags``, only a snapshot the cloud says carries at least one of these tags (key
        and value, as ``create_snapshot`` wrote them) is deleted; another raises NotOwned."""
        ...

    def delete_volume(self, volume_id: str, *, owner_tags: Mapping[str, str]) -> None:
        """Delete a volume a restore made (``create_volume_from_snapshot``). Only a volume the
        cloud says carries every one of ``owner_tags`` (as the restore tagged it: its name and
        uid) is deleted; another raises NotOwned and is left, and empty ``owner_tags`` are
        refused. A volume that does not exist (or is being deleted) is not an error. A volume
        the cloud will not delete (attached, locked) raises OperationFailed saying why. For
        csi, ``volume_id`` is the handle of a volume its driver provisioned for a restored
        claim (see ``CsiSnapshotter.delete_volume``)."""
        ...

    def set_volume_id(
        self, pv: PersistentVolume, *, volume_id: str, zone: str | None
    ) -> dict[str, Any]:
        """A copy of ``pv`` pointing at another volume: its id, zone labels and node affinity."""
        ...

    def volumes_tagged(self, tags: Mapping[str, str]) -> list[VolumeRef]:
        """The volumes (as ``create_volume_from_snapshot`` made them) that carry every one of
        ``tags``, found through the cloud's list API; volumes being deleted or failed are left
        out. Only ``volume_id``, ``region`` and ``zone`` are filled in. A provider whose
        volumes come back through claims (csi) finds none."""
        ...

    def snapshots_tagged(self, tags: Mapping[str, str]) -> list[str]:
        """Ids of the snapshots (as ``create_snapshot`` or ``copy_snapshot`` made them in this
        region) that carry every one of ``tags``; failed ones and ones being deleted are left
        out."""
        ...


@runtime_checkable
class ClaimRestorer(Protocol):
    """A snapshotter whose volumes come back through the cluster (``csi``): the restored claim
    names the snapshot as its ``dataSource`` and the volume's driver provisions a new volume, so
    the backed-up PersistentVolume is not restored and ``create_volume_from_snapshot`` is not
    used."""

    def claim_from_snapshot(
        self,
        claim: Mapping[str, Any],
        *,
        snapshot_id: str,
        tags: Mapping[str, str],
        source: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Make the snapshot available in the claim's namespace and return a copy of ``claim``
        (already transformed for the restore) that the driver provisions from it. ``source`` is
        the completed snapshot's ``SnapshotStatus.source`` as the backup recorded it (none in
        older records)."""
        ...


def check_owner(
    snapshot_id: str, found: Mapping[str, str], owner_tags: Mapping[str, str] | None
) -> None:
    """Raise NotOwned unless ``found`` (a snapshot's tags, as its cloud reports them) has one
    of ``owner_tags``; None asks nothing."""
    if owner_tags is None or any(found.get(k) == v for k, v in owner_tags.items()):
        return
    raise errors.NotOwned(snapshot_id, owner_tags, found)


def check_volume_owner(
    volume_id: str, found: Mapping[str, str], owner_tags: Mapping[str, str]
) -> None:
    """Raise NotOwned unless ``found`` (a volume's tags, as its cloud reports them) has every
    one of ``owner_tags``, which must not be empty: ark deletes only volumes it tagged."""
    if not owner_tags or not has_tags(found, owner_tags):
        raise errors.NotOwned(volume_id, owner_tags, found, what="volume", every=True)


def has_tags(found: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    """Whether ``found`` (a resource's tags, as its cloud reports them) has every one of
    ``wanted``: checked again after the cloud's own filter, so a loose filter adopts nothing
    foreign."""
    return all(found.get(k) == v for k, v in wanted.items())


def owner_tags(backup: str) -> dict[str, str]:
    """The tags that mark a snapshot as taken for ``backup``: ark's, or Velero's (a backup
    Velero wrote, synced and deleted by ark)."""
    return {BACKUP_TAG: backup, "velero.io/backup": backup}
