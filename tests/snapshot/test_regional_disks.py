"""GCE regional PDs: replicated in two zones, written in Kubernetes' ``a__b`` zone form."""

from __future__ import annotations

import uuid

import pytest
from google.cloud import compute_v1

from ark import snapshot
from ark.snapshot import pvs
from hack.fakes import gce_compute
from tests.snapshot import clouds
from tests.snapshot.clouds import Cloud, pv, wait_completed, zone_affinity

ZONES = "us-central1-a__us-central1-f"


@pytest.fixture
def gcp(gce_fake: tuple[gce_compute.GceCompute, str]) -> Cloud:
    settings = clouds.gcp_settings(gce_fake[1])
    return clouds.gcp(
        gce_fake[1], lambda region: snapshot.open_snapshotter("gcp", region=region, **settings)
    )


def _regional_disk(gcp: Cloud) -> str:
    name = f"shared-{uuid.uuid4().hex[:8]}"
    project = clouds.GCP_PROJECT
    disk = compute_v1.Disk(
        name=name,
        size_gb=50,
        type_=f"projects/{project}/regions/us-central1/diskTypes/pd-balanced",
        replica_zones=[f"projects/{project}/zones/{z}" for z in ZONES.split("__")],
    )
    gcp.extra["clients"].region_disks.insert_unary(
        project=project, region="us-central1", disk_resource=disk
    )
    return f"projects/{project}/regions/us-central1/disks/{name}"


def test_regional_pd_is_identified_from_in_tree_and_csi_pvs(gcp: Cloud) -> None:
    path = _regional_disk(gcp)
    in_tree = pv(
        "regional-in-tree",
        {"gcePersistentDisk": {"pdName": path.rsplit("/", 1)[-1]}},
        labels={pvs.ZONE_LABEL: ZONES},
    )
    csi = pv(
        "regional-csi",
        {
            "csi": {"driver": "pd.csi.storage.gke.io", "volumeHandle": path},
            "nodeAffinity": zone_affinity("topology.gke.io/zone", ZONES.split("__")),
        },
    )
    for shape in (in_tree, csi):
        ref = gcp.snapshotter.volume_of(shape)
        assert ref is not None
        assert (ref.volume_id, ref.zone, ref.region) == (path, ZONES, "us-central1")
        assert ref.volume_type == "pd-balanced"


def test_regional_pd_is_restored_as_a_regional_pd_and_pinned_to_both_zones(gcp: Cloud) -> None:
    path = _regional_disk(gcp)
    source_pv = pv("regional", {"csi": {"driver": "pd.csi.storage.gke.io", "volumeHandle": path}})
    ref = gcp.snapshotter.volume_of(source_pv)
    assert ref is not None
    snapshot_id = gcp.snapshotter.create_snapshot(ref, tags={"ark-backup": "b2"})
    wait_completed(gcp.snapshotter, snapshot_id)
    target = "us-east1-b__us-east1-c"
    restored = gcp.snapshotter.create_volume_from_snapshot(
        snapshot_id, zone=target, volume_type="pd-balanced", tags={}
    )
    assert restored.startswith(f"projects/{clouds.GCP_PROJECT}/regions/us-east1/disks/")
    on_server = gcp.volume_on_server(restored)
    assert on_server is not None
    assert (on_server.zone, on_server.source_snapshot) == (target, snapshot_id)
    rewritten = gcp.snapshotter.set_volume_id(source_pv, volume_id=restored, zone=target)
    terms = rewritten["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
    assert terms[0]["matchExpressions"][0]["values"] == ["us-east1-b", "us-east1-c"]


def test_tags_become_valid_labels_and_stay_whole_in_the_description(gcp: Cloud) -> None:
    ref = gcp.snapshotter.volume_of(gcp.csi_pv(gcp.make_volume()))
    assert ref is not None
    tags = {"velero.io/backup": "Nightly.2026-11-25", "ark.io/PVC": "shop/data"}
    snapshot_id = gcp.snapshotter.create_snapshot(ref, tags=tags)
    snap = gcp.extra["clients"].snapshots.get(project=clouds.GCP_PROJECT, snapshot=snapshot_id)
    assert dict(snap.labels) == {
        "velero-io-backup": "nightly-2026-11-25",
        "ark-io-pvc": "shop-data",
    }
    assert '"velero.io/backup": "Nightly.2026-11-25"' in snap.description
