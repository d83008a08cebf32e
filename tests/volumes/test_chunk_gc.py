"""Chunks no index names are swept, and nothing else: the chunks a deleted backup shared with
another stay (the other still imports byte for byte), a running export (another cluster's
too) stops the sweep, an index that cannot be read stops it naming the index, and an export
waits for a sweep holding the location."""

from __future__ import annotations

import datetime as dt

import pytest

from ark.archive import backup_name
from ark.backup import export_volume
from ark.persistence import BackupStore, chunk_gc, keys
from ark.restore import import_volume
from ark.snapshot.blocks import BlockAccess
from ark.storage import ObjectStore
from tests.volumes.conftest import TARGET_REGION, Ebs, random_block

PV = "pv-data"


def _chunks(store: ObjectStore) -> set[str]:
    return {i.key for i in store.list(keys.CHUNKS)}


def _two_backups(store: ObjectStore, ebs: Ebs, source: BlockAccess) -> dict[int, bytes]:
    """b1 and b2 share block 0; each has a block of its own. Returns b2's blocks."""
    shared = random_block()
    backups = BackupStore(store)
    export_volume(
        backups,
        "b1",
        PV,
        source=source,
        snapshot_id=ebs.make_snapshot({0: shared, 1: random_block()}),
    )
    b2 = {0: shared, 2: random_block()}
    export_volume(backups, "b2", PV, source=source, snapshot_id=ebs.make_snapshot(b2))
    return b2


def test_a_deleted_backups_own_chunks_go_and_shared_ones_stay(
    fs_store: ObjectStore, ebs: Ebs, source: BlockAccess, target: BlockAccess
) -> None:
    b2 = _two_backups(fs_store, ebs, source)
    backups = BackupStore(fs_store)
    assert len(_chunks(fs_store)) == 3
    backups.delete_backup("b1")

    collected = chunk_gc.collect(backups)

    assert collected.skipped is None
    assert (collected.indexes, collected.referenced, collected.chunks) == (1, 2, 3)
    assert collected.deleted == 1 and collected.deleted_bytes > 0
    assert len(_chunks(fs_store)) == 2
    assert list(fs_store.list(chunk_gc.LEASES)) == []  # the sweep's lease went with it
    made = import_volume(backups, "b2", PV, target=target, zone=None)
    assert ebs.read_snapshot(made.snapshot_id, region=TARGET_REGION) == b2
    again = chunk_gc.collect(backups)
    assert (again.deleted, again.skipped) == (0, None)


def test_a_running_export_stops_the_sweep_and_a_stale_lease_does_not(
    fs_store: ObjectStore, ebs: Ebs, source: BlockAccess
) -> None:
    _two_backups(fs_store, ebs, source)
    backups = BackupStore(fs_store)
    backups.delete_backup("b1")
    before = _chunks(fs_store)

    running = chunk_gc.Lease(fs_store, "export", holder="cluster B's export", clock=chunk_gc._now)
    running.write()
    collected = chunk_gc.collect(backups)
    assert collected.deleted == 0
    assert collected.skipped is not None and "cluster B's export" in collected.skipped
    assert _chunks(fs_store) == before
    running.release()

    an_hour_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    crashed = chunk_gc.Lease(fs_store, "export", holder="crashed", clock=lambda: an_hour_ago)
    crashed.write()
    assert chunk_gc.collect(backups).deleted == 1


def test_an_index_that_cannot_be_read_stops_the_sweep_naming_it(
    fs_store: ObjectStore, ebs: Ebs, source: BlockAccess
) -> None:
    _two_backups(fs_store, ebs, source)
    backups = BackupStore(fs_store)
    backups.delete_backup("b1")
    before = _chunks(fs_store)
    fs_store.put(keys.BackupKeys(backup_name("b3")).volume_index("pv-other"), b"not an index")

    collected = chunk_gc.collect(backups)

    assert collected.deleted == 0
    assert collected.skipped is not None
    assert "volume pv-other of backup b3" in collected.skipped
    assert _chunks(fs_store) == before


def test_an_export_waits_for_a_sweep_and_gives_up_saying_why(fs_store: ObjectStore) -> None:
    sweep = chunk_gc.Lease(fs_store, "sweep", holder="a sweep", clock=chunk_gc._now)
    sweep.write()
    lease = chunk_gc.export_lease(fs_store, holder="an export", wait=0.3, poll=0.1)
    with pytest.raises(chunk_gc.SweepRunning, match="a chunk sweep holds the location"):
        lease.__enter__()
    assert {i.key for i in fs_store.list(chunk_gc.LEASES)} == {sweep.key}
