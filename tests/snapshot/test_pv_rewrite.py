"""set_volume_id points a PV at a restored volume: its id, zone labels and node affinity."""

from __future__ import annotations

import copy

from ark.snapshot import pvs
from tests.snapshot.clouds import Cloud, wait_completed


def _restored(cloud: Cloud) -> tuple[str, str]:
    """A source volume and a volume restored from its snapshot (in the same zone)."""
    source = cloud.make_volume()
    ref = cloud.snapshotter.volume_of(cloud.csi_pv(source))
    assert ref is not None
    snapshot_id = cloud.snapshotter.create_snapshot(ref, tags={})
    wait_completed(cloud.snapshotter, snapshot_id)
    restored = cloud.snapshotter.create_volume_from_snapshot(
        snapshot_id, zone=cloud.zone, volume_type=ref.volume_type, iops=ref.iops, tags={}
    )
    return source, restored


def _affinity_zones(pv: dict[str, object]) -> list[list[str]]:
    terms = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]  # type: ignore[index]
    return [
        expr["values"]
        for term in terms
        for expr in term["matchExpressions"]
        if expr["key"] in pvs.ZONE_KEYS
    ]


def test_in_tree_pv_points_at_the_restored_volume(cloud: Cloud) -> None:
    source, restored = _restored(cloud)
    original = cloud.in_tree_pv(source)
    kept = copy.deepcopy(original)
    rewritten = cloud.snapshotter.set_volume_id(original, volume_id=restored, zone=cloud.zone)
    ref = cloud.snapshotter.volume_of(rewritten)
    assert ref is not None
    assert ref.volume_id == restored
    assert ref.zone == cloud.zone
    assert rewritten["metadata"]["labels"][pvs.ZONE_LABEL] == cloud.zone
    assert original == kept


def test_csi_pv_points_at_the_restored_volume(cloud: Cloud) -> None:
    source, restored = _restored(cloud)
    rewritten = cloud.snapshotter.set_volume_id(
        cloud.csi_pv(source), volume_id=restored, zone=cloud.zone
    )
    assert rewritten["spec"]["csi"]["volumeHandle"] == restored
    ref = cloud.snapshotter.volume_of(rewritten)
    assert ref is not None
    assert ref.volume_id == restored
    assert _affinity_zones(rewritten) == [[cloud.zone]]


def test_moving_to_another_region_rewrites_zone_region_and_affinity(cloud: Cloud) -> None:
    volume_id = cloud.make_volume()
    there = cloud.open_region(cloud.other_region)
    in_tree = there.set_volume_id(
        cloud.in_tree_pv(volume_id), volume_id=volume_id, zone=cloud.other_zone
    )
    labels = in_tree["metadata"]["labels"]
    assert labels[pvs.ZONE_LABEL] == cloud.other_zone
    assert labels[pvs.REGION_LABEL] == cloud.other_region
    csi = there.set_volume_id(cloud.csi_pv(volume_id), volume_id=volume_id, zone=cloud.other_zone)
    assert _affinity_zones(csi) == [[cloud.other_zone]]
    assert "labels" not in csi["metadata"]
