"""The custom resources ark serves: names, models, printer columns — one table for the CRDs,
the operator and the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ark.api import backup, deletion, limits, locations, restore, schedule
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
    name_max: int = limits.NAME_MAX
    """The longest name; shorter than Kubernetes' where the name becomes a label value."""

    @property
    def name_rule(self) -> dict[str, str] | None:
        """The CRD rule holding names to ``name_max``, or None for Kubernetes' own limit (no
        fieldPath: the schema does not describe metadata, so the server refuses one there)."""
        if self.name_max >= limits.NAME_MAX:
            return None
        return {
            "rule": f"self.metadata.name.size() <= {self.name_max}",
            "message": f"a {self.kind} name may be at most {self.name_max} characters (it "
            "becomes a label value)",
        }

    def check_name(self, name: str) -> str | None:
        """Why ``name`` cannot name one of these, or None: a DNS-1123 subdomain, as the API
        server wants, within the kind's own length limit."""
        if len(name) > self.name_max:
            why = " (it becomes a label value)" if self.name_max < limits.NAME_MAX else ""
            return (
                f"a {self.kind} name may be at most {self.name_max} characters{why}; "
                f"{name[:20]!r}… has {len(name)}"
            )
        if not limits.DNS1123_SUBDOMAIN.fullmatch(name):
            return (
                f"invalid {self.kind} name {name!r}: must be a DNS-1123 subdomain: lowercase "
                "letters, digits, '-' and '.', starting and ending with a letter or digit"
            )
        return None

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
    name_max=limits.LABEL_VALUE_MAX,
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
    name_max=limits.LABEL_VALUE_MAX,
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
