"""ark's API: the custom resources (group ``ark.dev``, version ``v1``) as pydantic v2 models.

The CRDs in ``crds/`` are generated from these models (``python -m ark.api.crdgen``).
"""

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
