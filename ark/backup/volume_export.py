"""Export a volume snapshot's blocks into its backup's storage location.

    index = volume_export.export_volume(
        store, "nightly-2", "pv-data", source=ebs, snapshot_id="snap-…", parent="nightly-1"
    )

Reads every written block of the snapshot or, when ``parent`` (an earlier backup) exported
the same volume from the same provider with the same chunk naming, only the blocks changed
since the parent's snapshot (the others are the parent's chunks). Zero blocks are left out;
each other block is named (``ark.persistence.chunks``) and stored unless its chunk is there
already, from this volume, another volume or another backup. ``workers`` threads read, hash,
compress and upload, holding at most ``in_flight`` blocks. The index goes last: a crash
leaves no index, and the rerun reads the blocks again but uploads only the chunks still
missing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from ark import persistence
from ark.persistence import chunk_gc, chunks, transfer, volume_index
from ark.snapshot.blocks import Block, BlockSource
from ark.storage import ObjectNotFound

_log = logging.getLogger("ark.backup")


@dataclass(frozen=True, slots=True)
class _Outcome:
    index: int
    entry: volume_index.BlockEntry | None
    """None: the block is zero (or gone from the snapshot)."""
    read: int
    new_bytes: int | None
    """The stored size of a chunk this export added; None when it was there."""


class _Uploads:
    """Which chunks this export stored or found, so a block seen twice (the same content
    twice in a volume, or in flight at once) costs one look-up and at most one upload."""

    def __init__(self, store: chunks.ChunkStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._sizes: dict[str, Future[int]] = {}

    def ensure(self, name: str, block: bytes) -> tuple[int, bool]:
        """(the chunk's stored size, whether this call stored it)."""
        with self._lock:
            claimed = self._sizes.get(name)
            if claimed is None:
                claimed = self._sizes[name] = Future()
                mine = True
            else:
                mine = False
        if not mine:
            return claimed.result(), False
        try:
            size = self._store.stored_size(name)
            stored = size is None
            if size is None:
                size = self._store.put(name, block)
        except BaseException as exc:
            claimed.set_exception(exc)
            raise
        claimed.set_result(size)
        return size, stored


def _parent_index(
    store: persistence.BackupStore,
    parent: str | None,
    volume: str,
    *,
    source: BlockSource,
    naming: chunks.ChunkNaming,
    size_bytes: int,
    volume_id: str | None,
) -> volume_index.VolumeIndex | None:
    """The parent's index of ``volume`` when this export can build on it, else None."""
    if parent is None:
        return None
    try:
        found = store.volume_index(parent, volume)
    except ObjectNotFound:
        _log.info("backup %s exported no volume %s: a full export", parent, volume)
        return None
    why = None
    if (found.source.provider, found.source.region) != (source.provider, source.region):
        why = f"its snapshot is in {found.source.provider} {found.source.region}"
    elif volume_id and found.source.volume_id and found.source.volume_id != volume_id:
        why = f"it exported volume {found.source.volume_id}, not {volume_id}"
    elif not naming.same_as(found.naming, found.naming_key):
        why = "its chunks are named another way (the location's encryption changed)"
    elif (found.block_size, found.size_bytes) != (source.block_size, size_bytes):
        why = "the volume's size or block size changed"
    if why is not None:
        _log.info("volume %s: not building on backup %s: %s", volume, parent, why)
        return None
    return found


def _read_blocks(
    chunk_store: chunks.ChunkStore,
    source: BlockSource,
    snapshot_id: str,
    *,
    base: volume_index.VolumeIndex | None,
    entries: dict[int, volume_index.BlockEntry],
    workers: int,
    in_flight: int,
    on_block: Callable[[int], None],
) -> tuple[int, int, int]:
    """Read the snapshot's (changed) blocks into ``entries``, storing the chunks missing;
    returns (bytes read, chunks added, their stored bytes)."""
    if base is None:
        blocks = source.blocks(snapshot_id)
    else:
        blocks = source.changed_blocks(base.source.snapshot_id, snapshot_id)
    uploads = _Uploads(chunk_store)

    def one(block: Block) -> _Outcome:
        if block.token is None:
            return _Outcome(block.index, None, 0, None)
        data = source.read(snapshot_id, block)
        if chunks.is_zero(data):
            return _Outcome(block.index, None, len(data), None)
        name = chunk_store.name_of(data)
        size, stored = uploads.ensure(name, data)
        entry = volume_index.BlockEntry(block.index, name, size)
        return _Outcome(block.index, entry, len(data), size if stored else None)

    read_bytes = new_chunks = new_bytes = 0
    for outcome in transfer.bounded(one, blocks, workers=workers, in_flight=in_flight):
        read_bytes += outcome.read
        on_block(read_bytes)
        if outcome.new_bytes is not None:
            new_chunks += 1
            new_bytes += outcome.new_bytes
        if outcome.entry is None:
            entries.pop(outcome.index, None)
        else:
            entries[outcome.index] = outcome.entry
    return read_bytes, new_chunks, new_bytes


def _progress(
    lease: chunk_gc.Lease, on_progress: Callable[[int, int], None] | None
) -> Callable[[int], None]:
    """After each block: the lease refreshed when due, the caller told the count so far."""
    blocks = 0

    def on_block(read_bytes: int) -> None:
        nonlocal blocks
        blocks += 1
        lease.refresh()
        if on_progress is not None:
            on_progress(blocks, read_bytes)

    return on_block


def export_volume(
    store: persistence.BackupStore,
    backup: str,
    volume: str,
    *,
    source: BlockSource,
    snapshot_id: str,
    volume_id: str | None = None,
    parent: str | None = None,
    workers: int = 8,
    in_flight: int = 32,
    on_progress: Callable[[int, int], None] | None = None,
) -> volume_index.VolumeIndex:
    """Export snapshot ``snapshot_id`` (of PersistentVolume ``volume``) into backup
    ``backup``; returns the index written. Raises the source's SnapshotError or the store's
    StoreError; nothing is then indexed. Holds an export lease on the location's chunks
    throughout (``ark.persistence.chunk_gc``): no sweep deletes a chunk it finds or its
    parent names. ``on_progress(blocks, bytes)`` is told what was read so far, after each
    block."""
    holder = f"export of volume {volume} into backup {backup}"
    with chunk_gc.export_lease(store.objects, holder=holder) as lease:
        return _export_volume(
            store,
            backup,
            volume,
            source=source,
            snapshot_id=snapshot_id,
            volume_id=volume_id,
            parent=parent,
            workers=workers,
            in_flight=in_flight,
            lease=lease,
            on_progress=on_progress,
        )


def _export_volume(
    store: persistence.BackupStore,
    backup: str,
    volume: str,
    *,
    source: BlockSource,
    snapshot_id: str,
    volume_id: str | None,
    parent: str | None,
    workers: int,
    in_flight: int,
    lease: chunk_gc.Lease,
    on_progress: Callable[[int, int], None] | None,
) -> volume_index.VolumeIndex:
    chunk_store = store.chunk_store(backup)
    size_bytes = source.volume_size(snapshot_id)
    block_size = source.block_size
    base = _parent_index(
        store,
        parent,
        volume,
        source=source,
        naming=chunk_store.naming,
        size_bytes=size_bytes,
        volume_id=volume_id,
    )
    if base is None:
        entries: dict[int, volume_index.BlockEntry] = {}
    else:
        entries = {b.index: b for b in base.blocks}
    try:
        totals = _read_blocks(
            chunk_store,
            source,
            snapshot_id,
            base=base,
            entries=entries,
            workers=workers,
            in_flight=in_flight,
            on_block=_progress(lease, on_progress),
        )
    finally:
        source.release(snapshot_id)
        if base is not None:
            source.release(base.source.snapshot_id)
    read_bytes, new_chunks, new_bytes = totals
    ordered = [entries[i] for i in sorted(entries)]
    index = volume_index.VolumeIndex(
        volume=volume,
        size_bytes=size_bytes,
        block_size=block_size,
        source=volume_index.VolumeSource(
            provider=source.provider,
            region=source.region,
            snapshot_id=snapshot_id,
            volume_id=volume_id,
        ),
        naming=chunk_store.naming.scheme,
        naming_key=chunk_store.naming.key_id,
        blocks=ordered,
        totals=volume_index.totals_of(
            ordered,
            block_size=block_size,
            read_bytes=read_bytes,
            new_chunks=new_chunks,
            new_bytes=new_bytes,
        ),
        parent=None if base is None else parent,
    )
    store.put_volume_index(backup, index)
    return index
