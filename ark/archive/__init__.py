"""The backup archive format: tar paths, ark's manifest, a streaming writer and a
two-phase (check everything, then read) reader. Velero-compatible; see DESIGN.md.

Modules: ``layout`` (tar paths, name checks), ``manifest`` (checksums per
item, Velero's resource list), ``writer`` (``ArchiveWriter``), ``reader`` (``spool`` ->
``ArchiveIndex``; ``rebuild``: one from objects given one by one), ``tarread`` (safe
streaming walk over an untrusted tar.gz), ``errors``.
"""

from ark.archive.errors import (
    ArchiveError,
    CorruptArchive,
    DuplicateItem,
    HostileArchive,
    InvalidArchive,
    InvalidName,
    WriterClosed,
)
from ark.archive.layout import (
    BackupName,
    ResourceDir,
    RestoreName,
    TarPath,
    backup_name,
    restore_name,
)
from ark.archive.manifest import (
    Manifest,
    ManifestItem,
    build_resource_list,
    decode_manifest,
    decode_resource_list,
    encode_manifest,
    encode_manifest_chunks,
    encode_manifest_resource_list,
    encode_resource_list,
    encode_resource_list_chunks,
    resource_list,
)
from ark.archive.reader import (
    ArchiveIndex,
    CheckedArchive,
    IndexedItem,
    OwnerRef,
    check,
    read_metadata_version,
    rebuild,
    spool,
)
from ark.archive.tarread import Limits
from ark.archive.writer import DEFAULT_COMPRESS_LEVEL, ArchiveWriter, ItemRecord, NewItem, Sink

__all__ = [
    "DEFAULT_COMPRESS_LEVEL",
    "ArchiveError",
    "ArchiveIndex",
    "ArchiveWriter",
    "BackupName",
    "CheckedArchive",
    "CorruptArchive",
    "DuplicateItem",
    "HostileArchive",
    "IndexedItem",
    "InvalidArchive",
    "InvalidName",
    "ItemRecord",
    "Limits",
    "Manifest",
    "ManifestItem",
    "NewItem",
    "OwnerRef",
    "ResourceDir",
    "RestoreName",
    "Sink",
    "TarPath",
    "WriterClosed",
    "backup_name",
    "build_resource_list",
    "check",
    "decode_manifest",
    "decode_resource_list",
    "encode_manifest",
    "encode_manifest_chunks",
    "encode_manifest_resource_list",
    "encode_resource_list",
    "encode_resource_list_chunks",
    "read_metadata_version",
    "rebuild",
    "resource_list",
    "restore_name",
    "spool",
]
