"""A volume exported from EBS (moto) into a storage location and imported into another
region: the imported snapshot's blocks, read back with the SDK, are the source's, byte for
byte; chunks are shared across backups and volumes, an export builds on its parent, resumes
after a crash, an altered chunk stops an import naming it, an encrypted backup's chunks are
sealed."""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import Any, BinaryIO, cast

import orjson
import pytest

from ark import crypto
from ark.archive import backup_name
from ark.backup import export_snapshots, export_volume
from ark.persistence import BackupStore, SnapshotRecord, StoredFileError, keys
from ark.restore import import_volume
from ark.snapshot.blocks import Block, BlockAccess
from ark.storage import ObjectNotFound, ObjectStore
from tests.support import tampering
from tests.volumes.conftest import (
    BLOCK,
    SOURCE_REGION,
    TARGET_REGION,
    TARGET_ZONE,
    ZERO,
    Ebs,
    random_block,
    text_block,
)

PV = "pv-data"


def _blocks() -> dict[int, bytes]:
    """Ten non-zero blocks in seven distinct contents, and a zero block written."""
    r0, r1, r3, r6, r7, r12 = (random_block() for _ in range(6))
    text = text_block(b"ark export ")
    return {0: r0, 1: r1, 2: text, 3: r3, 4: ZERO, 5: r1, 6: r6, 7: r7, 9: r3, 12: r12, 20: text}


def _non_zero(blocks: dict[int, bytes]) -> dict[int, bytes]:
    return {i: b for i, b in blocks.items() if b != ZERO}


def _chunk_keys(store: ObjectStore) -> set[str]:
    return {i.key for i in store.list(keys.CHUNKS)}


def test_an_export_imports_into_another_region_byte_for_byte(
    store: ObjectStore, ebs: Ebs, source: BlockAccess, target: BlockAccess
) -> None:
    blocks = _blocks()
    snap = ebs.make_snapshot(blocks)
    backups = BackupStore(store)
    index = export_volume(backups, "b1", PV, source=source, snapshot_id=snap, volume_id="vol-1")
    assert [b.index for b in index.blocks] == [0, 1, 2, 3, 5, 6, 7, 9, 12, 20]
    assert (index.totals.blocks, index.totals.new_chunks) == (10, 7)
    assert index.totals.read_bytes == 11 * BLOCK
    assert index.totals.logical_bytes == 10 * BLOCK
    assert index.size_bytes == 1 << 30
    assert len(_chunk_keys(store)) == 7
    stored = {i.key: i.size for i in store.list(keys.CHUNKS)}
    assert index.totals.new_bytes == index.totals.stored_bytes == sum(stored.values())
    assert backups.volume_index("b1", PV) == index

    made = import_volume(
        backups, "b1", PV, target=target, zone=TARGET_ZONE, tags={"ark.dev/backup": "b1"}
    )
    assert made.blocks == 10
    assert ebs.read_snapshot(made.snapshot_id, region=TARGET_REGION) == _non_zero(blocks)
    volume = ebs.ec2(TARGET_REGION).describe_volumes(VolumeIds=[made.volume_id])["Volumes"][0]
    assert (volume["AvailabilityZone"], volume["SnapshotId"]) == (TARGET_ZONE, made.snapshot_id)
    assert volume["State"] == "available"


def test_chunks_are_shared_across_backups_and_volumes(
    store: ObjectStore, ebs: Ebs, source: BlockAccess
) -> None:
    blocks = _blocks()
    snap = ebs.make_snapshot(blocks)
    backups = BackupStore(store)
    export_volume(backups, "b1", PV, source=source, snapshot_id=snap)
    before = _chunk_keys(store)
    again = export_volume(BackupStore(store), "b2", PV, source=source, snapshot_id=snap)
    assert (again.totals.new_chunks, again.totals.new_bytes) == (0, 0)
    assert again.totals.stored_bytes > 0
    assert _chunk_keys(store) == before
    other = ebs.make_snapshot({0: blocks[0], 1: random_block(), 2: blocks[2]})
    second = export_volume(backups, "b2", "pv-other", source=source, snapshot_id=other)
    assert second.totals.new_chunks == 1
    assert len(_chunk_keys(store)) == len(before) + 1
    assert backups.exported_volumes("b2") == ["pv-data", "pv-other"]


