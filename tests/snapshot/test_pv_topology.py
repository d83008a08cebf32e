"""Zone labels and node affinity of a rewritten PV, shape by shape (no cloud involved)."""

from __future__ import annotations

from typing import Any

from ark.snapshot import pvs
from tests.snapshot.clouds import pv, zone_affinity

DISK = "projects/p/zones/us-central1-a/disks/d"


def _rewrite(pv_obj: dict[str, Any], zone: str | None) -> dict[str, Any]:
    return pvs.rewritten(
        pv_obj,
        in_tree_kind="gcePersistentDisk",
        in_tree_fields={"pdName": "new-disk"},
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
