"""Object-store keys of a backup and of a restore, relative to the storage location's prefix.

Velero's layout (see DESIGN.md "Object-store layout"): ``backups/<name>/velero-backup.json``,
``backups/<name>/<name>.tar.gz`` and the files next to it; ``restores/<name>/restore-<name>-*``;
ark's own ``changelogs/<schedule>/<start>-<seq>.jsonl.gz`` (a schedule's change log, which
Velero does not know and ignores).
Pure functions of names; only the persistence layer uses them.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from ark.archive.layout import BackupName, RestoreName, backup_name, restore_name

BACKUPS = "backups/"
RESTORES = "restores/"
CHANGELOGS = "changelogs/"
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


_SEGMENT = re.compile(r"^(\d{8}T\d{6}\.\d{6}Z)-(\d{10})\.jsonl\.gz$")
_STAMP = "%Y%m%dT%H%M%S.%fZ"


@dataclass(frozen=True)
class SegmentName:
    """Where one segment of a change log sits: its start (UTC, microseconds) and its number in
    the log. Names sort by start, then number: the order the segments were written."""

    start: dt.datetime
    seq: int

    @property
    def file(self) -> str:
        return f"{self.start.astimezone(dt.UTC).strftime(_STAMP)}-{self.seq:010d}.jsonl.gz"

    @classmethod
    def parse(cls, file: str) -> SegmentName | None:
        """None for a name that is not a segment's (another tool's file is left alone)."""
        found = _SEGMENT.match(file)
        if found is None:
            return None
        start = dt.datetime.strptime(found[1], _STAMP).replace(tzinfo=dt.UTC)
        return cls(start=start, seq=int(found[2]))


@dataclass(frozen=True)
class ChangeLogKeys:
    """Object-store keys of one schedule's change log, relative to the location's prefix."""

    schedule: BackupName

    def __post_init__(self) -> None:
        backup_name(self.schedule)

    @property
    def prefix(self) -> str:
        return f"{CHANGELOGS}{self.schedule}/"

    def segment(self, name: SegmentName) -> str:
        return f"{self.prefix}{name.file}"
