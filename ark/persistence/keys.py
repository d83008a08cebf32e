"""Object-store keys of a backup and of a restore, relative to the storage location's prefix.

Velero's layout (see DESIGN.md "Object-store layout"): ``backups/<name>/velero-backup.json``,
``backups/<name>/<name>.tar.gz`` and the files next to it; ``restores/<name>/restore-<name>-*``.
Exported volume data: a backup's index per volume in ``backups/<name>/volumes/``, the chunks
they name (shared by every backup of the location) under ``plugins/ark/volumes/``: Velero marks
a location with unknown top-level folders Unavailable, and ``plugins/`` is the one it keeps for
its plugins' data. A schedule's change log: ``plugins/ark/changelogs/<cluster>/<schedule>/``
(segments ``<start>-<seq>.jsonl.gz``, gaps under ``gaps/``), one folder per writing cluster (its
kube-system namespace's uid): clusters sharing a bucket may have schedules of the same name.
Pure functions of names; only the persistence layer uses them.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from ark.api import limits
from ark.archive.layout import BackupName, RestoreName, backup_name, restore_name

BACKUPS = "backups/"
RESTORES = "restores/"
CHANGELOGS = "plugins/ark/changelogs/"
RECORD_FILE = "velero-backup.json"
VOLUMES = "plugins/ark/volumes/"
CHUNKS = f"{VOLUMES}chunks/"
NAMING_KEYS = f"{VOLUMES}naming-keys/"
INDEX_SUFFIX = ".index.json.gz"

_VOLUME_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_HEX = re.compile(r"^[0-9a-f]{64}$")
_KEY_ID = re.compile(r"^[0-9a-f]{16}$")
_CLUSTER = re.compile(limits.CLUSTER_UID_PATTERN)


def cluster_uid(value: str) -> str:
    """A cluster's uid (its kube-system namespace's: a UUID), which names its change logs'
    folder; ValueError else."""
    if not _CLUSTER.match(value):
        raise ValueError(f"{value!r:.80} is not a cluster uid (letters, digits and '-')")
    return value


def volume_name(value: str) -> str:
    """A PersistentVolume's name (a DNS subdomain), which names its index; ValueError else."""
    if not _VOLUME_NAME.match(value) or ".." in value:
        raise ValueError(f"{value!r} is not a PersistentVolume name (a DNS-1123 subdomain)")
    return value


def chunk_key(namespace: str, name: str) -> str:
    """``plugins/ark/volumes/chunks/<namespace>/<name[:2]>/<name>``: the two-character fan-out
    keeps a filesystem store's directories small and spreads S3's request partitions."""
    if not _HEX.match(name):
        raise ValueError(f"{name!r} is not a chunk name (64 lowercase hex digits)")
    return f"{CHUNKS}{namespace}/{name[:2]}/{name}"


def naming_key(key_id: str) -> str:
    """The wrapped key that names an encrypted location's chunks."""
    if not _KEY_ID.match(key_id):
        raise ValueError(f"{key_id!r} is not a chunk-naming key id (16 lowercase hex digits)")
    return f"{NAMING_KEYS}{key_id}.json"


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

    @property
    def volumes(self) -> str:
        """The folder of the backup's exported-volume indexes."""
        return f"{self.prefix}volumes/"

    def volume_index(self, volume: str) -> str:
        """The index of one exported volume, named by its PersistentVolume."""
        return f"{self.volumes}{volume_name(volume)}{INDEX_SUFFIX}"


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
    """Object-store keys of one cluster's change log of one schedule, relative to the
    location's prefix."""

    cluster: str
    schedule: BackupName

    def __post_init__(self) -> None:
        cluster_uid(self.cluster)
        backup_name(self.schedule)

    @property
    def prefix(self) -> str:
        return f"{CHANGELOGS}{self.cluster}/{self.schedule}/"

    def segment(self, name: SegmentName) -> str:
        return f"{self.prefix}{name.file}"
