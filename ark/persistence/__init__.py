"""What a backup and a restore keep in a storage location, and the one way to read and write it.

    store = persistence.BackupStore(objects)      # objects: an ark.storage.ObjectStore
    record = store.complete_record("nightly-1")   # velero-backup.json, or None
    with store.open_archive("nightly-1") as src: ...

Velero's layout (``backups/<name>/...``, ``restores/<name>/...``), so Velero reads ark's
backups and ark reads Velero's. Every read is bounded (``Limits``); a file over its limit or
garbage raises ``StoredFileError`` naming the file. No other package composes these keys.

Modules: ``store`` (``BackupStore``), ``keys`` (the layout, pure), ``record`` (the
``velero-backup.json`` document), ``snapshots`` (``SnapshotRecord``), ``reading`` (bounded
reads), ``limits``, ``errors``, ``encryption`` (what a location's keys encrypt, what the
record keeps of it); for exported volumes ``chunks`` (content-addressed blocks and how they
are named), ``volume_index`` (a volume's index) and ``transfer`` (blocks through a bounded
pool); ``_changelog`` (a schedule's change log: ``ChangeLog``, its segments).
"""

from ark.persistence._changelog import (
    SEGMENT_BYTES,
    ChangeLog,
    Checkpoint,
    Gap,
    Record,
    Resume,
    Segment,
    SegmentBuilder,
    Trailer,
    parse_stamp,
    stamp,
)
from ark.persistence.chunks import ChunkNaming, ChunkStore
from ark.persistence.encryption import (
    ENCRYPTION_ANNOTATION,
    RECORD_MAC_ANNOTATION,
    EncryptionError,
    sealed_of,
)
from ark.persistence.errors import BackupLocked, ManifestMismatch, StoredFileError
from ark.persistence.keys import RECORD_FILE, BackupKeys, RestoreKeys, SegmentName
from ark.persistence.limits import FileLimit, Limits
from ark.persistence.record import (
    MANIFEST_DIGEST_ANNOTATION,
    SPEC_ANNOTATION,
    STATUS_ANNOTATION,
    WRITER_ANNOTATION,
    RecordStatus,
    backup_record,
    lock_status,
    manifest_digest_of,
    spec_from_document,
    writer_of,
    written_by_ark,
)
from ark.persistence.snapshots import SnapshotRecord
from ark.persistence.store import BackupStore, CompleteBackup, StoredManifest
from ark.persistence.volume_index import BlockEntry, VolumeIndex, VolumeSource

__all__ = [
    "ENCRYPTION_ANNOTATION",
    "MANIFEST_DIGEST_ANNOTATION",
    "RECORD_FILE",
    "RECORD_MAC_ANNOTATION",
    "SEGMENT_BYTES",
    "SPEC_ANNOTATION",
    "STATUS_ANNOTATION",
    "WRITER_ANNOTATION",
    "BackupKeys",
    "BackupLocked",
    "BackupStore",
    "BlockEntry",
    "ChangeLog",
    "Checkpoint",
    "ChunkNaming",
    "ChunkStore",
    "CompleteBackup",
    "EncryptionError",
    "FileLimit",
    "Gap",
    "Limits",
    "ManifestMismatch",
    "Record",
    "RecordStatus",
    "RestoreKeys",
    "Resume",
    "Segment",
    "SegmentBuilder",
    "SegmentName",
    "SnapshotRecord",
    "StoredFileError",
    "StoredManifest",
    "Trailer",
    "VolumeIndex",
    "VolumeSource",
    "backup_record",
    "lock_status",
    "manifest_digest_of",
    "parse_stamp",
    "sealed_of",
    "spec_from_document",
    "stamp",
    "writer_of",
    "written_by_ark",
]
