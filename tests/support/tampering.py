"""Tampering with a stored backup the ways an attacker with write access to the bucket would:
a flipped byte in the archive, another backup's manifest, no manifest, an altered manifest."""

from __future__ import annotations

import dataclasses

from ark import archive, persistence
from ark.storage import ObjectStore


def keys(name: str) -> persistence.BackupKeys:
    return persistence.BackupKeys(archive.backup_name(name))


def read(store: ObjectStore, key: str) -> bytes:
    with store.open_read(key) as src:
        return src.read()


def flip_byte(store: ObjectStore, name: str) -> None:
    """One byte in the middle of the archive, inverted."""
    key = keys(name).contents
    data = bytearray(read(store, key))
    data[len(data) // 2] ^= 0xFF
    store.put(key, bytes(data))


def swap_manifest(store: ObjectStore, name: str, other: str) -> None:
    """Backup ``other``'s manifest file in place of ``name``'s."""
    store.put(keys(name).manifest, read(store, keys(other).manifest))


def remove_manifest(store: ObjectStore, name: str) -> None:
    store.delete(keys(name).manifest)


def alter_manifest(store: ObjectStore, name: str) -> None:
    """The manifest rewritten with its first item's checksum replaced (still well-formed)."""
    manifest = persistence.BackupStore(store).manifest(name)
    assert manifest is not None
    items = list(manifest.items)
    items[0] = items[0]._replace(sha256="0" * 64)
    store.put(
        keys(name).manifest,
        archive.encode_manifest(dataclasses.replace(manifest, items=tuple(items))),
    )
