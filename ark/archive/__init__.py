"""The backup archive format: tar paths, ark's manifest, a streaming writer and a
two-phase (check everything, then read) reader. Velero-compatible; see DESIGN.md.

Modules: ``layout`` (tar paths, name checks), ``manifest`` (checksums per
item, Velero's resource list), ``writer`` (``ArchiveWriter``), ``reader`` (``spool`` ->
``ArchiveIndex``; ``rebuild``: one from objects given one by one; a single-process ``check``),
``checkpool`` (``check``: verify's check, segments in parallel processes), ``tarread`` (safe
streaming walk over an untrusted tar.gz), ``errors``.

The names below are imported when first used, so a worker process of a parallel check imports
only the modules it runs (each module less is memory less in every worker).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ark import _lazy

if TYPE_CHECKING:
    from ark.archive.checkpool import check
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
        Segment,
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
        read_metadata_version,
        rebuild,
        spool,
    )
    from ark.archive.tarread import Limits
    from ark.archive.writer import DEFAULT_COMPRESS_LEVEL, ArchiveWriter, ItemRecord, NewItem, Sink

_EXPORTS = {
    "check": "ark.archive.checkpool",
    "ArchiveError": "ark.archive.errors",
    "CorruptArchive": "ark.archive.errors",
    "DuplicateItem": "ark.archive.errors",
    "HostileArchive": "ark.archive.errors",
    "InvalidArchive": "ark.archive.errors",
    "InvalidName": "ark.archive.errors",
    "WriterClosed": "ark.archive.errors",
    "BackupName": "ark.archive.layout",
    "ResourceDir": "ark.archive.layout",
    "RestoreName": "ark.archive.layout",
    "TarPath": "ark.archive.layout",
    "backup_name": "ark.archive.layout",
    "restore_name": "ark.archive.layout",
    "Manifest": "ark.archive.manifest",
    "ManifestItem": "ark.archive.manifest",
    "Segment": "ark.archive.manifest",
    "build_resource_list": "ark.archive.manifest",
    "decode_manifest": "ark.archive.manifest",
    "decode_resource_list": "ark.archive.manifest",
    "encode_manifest": "ark.archive.manifest",
    "encode_manifest_chunks": "ark.archive.manifest",
    "encode_manifest_resource_list": "ark.archive.manifest",
    "encode_resource_list": "ark.archive.manifest",
    "encode_resource_list_chunks": "ark.archive.manifest",
    "resource_list": "ark.archive.manifest",
    "ArchiveIndex": "ark.archive.reader",
    "CheckedArchive": "ark.archive.reader",
    "IndexedItem": "ark.archive.reader",
    "OwnerRef": "ark.archive.reader",
    "read_metadata_version": "ark.archive.reader",
    "rebuild": "ark.archive.reader",
    "spool": "ark.archive.reader",
    "Limits": "ark.archive.tarread",
    "DEFAULT_COMPRESS_LEVEL": "ark.archive.writer",
    "ArchiveWriter": "ark.archive.writer",
    "ItemRecord": "ark.archive.writer",
    "NewItem": "ark.archive.writer",
    "Sink": "ark.archive.writer",
}
"""Each exported name -> the module that defines it."""

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
    "Segment",
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


__getattr__ = _lazy.exports(__name__, _EXPORTS)
