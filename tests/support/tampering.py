"""Tampering with a stored backup the ways an attacker with write access to the bucket would:
a flipped byte in the archive, another backup's manifest, no manifest, an altered manifest."""

from __future__ import annotations

import dataclasses
import zlib

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


def change_in_segment(
    data: bytes, manifest: archive.Manifest, segment: int, change: bytes
) -> bytes:
    """The archive with the first ``"v":"`` value of ``segment`` overwritten by ``change``
    (same length) and the segment's gzip member compressed again, padded with zeros to its
    old size (gzip readers skip zeros between members): the gzip stream stays whole and the
    segments where they were, only that item's checksum tells."""
    start = manifest.segments[segment].archive_offset
    end = manifest.segments[segment + 1].archive_offset
    tar = zlib.decompress(data[start:end], zlib.MAX_WBITS | 16)
    at = tar.index(b'"v":"') + 5
    tar = tar[:at] + change + tar[at + len(change) :]
    z = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    member = z.compress(tar) + z.flush()
    assert len(member) <= end - start, "the change made the member larger"
    return data[:start] + member.ljust(end - start, b"\x00") + data[end:]


def change_item_in_segment(store: ObjectStore, name: str, segment: int) -> None:
    """:func:`change_in_segment` on a stored (unencrypted) backup."""
    manifest = persistence.BackupStore(store).manifest(name)
    assert manifest is not None
    key = keys(name).contents
    store.put(key, change_in_segment(read(store, key), manifest, segment, b"x" * 20))
