"""The custom resources ark serves: names, models, printer columns — one table for the CRDs,
the operator and the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ark.api import backup, deletion, locations, restore, schedule
from ark.api.types import GROUP, VERSION, Model


@dataclass(frozen=True)
class Column:
    name: str
    json_path: str
    type: str = "string"
    description: str = ""
    priority: int = 0
    format: str | None = None

    def to_crd(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type, "jsonPath": self.json_path}
        if self.description:
            out["description"] = self.description
        if self.priority:
            out["priority"] = self.priority
        if self.format:
            out["format"] = self.format
        return out


AGE = Column("Age", ".metadata.creationTimestamp", "date")


@dataclass(frozen=True)
class Kind:
    """One custom resource kind of ark's API group."""

    kind: str
    plural: str
    short_names: tuple[str, ...]
    spec: type[Model]
    status: type[Model]
    columns: tuple[Column, ...]
    description: str
    spec_required: bool = True
    categories: tuple[str, ...] = field(default=("ark",))

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{GROUP}"

    @property
    def api_version(self) -> str:
        return f"{GROUP}/{VERSION}"


BACKUP = Kind(
    kind="Backup",
    plural="backups",
    short_names=("arkbackup", "abk"),
    spec=backup.BackupSpec,
    status=backup.BackupStatus,
    spec_required=False,
    description="A backup of the API objects (and volumes) of a cluster or a part of it.",
    columns=(
        Column("Phase", ".status.phase", description="Where the backup stands."),
        Column("Items", ".status.progress.itemsBackedUp", "integer", "Items written."),
        Column("Total", ".status.progress.totalItems", "integer", "Items expected.", priority=1),
        Column("Errors", ".status.errors", "integer"),
        Column("Warnings", ".status.warnings", "integer"),
        Column("Location", ".status.storageLocation", priority=1),
        Column("Expires", ".status.expiration", "date", "When the backup is garbage-collected."),
        AGE,
    ),
)
RESTORE = Kind(
    kind="Restore",
    plural="restores",
    short_names=("arkrestore", "ars"),
    spec=restore.RestoreSpec,
    status=restore.RestoreStatus,
    description="A restore of a backup into this cluster, optionally under new namespace names.",
    columns=(
        Column("Backup", ".status.backupName", description="The backup restored."),
        Column("Phase", ".status.phase"),
        Column("Items", ".status.progress.itemsRestored", "integer", "Items restored."),
        Column("Total", ".status.progress.totalItems", "integer", priority=1),
        Column("Errors", ".status.errors", "integer"),
        Column("Warnings", ".status.warnings", "integer"),
        AGE,
    ),
)
SCHEDULE = Kind(
    kind="Schedule",
    plural="schedules",
    short_names=("arkschedule", "asch"),
    spec=schedule.ScheduleSpec,
    status=schedule.ScheduleStatus,
    description="Backups taken on a cron schedule from a template, with retention.",
    columns=(
        Column("Schedule", ".spec.schedule", description="Cron expression (UTC)."),
        Column("Paused", ".spec.paused", "boolean"),
        Column("Phase", ".status.phase"),
        Column("Last Backup", ".status.lastBackup", "date"),
        Column("Next Run", ".status.nextRun", "date", priority=1),
        AGE,
    ),
)
BACKUP_STORAGE_LOCATION = Kind(
    kind="BackupStorageLocation",
    plural="backupstoragelocations",
    short_names=("arkbsl", "absl"),
    spec=locations.BackupStorageLocationSpec,
    status=locations.BackupStorageLocationStatus,
    description="An object-storage bucket (and prefix) where backups are kept.",
    columns=(
        Column("Provider", ".spec.provider"),
        Column("Bucket", ".spec.objectStorage.bucket"),
        Column("Prefix", ".spec.objectStorage.prefix", priority=1),
        Column("Phase", ".status.phase"),
        Column("Last Validated", ".status.lastValidationTime", "date"),
        Column("Access Mode", ".spec.accessMode"),
        Column("Default", ".spec.default", "boolean"),
        AGE,
    ),
)
VOLUME_SNAPSHOT_LOCATION = Kind(
    kind="VolumeSnapshotLocation",
    plural="volumesnapshotlocations",
    short_names=("arkvsl", "avsl"),
    spec=locations.VolumeSnapshotLocationSpec,
    status=locations.VolumeSnapshotLocationStatus,
    description="Where and how volume snapshots are taken: provider, region, credentials.",
    columns=(
        Column("Provider", ".spec.provider"),
        Column("Region", ".spec.config.region"),
        Column("Phase", ".status.phase"),
        AGE,
    ),
)
DELETE_BACKUP_REQUEST = Kind(
    kind="DeleteBackupRequest",
    plural="deletebackuprequests",
    short_names=("arkdbr", "adbr"),
    spec=deletion.DeleteBackupRequestSpec,
    status=deletion.DeleteBackupRequestStatus,
    description="A request to delete a backup, its archive, results and volume snapshots.",
    columns=(
        Column("Backup", ".spec.backupName"),
        Column("Phase", ".status.phase"),
        AGE,
    ),
)

ALL_KINDS: tuple[Kind, ...] = (
    BACKUP,
    RESTORE,
    SCHEDULE,
    BACKUP_STORAGE_LOCATION,
    VOLUME_SNAPSHOT_LOCATION,
    DELETE_BACKUP_REQUEST,
)
BY_KIND = {k.kind: k for k in ALL_KINDS}
