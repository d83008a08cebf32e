"""Where backups and snapshots go: BackupStorageLocation and VolumeSnapshotLocation."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, ClassVar, Self

from pydantic import Field, StringConstraints, model_validator

from ark.api import limits
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


KEY_ID_PATTERN = r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$"


class EncryptionKey(Model):
    """A key-encryption key: it wraps each backup's data key."""

    cel_rules: ClassVar[tuple[CelRule, ...]] = (
        CelRule(
            "self.provider != 'secret' || has(self.secret)",
            "provider secret needs secret: the Secret key holding the key material",
        ),
    )

    id: str = Field(
        pattern=KEY_ID_PATTERN,
        max_length=63,
        description="The key's id, kept with each backup it encrypts; never reuse one.",
    )
    provider: Provider = Field(
        default="secret",
        description=(
            "Where the key lives: secret (the key material in a Secret), or a key provider "
            "plugin's name (the ark.key_providers entry points)."
        ),
    )
    secret: SecretKeyRef | None = Field(
        default=None,
        description=(
            "provider secret: the Secret key holding 32 bytes of key, raw, base64 or hex "
            "(e.g. `openssl rand -base64 32`). Other providers: their credentials, if any."
        ),
    )
    config: ConfigMap | None = Field(
        default=None, description="The provider's settings (a KMS: the key's ARN, region, …)."
    )

    @model_validator(mode="after")
    def _secret_has_secret(self) -> Self:
        if self.provider == "secret" and self.secret is None:
            raise ValueError(EncryptionKey.cel_rules[0].message)
        return self


class Encryption(Model):
    """Client-side encryption (AES-256-GCM) of every file of each backup but its record."""

    cel_rules: ClassVar[tuple[CelRule, ...]] = (
        CelRule(
            "self.keys.exists(k, k.id == self.current)",
            "current must be the id of a key in keys",
            ".current",
        ),
        CelRule(
            "self.keys.all(k, self.keys.exists_one(j, j.id == k.id))",
            "each key id may appear once",
            ".keys",
        ),
    )

    current: str = Field(
        pattern=KEY_ID_PATTERN, max_length=63, description="The key new backups are encrypted with."
    )
    keys: list[EncryptionKey] = Field(
        min_length=1,
        max_length=limits.KEYS_MAX,
        description=(
            "Every key a backup here may be encrypted with: a backup restores while its key is "
            "listed (rotation: add a key, make it current, drop the old one once no backup "
            "needs it)."
        ),
    )

    @model_validator(mode="after")
    def _current_is_listed(self) -> Self:
        ids = [k.id for k in self.keys]
        if self.current not in ids:
            raise ValueError(Encryption.cel_rules[0].message)
        if len(set(ids)) != len(ids):
            raise ValueError(Encryption.cel_rules[1].message)
        return self


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

    encryption: Encryption | None = Field(
        default=None,
        description=(
            "Encrypt each backup written here with a data key of its own, wrapped by the "
            "current key (Velero cannot read such backups)."
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
