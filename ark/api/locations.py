"""Where backups and snapshots go: BackupStorageLocation and VolumeSnapshotLocation."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, ClassVar, Self

from pydantic import Field, StringConstraints, model_validator

from ark.api.types import CelRule, Condition, Duration, Model

#: "aws", "azure", "gcp", "fs", or a plugin's own "example.com/name".
PROVIDER_PATTERN = r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(/[a-z0-9]([a-z0-9-]*[a-z0-9])?)?$"
Provider = Annotated[str, StringConstraints(min_length=1, max_length=253, pattern=PROVIDER_PATTERN)]
ConfigMap = dict[Annotated[str, StringConstraints(min_length=1, max_length=253)], str]


class SecretKeyRef(Model):
    """A key of a Secret in the operator's namespace."""

    name: str = Field(min_length=1, max_length=253, description="The Secret's name.")
    key: str = Field(min_length=1, max_length=253, description="The key within the Secret.")


class AccessMode(StrEnum):
    READ_WRITE = "ReadWrite"
    READ_ONLY = "ReadOnly"


class LocationPhase(StrEnum):
    AVAILABLE = "Available"
    UNAVAILABLE = "Unavailable"


class ObjectStorage(Model):
    bucket: str = Field(
        min_length=1, max_length=1024, description="Bucket, container or directory."
    )
    prefix: str | None = Field(
        default=None,
        max_length=1024,
        pattern=r"^[^/].*$",
        description="Folder inside the bucket for ark's data (no leading '/').",
    )


class ObjectLockMode(StrEnum):
    """S3 Object Lock's modes (Azure and GCS: an "unlocked" and a "locked" policy)."""

    GOVERNANCE = "Governance"
    COMPLIANCE = "Compliance"


class ObjectLock(Model):
    """Every object of a backup written here is locked against deletion (and overwriting) for
    ``days`` from the backup's start."""

    mode: ObjectLockMode = Field(
        description=(
            "Governance: a principal allowed to bypass governance retention may still delete. "
            "Compliance: nobody can, not even the account's root, before the lock ends."
        )
    )
    days: int = Field(ge=1, le=36500, description="How long each object stays locked.")

    @property
    def duration(self) -> dt.timedelta:
        return dt.timedelta(days=self.days)


class BackupStorageLocationSpec(Model):
    cel_rules: ClassVar[tuple[CelRule, ...]] = (
        CelRule(
            "self.provider != 'fs' || self.objectStorage.bucket.startsWith('/')",
            "for provider fs, objectStorage.bucket must be an absolute directory path",
            ".objectStorage.bucket",
        ),
    )

    provider: Provider = Field(description="Object-store provider: fs, aws, azure, gcp, …")
    object_storage: ObjectStorage
    config: ConfigMap | None = Field(
        default=None, description="Provider settings, e.g. region, s3Url, s3ForcePathStyle."
    )
    credential: SecretKeyRef | None = Field(
        default=None, description="Secret key holding the provider's credentials."
    )
    default: bool = Field(default=False, description="Used by backups that name no location.")
    access_mode: AccessMode = Field(
        default=AccessMode.READ_WRITE, description="ReadOnly: restore and sync only, no writes."
    )
    backup_sync_period: Duration | None = Field(
        default=None, description="How often to sync backups from the bucket (default 1m; 0 off)."
    )
    validation_frequency: Duration | None = Field(
        default=None, description="How often to check the location is reachable (default 1m)."
    )
    object_lock: ObjectLock | None = Field(
        default=None,
        description=(
            "Lock every object of each backup against deletion (S3 Object Lock: the bucket must "
            "be created with Object Lock enabled). A backup whose ttl is shorter is refused."
        ),
    )

    @model_validator(mode="after")
    def _fs_bucket_is_absolute(self) -> Self:
        if self.provider == "fs" and not self.object_storage.bucket.startswith("/"):
            raise ValueError(BackupStorageLocationSpec.cel_rules[0].message)
        return self


class BackupStorageLocationStatus(Model):
    phase: LocationPhase | None = None
    message: str | None = Field(default=None, description="Why the location is Unavailable.")
    last_validation_time: dt.datetime | None = None
    last_synced_time: dt.datetime | None = None
    conditions: list[Condition] | None = None


class VolumeSnapshotLocationSpec(Model):
    provider: Provider = Field(description="Snapshot provider: aws, azure, gcp, csi, …")
    config: ConfigMap | None = Field(
        default=None, description="Provider settings, e.g. region, resourceGroup, project."
    )
    credential: SecretKeyRef | None = None


class VolumeSnapshotLocationStatus(Model):
    phase: LocationPhase | None = None
    message: str | None = None
    conditions: list[Condition] | None = None