def test_an_incremental_export_reads_only_the_changed_blocks(
    store: ObjectStore, ebs: Ebs, source: BlockAccess, target: BlockAccess
) -> None:
    parent_blocks = _blocks()
    child_blocks = {**parent_blocks, 1: random_block(), 6: random_block()}
    del child_blocks[7]  # trimmed: it reads as zeros now
    # (moto lists as changed only blocks the first snapshot has: none is added here)
    parent = ebs.make_snapshot(parent_blocks)
    child = ebs.make_snapshot(child_blocks)
    backups = BackupStore(store)
    export_volume(backups, "b1", PV, source=source, snapshot_id=parent)
    index = export_volume(backups, "b2", PV, source=source, snapshot_id=child, parent="b1")
    assert index.parent == "b1"
    assert index.totals.read_bytes == 2 * BLOCK
    assert index.totals.new_chunks == 2
    assert [b.index for b in index.blocks] == [0, 1, 2, 3, 5, 6, 9, 12, 20]
    made = import_volume(backups, "b2", PV, target=target, zone=None)
    assert made.volume_id is None
    assert ebs.read_snapshot(made.snapshot_id, region=TARGET_REGION) == _non_zero(child_blocks)


class _Crash(Exception):
    pass


class _CrashingSource:
    """The real source, but the export dies (as its process would) at read ``at``."""

    def __init__(self, source: BlockAccess, *, at: int) -> None:
        self._source = source
        self._left = at

    def __getattr__(self, name: str) -> Any:
        return getattr(self._source, name)

    def read(self, snapshot_id: str, block: Block) -> bytes:
        self._left -= 1
        if self._left < 0:
            raise _Crash(f"killed before reading block {block.index}")
        return self._source.read(snapshot_id, block)


class _CountingStore:
    """The real store; the keys written through it are kept."""

    def __init__(self, store: ObjectStore) -> None:
        self._store = store
        self.written: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def put(self, key: str, data: bytes | BinaryIO | Iterator[bytes]) -> None:
        self.written.append(key)
        self._store.put(key, data)

    def open_write(self, key: str) -> AbstractContextManager[Any]:
        self.written.append(key)
        return self._store.open_write(key)


def test_an_interrupted_export_resumes_sending_only_missing_chunks(
    store: ObjectStore, ebs: Ebs, source: BlockAccess
) -> None:
    snap = ebs.make_snapshot(_blocks())
    crashing = cast(BlockAccess, _CrashingSource(source, at=5))
    with pytest.raises(_Crash):
        export_volume(
            BackupStore(store), "b1", PV, source=crashing, snapshot_id=snap, workers=1, in_flight=1
        )
    with pytest.raises(ObjectNotFound):
        BackupStore(store).volume_index("b1", PV)  # no index: the export is not done
    kept = _chunk_keys(store)
    assert len(kept) == 4  # blocks 0..4: four distinct contents and a zero block

    counting = _CountingStore(store)
    index = export_volume(
        BackupStore(cast(ObjectStore, counting)), "b1", PV, source=source, snapshot_id=snap
    )
    sent = {k for k in counting.written if k.startswith(keys.CHUNKS)}
    assert sent == _chunk_keys(store) - kept
    assert len(sent) == index.totals.new_chunks == 3
    assert BackupStore(store).volume_index("b1", PV) == index


