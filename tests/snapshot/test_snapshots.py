"""Snapshots are taken of the right volume, tagged, reported on, and deleted idempotently."""

from __future__ import annotations

import pytest

from ark.snapshot import errors
from ark.snapshot.interface import SnapshotPhase, owner_tags
from tests.snapshot.clouds import Cloud, wait_completed

TAGS = {
    "ark-backup": "nightly-20261125",
    "ark-pv": "pvc-3f2a",
    "ark-pvc": "shop-data",
    "ark-cluster": "prod-eu",
}


def _snapshot(cloud: Cloud) -> tuple[str, str]:
    volume_id = cloud.make_volume()
    ref = cloud.snapshotter.volume_of(cloud.csi_pv(volume_id))
    assert ref is not None
    return volume_id, cloud.snapshotter.create_snapshot(ref, tags=TAGS)


def test_snapshot_is_taken_of_the_volume_with_the_tags(cloud: Cloud) -> None:
    volume_id, snapshot_id = _snapshot(cloud)
    on_server = cloud.snapshot_on_server(snapshot_id)
    assert on_server is not None
    assert on_server.source == volume_id
    assert TAGS.items() <= on_server.tags.items()


def test_status_goes_from_pending_to_completed(cloud: Cloud) -> None:
    _, snapshot_id = _snapshot(cloud)
    first = cloud.snapshotter.snapshot_status(snapshot_id)
    assert first.phase in (SnapshotPhase.PENDING, SnapshotPhase.COMPLETED)
    wait_completed(cloud.snapshotter, snapshot_id)
    assert cloud.snapshotter.snapshot_status(snapshot_id).progress == 100


def test_status_of_an_unknown_snapshot_names_it(cloud: Cloud) -> None:
    with pytest.raises(errors.SnapshotNotFound) as err:
        cloud.snapshotter.snapshot_status(cloud.missing_snapshot)
    assert cloud.missing_snapshot in str(err.value)


def test_delete_removes_the_snapshot_and_deleting_again_is_fine(cloud: Cloud) -> None:
    _, snapshot_id = _snapshot(cloud)
    wait_completed(cloud.snapshotter, snapshot_id)
    cloud.snapshotter.delete_snapshot(snapshot_id)
    assert cloud.snapshot_on_server(snapshot_id) is None
    cloud.snapshotter.delete_snapshot(snapshot_id)
    cloud.snapshotter.delete_snapshot(cloud.missing_snapshot)


def test_delete_for_a_backup_leaves_a_snapshot_not_tagged_for_it(cloud: Cloud) -> None:
    _, snapshot_id = _snapshot(cloud)
    wait_completed(cloud.snapshotter, snapshot_id)
    with pytest.raises(errors.NotOwned) as err:
        cloud.snapshotter.delete_snapshot(snapshot_id, owner_tags={"ark-backup": "someone-else"})
    assert snapshot_id in str(err.value) and "ark-backup=someone-else" in str(err.value)
    assert cloud.snapshot_on_server(snapshot_id) is not None
    cloud.snapshotter.delete_snapshot(
        snapshot_id, owner_tags={"velero.io/backup": "x", "ark-backup": TAGS["ark-backup"]}
    )
    assert cloud.snapshot_on_server(snapshot_id) is None
    cloud.snapshotter.delete_snapshot(snapshot_id, owner_tags={"ark-backup": "gone-already"})


def test_a_backups_own_snapshot_is_deleted_by_the_tags_ark_writes(cloud: Cloud) -> None:
    """The real tag keys (with '.' and '/', which Azure and GCE rewrite) match after the
    provider's own rewriting."""
    volume_id = cloud.make_volume()
    ref = cloud.snapshotter.volume_of(cloud.csi_pv(volume_id))
    assert ref is not None
    mine = cloud.snapshotter.create_snapshot(ref, tags={"ark.dev/backup": "nightly-1"})
    wait_completed(cloud.snapshotter, mine)
    with pytest.raises(errors.NotOwned):
        cloud.snapshotter.delete_snapshot(mine, owner_tags=owner_tags("nightly-2"))
    cloud.snapshotter.delete_snapshot(mine, owner_tags=owner_tags("nightly-1"))
    assert cloud.snapshot_on_server(mine) is None
