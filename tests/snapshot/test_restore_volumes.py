"""Volumes are created from snapshots in a chosen zone, also after a copy to another region."""

from __future__ import annotations

import pytest

from ark.snapshot import errors
from tests.snapshot.clouds import Cloud, wait_completed

RESTORE_TAGS = {"ark-restore": "shop-clone", "ark-pvc": "shop-data"}


def _completed_snapshot(cloud: Cloud) -> str:
    ref = cloud.snapshotter.volume_of(cloud.csi_pv(cloud.make_volume()))
    assert ref is not None
    snapshot_id = cloud.snapshotter.create_snapshot(ref, tags={"ark-backup": "b1"})
    wait_completed(cloud.snapshotter, snapshot_id)
    return snapshot_id


def test_volume_is_created_from_the_snapshot_in_the_zone(cloud: Cloud) -> None:
    snapshot_id = _completed_snapshot(cloud)
    volume_id = cloud.snapshotter.create_volume_from_snapshot(
        snapshot_id,
        zone=cloud.zone,
        volume_type=cloud.volume_type,
        iops=cloud.iops,
        tags=RESTORE_TAGS,
    )
    on_server = cloud.volume_on_server(volume_id)
    assert on_server is not None
    assert on_server.zone == cloud.zone
    assert on_server.source_snapshot == snapshot_id
    assert on_server.volume_type == cloud.volume_type
    assert on_server.iops == cloud.iops
    assert RESTORE_TAGS.items() <= on_server.tags.items()


def test_restored_volume_keeps_the_encryption_key(cloud: Cloud) -> None:
    snapshot_id = _completed_snapshot(cloud)
    volume_id = cloud.snapshotter.create_volume_from_snapshot(
        snapshot_id, zone=cloud.zone, tags=RESTORE_TAGS
    )
    on_server = cloud.volume_on_server(volume_id)
    assert on_server is not None
    if cloud.name == "aws":
        # moto does not report a snapshot's KMS key; the volume is still encrypted with one
        assert on_server.kms_key is not None
    else:
        assert on_server.kms_key == cloud.kms_key


def test_copy_to_another_region_then_restore_there(cloud: Cloud) -> None:
    snapshot_id = _completed_snapshot(cloud)
    copy_id = cloud.snapshotter.copy_snapshot(
        snapshot_id, to_region=cloud.other_region, tags={"ark-backup": "b1-dr"}
    )
    copy = cloud.snapshot_on_server(copy_id)
    assert copy is not None
    if cloud.name != "gcp":  # GCE snapshots are global: the copy is the snapshot itself
        assert copy_id != snapshot_id
        assert copy.region == cloud.other_region
        assert copy.tags.get("ark-backup") == "b1-dr"
    there = cloud.open_region(cloud.other_region)
    wait_completed(there, copy_id)
    volume_id = there.create_volume_from_snapshot(
        copy_id,
        zone=cloud.other_zone,
        volume_type=cloud.volume_type,
        iops=cloud.iops,
        tags=RESTORE_TAGS,
    )
    on_server = cloud.volume_on_server(volume_id)
    assert on_server is not None
    assert on_server.zone == cloud.other_zone
    assert on_server.source_snapshot == copy_id


@pytest.mark.parametrize("cloud", ["aws", "azure"], indirect=True)  # GCE snapshots are global
def test_volume_in_a_zone_of_another_region_is_refused_with_the_reason(cloud: Cloud) -> None:
    snapshot_id = _completed_snapshot(cloud)
    with pytest.raises(errors.OperationFailed) as err:
        cloud.snapshotter.create_volume_from_snapshot(
            snapshot_id, zone=cloud.other_zone, tags=RESTORE_TAGS
        )
    assert snapshot_id in str(err.value)
    assert cloud.other_zone in str(err.value)