def test_an_altered_chunk_stops_the_import_naming_it(
    store: ObjectStore, ebs: Ebs, source: BlockAccess, target: BlockAccess
) -> None:
    snap = ebs.make_snapshot(_blocks())
    backups = BackupStore(store)
    index = export_volume(backups, "b1", PV, source=source, snapshot_id=snap)
    victim = next(b.chunk for b in index.blocks if b.index == 3)
    key = backups.chunk_store("b1").key_of(victim)
    data = bytearray(tampering.read(store, key))
    data[len(data) // 2] ^= 0x01
    store.put(key, bytes(data))
    with pytest.raises(StoredFileError, match=f"chunk {victim}"):
        import_volume(backups, "b1", PV, target=target, zone=None, workers=2, in_flight=2)


def test_an_encrypted_backups_chunks_are_sealed_and_import(
    store: ObjectStore, ebs: Ebs, source: BlockAccess, target: BlockAccess
) -> None:
    blocks = _blocks()
    snap = ebs.make_snapshot(blocks)
    ring = crypto.Keyring(
        {"a": crypto.SecretKey("a", os.urandom(32))}, current="a", where="location default"
    )
    backups = BackupStore(store, keyring=ring)
    index = export_volume(backups, "b1", PV, source=source, snapshot_id=snap)
    assert index.naming == "hmac-sha256"
    samples = [b[:64] for b in _non_zero(blocks).values()] + [b"ark export"]
    for info in store.list():
        data = store.get(info.key)
        if info.key.startswith(keys.CHUNKS) or info.key.startswith("backups/"):
            assert crypto.is_encrypted(data), info.key
        assert not any(sample in data for sample in samples), info.key
    made = import_volume(BackupStore(store, keyring=ring), "b1", PV, target=target, zone=None)
    assert ebs.read_snapshot(made.snapshot_id, region=TARGET_REGION) == _non_zero(blocks)


def test_a_backups_export_builds_on_the_newest_earlier_export_of_the_same_volume(
    fs_store: ObjectStore, ebs: Ebs, source: BlockAccess, target: BlockAccess
) -> None:
    """As the operator exports a backup's snapshots: the parent is found in the location by
    the volume and the snapshots' times, not named by anyone."""
    first = _blocks()
    second = {**first, 1: random_block()}
    third = {**second, 6: random_block()}
    backups = BackupStore(fs_store)
    record = SnapshotRecord(
        persistent_volume=PV,
        location="ebs",
        provider="aws",
        region=SOURCE_REGION,
        volume_id="vol-1",
        snapshot_id=ebs.make_snapshot(first),
        phase="Completed",
        started=1000.0,
    )
    records = {
        "b1": record,
        "b2": replace(record, snapshot_id=ebs.make_snapshot(second), started=2000.0),
        "other": replace(record, volume_id="vol-2", started=2500.0),
        "b3": replace(record, snapshot_id=ebs.make_snapshot(third), started=3000.0),
        "b0": replace(record, started=500.0),  # exported last, its snapshot the oldest
    }
    told: dict[str, list[str]] = {}
    for name, rec in records.items():
        key = keys.BackupKeys(backup_name(name)).volume_snapshots
        fs_store.put(key, gzip.compress(orjson.dumps([rec.to_velero(name)])))
        [outcome] = export_snapshots(
            backups,
            name,
            [rec],
            sources={"ebs": source},
            on_progress=told.setdefault(name, []).append,
        )
        assert outcome.phase == "Completed", outcome
    # progress, block by block: the full export read 11 blocks, b3 only the one changed
    assert told["b1"][-1] == f"{PV}: 11 blocks, {11 * BLOCK / 1e6:.1f} MB read (volume 1 of 1)"
    assert told["b3"] == [f"{PV}: 1 blocks, {BLOCK / 1e6:.1f} MB read (volume 1 of 1)"]

    parents = {name: backups.volume_index(name, PV).parent for name in records}
    # b3 builds on b2, the newest earlier snapshot of vol-1 ("other" is another volume's)
    assert parents == {"b1": None, "b2": "b1", "other": None, "b3": "b2", "b0": None}
    b3 = backups.volume_index("b3", PV)
    assert b3.totals.read_bytes == 1 * BLOCK
    made = import_volume(backups, "b3", PV, target=target, zone=None)
    assert ebs.read_snapshot(made.snapshot_id, region=TARGET_REGION) == _non_zero(third)
