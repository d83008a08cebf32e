"""Zone labels and node affinity of a rewritten PV, shape by shape (no cloud involved)."""

from __future__ import annotations

from typing import Any

import pytest

from ark.snapshot import errors, pvs
from tests.snapshot.clouds import pv, zone_affinity

DISK = "projects/p/zones/us-central1-a/disks/d"


def _rewrite(pv_obj: dict[str, Any], zone: str | None) -> dict[str, Any]:
    return pvs.rewritten(
        pv_obj,
        in_tree_kind="gcePersistentDisk",
        in_tree_fields={"pdName": "new-disk"},
        csi_driver="pd.csi.storage.gke.io",
        csi_handle_value="projects/p/zones/z/disks/new-disk",
        csi_zone_key="topology.gke.io/zone",
        zone=zone,
        region="us-east1",
    )


def test_multi_zone_value_becomes_a_label_and_two_affinity_values() -> None:
    out = _rewrite(pv("a", {"gcePersistentDisk": {"pdName": "d"}}), "us-east1-b__us-east1-c")
    assert out["metadata"]["labels"][pvs.ZONE_LABEL] == "us-east1-b__us-east1-c"
    terms = out["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
    assert terms == [
        {
            "matchExpressions": [
                {"key": pvs.ZONE_LABEL, "operator": "In", "values": ["us-east1-b", "us-east1-c"]}
            ]
        }
    ]
    assert out["spec"]["gcePersistentDisk"]["pdName"] == "new-disk"


def test_legacy_labels_are_updated_where_present() -> None:
    labels = {pvs.LEGACY_ZONE_LABEL: "us-central1-a", pvs.LEGACY_REGION_LABEL: "us-central1"}
    out = _rewrite(pv("a", {"gcePersistentDisk": {"pdName": "d"}}, labels=labels), "us-east1-b")
    assert out["metadata"]["labels"] == {
        pvs.LEGACY_ZONE_LABEL: "us-east1-b",
        pvs.LEGACY_REGION_LABEL: "us-east1",
        pvs.ZONE_LABEL: "us-east1-b",
        pvs.REGION_LABEL: "us-east1",
    }


def test_other_affinity_expressions_are_kept_and_each_term_gets_the_zone() -> None:
    os_term = {
        "matchExpressions": [{"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]}]
    }
    affinity = zone_affinity("topology.gke.io/zone", ["us-central1-a"])
    affinity["required"]["nodeSelectorTerms"].append(os_term)
    spec = {
        "csi": {"driver": "pd.csi.storage.gke.io", "volumeHandle": DISK},
        "nodeAffinity": affinity,
    }
    out = _rewrite(pv("a", spec), "us-east1-b")
    terms = out["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
    assert terms[0]["matchExpressions"] == [
        {"key": "topology.gke.io/zone", "operator": "In", "values": ["us-east1-b"]}
    ]
    assert terms[1]["matchExpressions"] == [
        os_term["matchExpressions"][0],
        {"key": "topology.gke.io/zone", "operator": "In", "values": ["us-east1-b"]},
    ]


def test_no_zone_removes_zone_labels_and_zone_affinity() -> None:
    spec = {
        "csi": {"driver": "disk.csi.azure.com", "volumeHandle": "/x"},
        "nodeAffinity": zone_affinity("topology.disk.csi.azure.com/zone", ["eastus-1"]),
    }
    out = _rewrite(pv("a", spec, labels={pvs.ZONE_LABEL: "eastus-1", "team": "shop"}), None)
    assert out["metadata"]["labels"] == {"team": "shop"}
    assert "nodeAffinity" not in out["spec"]


def test_region_affinity_follows_the_new_region() -> None:
    affinity = zone_affinity("topology.gke.io/zone", ["us-central1-a"])
    affinity["required"]["nodeSelectorTerms"][0]["matchExpressions"].append(
        {"key": pvs.REGION_LABEL, "operator": "In", "values": ["us-central1"]}
    )
    spec = {
        "csi": {"driver": "pd.csi.storage.gke.io", "volumeHandle": DISK},
        "nodeAffinity": affinity,
    }
    out = _rewrite(pv("a", spec), "us-east1-b")
    exprs = out["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"]
    assert exprs[1] == {"key": pvs.REGION_LABEL, "operator": "In", "values": ["us-east1"]}


def test_zones_are_read_from_labels_then_affinity() -> None:
    labelled = pv("a", {}, labels={pvs.ZONE_LABEL: "us-central1-a__us-central1-b"})
    assert pvs.zones_of(labelled) == ["us-central1-a", "us-central1-b"]
    pinned = pv("b", {"nodeAffinity": zone_affinity("topology.gke.io/zone", ["us-central1-c"])})
    assert pvs.zones_of(pinned) == ["us-central1-c"]
    assert pvs.zones_of(pv("c", {})) == []


def test_a_csi_pv_of_another_cloud_becomes_this_drivers() -> None:
    """An EBS CSI PV restored onto a GCE disk: the driver, the handle, the zone key and the
    provisioner annotation are the new cloud's; the rest of the object is as it was."""
    affinity = zone_affinity("topology.ebs.csi.aws.com/zone", ["eu-west-1a"])
    affinity["required"]["nodeSelectorTerms"][0]["matchExpressions"].append(
        {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]}
    )
    source = pv(
        "data",
        {
            "csi": {
                "driver": "ebs.csi.aws.com",
                "volumeHandle": "vol-0abc",
                "fsType": "xfs",
                "volumeAttributes": {"storage.kubernetes.io/csiProvisionerIdentity": "ebs-1"},
            },
            "nodeAffinity": affinity,
            "storageClassName": "gp3",
        },
    )
    source["metadata"]["annotations"] = {
        pvs.PROVISIONED_BY: "ebs.csi.aws.com",
        "team": "payments",
    }
    out = _rewrite(source, "us-east1-b")
    expected = pv(
        "data",
        {
            "csi": {
                "driver": "pd.csi.storage.gke.io",
                "volumeHandle": "projects/p/zones/z/disks/new-disk",
                "fsType": "xfs",
            },
            "nodeAffinity": zone_affinity("topology.gke.io/zone", ["us-east1-b"]),
            "storageClassName": "gp3",
        },
    )
    expected["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"].append(
        {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]}
    )
    expected["metadata"]["annotations"] = {
        pvs.PROVISIONED_BY: "pd.csi.storage.gke.io",
        "team": "payments",
    }
    assert out == expected


def test_an_in_tree_pv_of_another_cloud_becomes_a_csi_pv() -> None:
    labels = {pvs.ZONE_LABEL: "eastus-1", pvs.REGION_LABEL: "eastus"}
    source = pv(
        "data",
        {
            "azureDisk": {"diskName": "d", "diskURI": "/subscriptions/s/x", "fsType": "ext4"},
            "nodeAffinity": zone_affinity(pvs.ZONE_LABEL, ["eastus-1"]),
        },
        labels=labels,
    )
    source["metadata"]["annotations"] = {pvs.MIGRATED_TO: "disk.csi.azure.com"}
    out = _rewrite(source, "us-east1-b")
    assert out["spec"]["csi"] == {
        "driver": "pd.csi.storage.gke.io",
        "volumeHandle": "projects/p/zones/z/disks/new-disk",
        "fsType": "ext4",
    }
    assert "azureDisk" not in out["spec"]
    assert out["metadata"]["annotations"] == {}
    assert out["metadata"]["labels"] == {pvs.ZONE_LABEL: "us-east1-b", pvs.REGION_LABEL: "us-east1"}
    assert out["spec"]["nodeAffinity"] == zone_affinity("topology.gke.io/zone", ["us-east1-b"])


def test_a_pv_with_no_cloud_volume_is_refused_naming_it() -> None:
    with pytest.raises(errors.InvalidVolume, match="PersistentVolume nfs: no volume source"):
        _rewrite(pv("nfs", {"nfs": {"server": "10.0.0.1", "path": "/"}}), "us-east1-b")
