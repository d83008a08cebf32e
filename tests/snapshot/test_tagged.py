"""A restarted restore or backup finds what its interrupted attempt made by tag, through each
cloud's own list API: exactly the volumes and snapshots carrying every tag asked for."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from ark import snapshot
from ark.snapshot.interface import BACKUP_UID_TAG, PV_TAG, RESTORE_UID_TAG
from tests.snapshot import clouds
from tests.snapshot.clouds import Cloud, wait_completed


def _completed_snapshot(cloud: Cloud, tags: dict[str, str]) -> str:
    ref = cloud.snapshotter.volume_of(cloud.csi_pv(cloud.make_volume()))
    assert ref is not None
    snapshot_id = cloud.snapshotter.create_snapshot(ref, tags=tags)
    wait_completed(cloud.snapshotter, snapshot_id)
    return snapshot_id


def test_volumes_tagged_finds_exactly_the_volumes_with_every_tag(cloud: Cloud) -> None:
    run, other = str(uuid.uuid4()), str(uuid.uuid4())
    snapshot_id = _completed_snapshot(cloud, {"ark.dev/backup": "b1"})

    def restored(uid: str, pv: str) -> str:
        tags = {"ark.dev/restore": "r1", RESTORE_UID_TAG: uid, PV_TAG: pv}
        return cloud.snapshotter.create_volume_from_snapshot(
            snapshot_id, zone=cloud.zone, tags=tags
        )

    mine = restored(run, "pv-a")
    second = restored(run, "pv-b")
    restored(other, "pv-a")  # another restore of the same PV: never adopted by this one

    found = cloud.snapshotter.volumes_tagged({RESTORE_UID_TAG: run, PV_TAG: "pv-a"})
    assert [(v.volume_id, v.zone) for v in found] == [(mine, cloud.zone)]
    everything = cloud.snapshotter.volumes_tagged({RESTORE_UID_TAG: run})
    assert sorted(v.volume_id for v in everything) == sorted([mine, second])
    assert cloud.snapshotter.volumes_tagged({RESTORE_UID_TAG: str(uuid.uuid4())}) == []


def test_snapshots_tagged_finds_exactly_the_snapshots_with_every_tag(cloud: Cloud) -> None:
    run, other = str(uuid.uuid4()), str(uuid.uuid4())
    mine = _completed_snapshot(cloud, {"ark.dev/backup": "b1", BACKUP_UID_TAG: run, PV_TAG: "a"})
    second = _completed_snapshot(cloud, {"ark.dev/backup": "b1", BACKUP_UID_TAG: run, PV_TAG: "b"})
    _completed_snapshot(cloud, {"ark.dev/backup": "b1", BACKUP_UID_TAG: other, PV_TAG: "a"})

    assert cloud.snapshotter.snapshots_tagged({BACKUP_UID_TAG: run, PV_TAG: "a"}) == [mine]
    assert cloud.snapshotter.snapshots_tagged({BACKUP_UID_TAG: run}) == sorted([mine, second])
    assert cloud.snapshotter.snapshots_tagged({BACKUP_UID_TAG: str(uuid.uuid4())}) == []


def test_a_cross_region_copy_is_found_where_it_was_copied_to(cloud: Cloud) -> None:
    run = str(uuid.uuid4())
    snapshot_id = _completed_snapshot(cloud, {"ark.dev/backup": "b1"})
    tags = {RESTORE_UID_TAG: run, PV_TAG: "pv-a"}
    copy_id = cloud.snapshotter.copy_snapshot(snapshot_id, to_region=cloud.other_region, tags=tags)
    there = cloud.open_region(cloud.other_region)
    if cloud.name == "gcp":  # global snapshots: nothing is copied, nothing tagged
        assert there.snapshots_tagged(tags) == []
    else:
        assert there.snapshots_tagged(tags) == [copy_id]


@pytest.mark.parametrize("cloud", ["azure"], indirect=True)
def test_azure_without_resource_groups_looks_through_the_whole_subscription(
    cloud: Cloud, azure_fake: tuple[Any, str]
) -> None:
    settings = clouds.azure_settings(azure_fake[1])
    del settings["config"]["resourceGroup"]
    del settings["credentials"]["AZURE_RESOURCE_GROUP"]
    anywhere = snapshot.open_snapshotter("azure", region="eastus", **settings)
    ref = anywhere.volume_of(cloud.csi_pv(cloud.make_volume()))
    assert ref is not None
    uid = str(uuid.uuid4())
    taken = anywhere.create_snapshot(ref, tags={BACKUP_UID_TAG: uid, PV_TAG: "a"})
    assert "/resourceGroups/ark-disks/" in taken  # beside its disk: no snapshot group
    assert anywhere.snapshots_tagged({BACKUP_UID_TAG: uid}) == [taken]
    wait_completed(anywhere, taken)
    made = anywhere.create_volume_from_snapshot(
        taken, zone=cloud.zone, tags={RESTORE_UID_TAG: uid, PV_TAG: "a"}
    )
    assert [v.volume_id for v in anywhere.volumes_tagged({RESTORE_UID_TAG: uid})] == [made]
