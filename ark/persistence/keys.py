"""Object-store keys of a backup and of a restore, relative to the storage location's prefix.

Velero's layout (see DESIGN.md "Object-store layout"): ``backups/<name>/velero-backup.json``,
``backups/<name>/<name>.tar.gz`` and the files next to it; ``restores/<name>/restore-<name>-*``.
Pure functions of names; only the persistence layer uses them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ark.archive.layout import BackupName, RestoreName, backup_name, restore_name

BACKUPS = "backups/"
RESTORES = "restores/"
RECORD_FILE = "velero-backup.json"


@dataclass(frozen=True)
class BackupKeys:
    """Object-store keys of one backup, relative to the storage location's prefix."""

    name: BackupName

    def __post_init__(self) -> None:
        backup_name(self.name)

    @property
    def prefix(self) -> str:
        return f"{BACKUPS}{self.name}/"

    def _key(self, suffix: str) -> str:
        return f"{self.prefix}{self.name}{suffix}"

    @property
    def metadata(self) -> str:
        """The Velero Backup object (``velero-backup.json``)."""
        return f"{self.prefix}{RECORD_FILE}"

    @property
    def contents(self) -> str:
        """The items tarball (``<name>.tar.gz``)."""
        return self._key(".tar.gz")

    @property
    def logs(self) -> str:
        return self._key("-logs.gz")

    @property
    def volume_snapshots(self) -> str:
        return self._key("-volumesnapshots.json.gz")

    @property
    def resource_list(self) -> str:
        return self._key("-resource-list.json.gz")

    @property
    def results(self) -> str:
        return self._key("-results.gz")

    @property
    def manifest(self) -> str:
        """ark's own manifest (checksums per item); Velero ignores it."""
        return self._key("-manifest.json.gz")


@dataclass(frozen=True)
class RestoreKeys:
    """Object-store keys of one restore, relative to the storage location's prefix."""

    name: RestoreName

    def __post_init__(self) -> None:
        restore_name(self.name)

    @property
    def prefix(self) -> str:
        return f"{RESTORES}{self.name}/"

    @property
    def logs(self) -> str:
        return f"{self.prefix}restore-{self.name}-logs.gz"

    @property
    def results(self) -> str:
        return f"{self.prefix}restore-{self.name}-results.gz"
