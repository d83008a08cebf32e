"""Whole custom-resource objects (apiVersion, kind, metadata, spec, status) of ark's kinds."""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

from ark.api.backup import BackupSpec, BackupStatus
from ark.api.deletion import DeleteBackupRequestSpec, DeleteBackupRequestStatus
from ark.api.locations import (
    BackupStorageLocationSpec,
    BackupStorageLocationStatus,
    VolumeSnapshotLocationSpec,
    VolumeSnapshotLocationStatus,
)
from ark.api.restore import RestoreSpec, RestoreStatus
from ark.api.schedule import ScheduleSpec, ScheduleStatus
from ark.api.types import ObjectMeta


class Resource(BaseModel):
    """Base of the object models; ``from_wire``/``to_wire`` convert to and from API JSON."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    api_version: Literal["ark.dev/v1"] = Field(default="ark.dev/v1", alias="apiVersion")
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)

    @classmethod
    def from_wire(cls, obj: dict[str, Any]) -> Self:
        return cls.model_validate(obj)

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_unset=True)

    @property
    def name(self) -> str:
        return self.metadata.name or ""

    @property
    def namespace(self) -> str:
        return self.metadata.namespace or ""


class Backup(Resource):
    kind: Literal["Backup"] = "Backup"
    spec: BackupSpec = Field(default_factory=BackupSpec)
    status: BackupStatus | None = None


class Restore(Resource):
    kind: Literal["Restore"] = "Restore"
    spec: RestoreSpec
    status: RestoreStatus | None = None


class Schedule(Resource):
    kind: Literal["Schedule"] = "Schedule"
    spec: ScheduleSpec
    status: ScheduleStatus | None = None


class BackupStorageLocation(Resource):
    kind: Literal["BackupStorageLocation"] = "BackupStorageLocation"
    spec: BackupStorageLocationSpec
    status: BackupStorageLocationStatus | None = None


class VolumeSnapshotLocation(Resource):
    kind: Literal["VolumeSnapshotLocation"] = "VolumeSnapshotLocation"
    spec: VolumeSnapshotLocationSpec
    status: VolumeSnapshotLocationStatus | None = None


class DeleteBackupRequest(Resource):
    kind: Literal["DeleteBackupRequest"] = "DeleteBackupRequest"
    spec: DeleteBackupRequestSpec
    status: DeleteBackupRequestStatus | None = None


OBJECT_MODELS: dict[str, type[Resource]] = {
    "Backup": Backup,
    "Restore": Restore,
    "Schedule": Schedule,
    "BackupStorageLocation": BackupStorageLocation,
    "VolumeSnapshotLocation": VolumeSnapshotLocation,
    "DeleteBackupRequest": DeleteBackupRequest,
}
