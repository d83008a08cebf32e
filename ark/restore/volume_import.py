"""Import an exported volume into a provider: a new snapshot written block by block from the
chunks its index names, then a volume from it.

    made = volume_import.import_volume(
        store, "nightly-2", "pv-data", target=ebs_in_another_region, zone="eu-central-1a"
    )

Each chunk is read bounded and checked (its content must hash to its name) before its block
is written, and the block's SHA-256 goes with it, so the target checks it too. ``workers``
threads fetch and write, holding at most ``in_flight`` blocks. Zero blocks are not written: a
new snapshot reads zeros where nothing was written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from ark import persistence
from ark.persistence import transfer, volume_index
from ark.snapshot import errors
from ark.snapshot.blocks import BlockTarget


@dataclass(frozen=True)
class ImportedVolume:
    volume: str
    """The PersistentVolume the index is of."""
    snapshot_id: str
    """The snapshot written in the target."""
    volume_id: str | None
    """The volume made from it; None when no zone was asked for."""
    zone: str | None
    blocks: int
    """Blocks written (the non-zero ones)."""


def import_volume(
    store: persistence.BackupStore,
    backup: str,
    volume: str,
    *,
    target: BlockTarget,
    zone: str | None,
    volume_type: str | None = None,
    tags: Mapping[str, str] | None = None,
    workers: int = 8,
    in_flight: int = 32,
) -> ImportedVolume:
    """Write the export of ``volume`` in backup ``backup`` into ``target``. Raises
    ObjectNotFound when the backup did not export it, StoredFileError (naming the chunk)
    when a chunk is missing, altered or garbage, the target's SnapshotError when it refuses."""
    index = store.volume_index(backup, volume)
    if index.block_size != target.block_size:
        raise errors.OperationFailed(
            "import",
            f"volume {volume} of backup {backup}",
            f"its blocks are {index.block_size} bytes, {target.provider}'s "
            f"{target.block_size} (re-blocking is not supported yet)",
        )
    chunk_store = store.chunks_of(backup, index)
    labels = dict(tags or {})
    started = target.start(
        index.size_bytes, description=f"ark import of {volume} from backup {backup}", tags=labels
    )

    def fetch(entry: volume_index.BlockEntry) -> tuple[int, bytes]:
        return entry.index, chunk_store.get(entry.chunk, size=index.block_size)

    def put(block: tuple[int, bytes]) -> None:
        at, data = block
        target.put(started, at, data, sha256=hashlib.sha256(data).digest())

    if target.sequential:  # fetched ahead by the pool, written in order here
        for block in transfer.ordered(fetch, index.blocks, workers=workers, in_flight=in_flight):
            put(block)
    else:
        tasks = transfer.bounded(
            lambda entry: put(fetch(entry)), index.blocks, workers=workers, in_flight=in_flight
        )
        for _ in tasks:
            pass
    snapshot_id = target.complete(started, blocks=len(index.blocks))
    volume_id = None
    if zone:
        volume_id = target.create_volume(
            snapshot_id, zone=zone, volume_type=volume_type, tags=labels
        )
    return ImportedVolume(
        volume=volume,
        snapshot_id=snapshot_id,
        volume_id=volume_id,
        zone=zone,
        blocks=len(index.blocks),
    )
