"""ark's API: the custom resources (group ``ark.dev``, version ``v1``) as pydantic v2 models.

The CRDs in ``crds/`` are generated from these models (``python -m ark.api.crdgen``).

The names below are imported when first used, so ``ark.api.limits`` (plain constants, read
by the archive layer) can be imported without pydantic: verify's worker processes start in a
fraction of the time and memory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ark import _lazy

if TYPE_CHECKING:
    from ark.api.backup import BackupPhase, BackupSpec, BackupStatus, ResourceFilter
    from ark.api.deletion import DeleteBackupRequestSpec, DeleteBackupRequestStatus
    from ark.api.kinds import ALL_KINDS, BY_KIND, Kind
    from ark.api.locations import (
        AccessMode,
        BackupStorageLocationSpec,
        BackupStorageLocationStatus,
        LocationPhase,
        VolumeSnapshotLocationSpec,
        VolumeSnapshotLocationStatus,
    )
    from ark.api.objects import (
        OBJECT_MODELS,
        Backup,
        BackupStorageLocation,
        DeleteBackupRequest,
        Resource,
        Restore,
        Schedule,
        VolumeSnapshotLocation,
    )
    from ark.api.restore import ExistingResourcePolicy, RestorePhase, RestoreSpec, RestoreStatus
    from ark.api.schedule import RetentionPolicy, ScheduleSpec, ScheduleStatus
    from ark.api.types import API_VERSION, GROUP, VERSION, LabelSelector, parse_duration

_EXPORTS = {
    "BackupPhase": "ark.api.backup",
    "BackupSpec": "ark.api.backup",
    "BackupStatus": "ark.api.backup",
    "ResourceFilter": "ark.api.backup",
    "DeleteBackupRequestSpec": "ark.api.deletion",
    "DeleteBackupRequestStatus": "ark.api.deletion",
    "ALL_KINDS": "ark.api.kinds",
    "BY_KIND": "ark.api.kinds",
    "Kind": "ark.api.kinds",
    "AccessMode": "ark.api.locations",
    "BackupStorageLocationSpec": "ark.api.locations",
    "BackupStorageLocationStatus": "ark.api.locations",
    "LocationPhase": "ark.api.locations",
    "VolumeSnapshotLocationSpec": "ark.api.locations",
    "VolumeSnapshotLocationStatus": "ark.api.locations",
    "OBJECT_MODELS": "ark.api.objects",
    "Backup": "ark.api.objects",
    "BackupStorageLocation": "ark.api.objects",
    "DeleteBackupRequest": "ark.api.objects",
    "Resource": "ark.api.objects",
    "Restore": "ark.api.objects",
    "Schedule": "ark.api.objects",
    "VolumeSnapshotLocation": "ark.api.objects",
    "ExistingResourcePolicy": "ark.api.restore",
    "RestorePhase": "ark.api.restore",
    "RestoreSpec": "ark.api.restore",
    "RestoreStatus": "ark.api.restore",
    "RetentionPolicy": "ark.api.schedule",
    "ScheduleSpec": "ark.api.schedule",
    "ScheduleStatus": "ark.api.schedule",
    "API_VERSION": "ark.api.types",
    "GROUP": "ark.api.types",
    "VERSION": "ark.api.types",
    "LabelSelector": "ark.api.types",
    "parse_duration": "ark.api.types",
}
"""Each exported name -> the module that defines it."""

__all__ = [
    "ALL_KINDS",
    "API_VERSION",
    "BY_KIND",
    "GROUP",
    "OBJECT_MODELS",
    "VERSION",
    "AccessMode",
    "Backup",
    "BackupPhase",
    "BackupSpec",
    "BackupStatus",
    "BackupStorageLocation",
    "BackupStorageLocationSpec",
    "BackupStorageLocationStatus",
    "DeleteBackupRequest",
    "DeleteBackupRequestSpec",
    "DeleteBackupRequestStatus",
    "ExistingResourcePolicy",
    "Kind",
    "LabelSelector",
    "LocationPhase",
    "Resource",
    "ResourceFilter",
    "Restore",
    "RestorePhase",
    "RestoreSpec",
    "RestoreStatus",
    "RetentionPolicy",
    "Schedule",
    "ScheduleSpec",
    "ScheduleStatus",
    "VolumeSnapshotLocation",
    "VolumeSnapshotLocationSpec",
    "VolumeSnapshotLocationStatus",
    "parse_duration",
]


__getattr__ = _lazy.exports(__name__, _EXPORTS)
