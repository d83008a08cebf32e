"""Reading what a backup left in a store, through ark's own (verifying) archive reader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ark import archive, persistence
from ark.storage import ObjectStore


def open_backup(store: ObjectStore, name: str, spool_dir: Path) -> archive.ArchiveIndex:
    backups = persistence.BackupStore(store)
    manifest = backups.manifest(name)
    assert manifest is not None, f"backup {name} has no manifest"
    with backups.open_archive(name) as src:
        return archive.spool(src, spool_dir=spool_dir, manifest=manifest)


def results(store: ObjectStore, name: str) -> dict[str, Any]:
    return persistence.BackupStore(store).backup_results(name)


def item_keys(index: archive.ArchiveIndex, *, namespace: str | None = None) -> set[str]:
    """``resource_dir/name`` of every item (in ``namespace`` when given)."""
    return {
        f"{i.resource_dir}/{i.name}" for i in index if namespace is None or i.namespace == namespace
    }
