"""Volumes are created from snapshots in a chosen zone, also after a copy to another region."""

from __future__ import annotations

import uuid

import pytest

from ark.persistence import SnapshotRecord
from ark.restore.volumes import NewVolume, VolumeOptions, create_volumes
from ark.snapshot import errors
from ark.snapshot.interface import PV_TAG, RESTORE_UID_TAG
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


# -- a restore run again with the same uid (its first attempt was killed) ---------------------
def _record(cloud: Cloud, snapshot_id: str, pv: str) -> SnapshotRecord:
    return SnapshotRecord(
        persistent_volume=pv,
        location="here",
        provider=cloud.name,
        region=cloud.snapshotter.region,
        volume_id="gone",
        snapshot_id=snapshot_id,
        phase="Completed",
        zone=cloud.zone,
    )


def test_a_second_attempt_with_the_same_uid_adopts_the_first_attempts_volumes(
    cloud: Cloud,
) -> None:
    records = [_record(cloud, _completed_snapshot(cloud), pv) for pv in ("pv-a", "pv-b")]
    options = VolumeOptions(snapshotters={"here": cloud.snapshotter})
    uid = str(uuid.uuid4())

    def attempt() -> dict[str, NewVolume]:
        made, failed = create_volumes(
            records, {"pv-a", "pv-b"}, options, restore_name="r1", uid=uid
        )
        assert not failed, failed
        return made

    first, second = attempt(), attempt()
    assert {pv: v.volume_id for pv, v in second.items()} == {
        pv: v.volume_id for pv, v in first.items()
    }
    assert not any(v.adopted for v in first.values())
    assert all(v.adopted and v.zone == cloud.zone for v in second.values())
    for pv, volume in first.items():
        on_server = cloud.volume_on_server(volume.volume_id)
        assert on_server is not None
        assert uid in on_server.tags.values()  # as the cloud writes the tag
        assert [
            v.volume_id
            for v in cloud.snapshotter.volumes_tagged({RESTORE_UID_TAG: uid, PV_TAG: pv})
        ] == [volume.volume_id]


@pytest.mark.parametrize("cloud", ["aws", "azure"], indirect=True)  # GCE snapshots are global
def test_a_second_attempt_adopts_the_cross_region_copy_too(cloud: Cloud) -> None:
    records = [_record(cloud, _completed_snapshot(cloud), "pv-a")]
    there = cloud.open_region(cloud.other_region)
    options = VolumeOptions(
        snapshotters={"here": cloud.snapshotter}, target=there, zone=cloud.other_zone
    )
    uid = str(uuid.uuid4())
    # The first attempt was killed after its copy started, before its volume was made.
    copy_id = cloud.snapshotter.copy_snapshot(
        records[0].snapshot_id,
        to_region=cloud.other_region,
        tags={RESTORE_UID_TAG: uid, PV_TAG: "pv-a"},
    )
    made, failed = create_volumes(records, {"pv-a"}, options, restore_name="r1", uid=uid)
    assert not failed, failed
    assert made["pv-a"].snapshot_id == copy_id and not made["pv-a"].adopted
    on_server = cloud.volume_on_server(made["pv-a"].volume_id)
    assert on_server is not None and on_server.source_snapshot == copy_id
    assert there.snapshots_tagged({RESTORE_UID_TAG: uid, PV_TAG: "pv-a"}) == [copy_id]
