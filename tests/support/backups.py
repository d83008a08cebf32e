"""Reading what a backup left in a store, through ark's own (verifying) archive reader."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson

from ark import archive, persistence
from ark.storage import ObjectStore


def open_backup(store: ObjectStore, name: str, spool_dir: Path) -> archive.ArchiveIndex:
    keys = persistence.BackupKeys(archive.backup_name(name))
    manifest = archive.decode_manifest(store.get(keys.manifest))
    with store.open_read(keys.contents) as src:
        return archive.spool(src, spool_dir=spool_dir, manifest=manifest)


def results(store: ObjectStore, name: str) -> dict[str, Any]:
    keys = persistence.BackupKeys(archive.backup_name(name))
    data: dict[str, Any] = orjson.loads(gzip.decompress(store.get(keys.results)))
    return data


def item_keys(index: archive.ArchiveIndex, *, namespace: str | None = None) -> set[str]:
    """``resource_dir/name`` of every item (in ``namespace`` when given)."""
    return {
        f"{i.resource_dir}/{i.name}" for i in index if namespace is None or i.namespace == namespace
    }
