"""What the csi snapshotter writes and chooses, without a cluster."""

from __future__ import annotations

from typing import Any

import pytest

from ark.snapshot import csi_objects as objects
from ark.snapshot import errors

DRIVER = "hostpath.csi.k8s.io"


def _class(driver: str, *, default: bool = False) -> dict[str, Any]:
    annotations = {objects.DEFAULT_CLASS_ANNOTATION: "true"} if default else {}
    return {"driver": driver, "metadata": {"annotations": annotations}}


CLASSES = {
    "fast": _class(DRIVER, default=True),
    "slow": _class(DRIVER),
    "other": _class("other.example.com", default=True),
}


def test_the_drivers_default_class_is_chosen() -> None:
    assert objects.choose_class(CLASSES, driver=DRIVER, named=None, pv="pv-1") == "fast"


def test_a_named_class_wins_for_its_own_driver_only() -> None:
    assert objects.choose_class(CLASSES, driver=DRIVER, named="slow", pv="pv-1") == "slow"
    assert objects.choose_class(CLASSES, driver=DRIVER, named="other", pv="pv-1") == "fast"


def test_a_named_class_that_does_not_exist_is_a_config_error() -> None:
    with pytest.raises(errors.SnapshotConfigError, match=r"volumeSnapshotClass.*'gone'"):
        objects.choose_class(CLASSES, driver=DRIVER, named="gone", pv="pv-1")


@pytest.mark.parametrize(
    ("classes", "found"),
    [
        ({"slow": _class(DRIVER)}, "no VolumeSnapshotClass for"),
        (
            {"a": _class(DRIVER, default=True), "b": _class(DRIVER, default=True)},
            "several default VolumeSnapshotClasses (a, b) for",
        ),
    ],
)
def test_no_single_default_names_the_volume_the_driver_and_the_fix(
    classes: dict[str, dict[str, Any]], found: str
) -> None:
    with pytest.raises(errors.NoSnapshotClass) as caught:
        objects.choose_class(classes, driver=DRIVER, named=None, pv="pv-1")
    message = str(caught.value)
    assert (
        message.startswith("PersistentVolume pv-1: ") and f"{found} CSI driver {DRIVER}" in message
    )
    assert f"{objects.DEFAULT_CLASS_ANNOTATION}=true" in message


def test_names_are_stable_distinct_and_valid() -> None:
    a = objects.object_name("restore-1", "snapcontent-x", "shop", "data", prefix="ark")
    assert a == objects.object_name("restore-1", "snapcontent-x", "shop", "data", prefix="ark")
    assert a != objects.object_name("restore-2", "snapcontent-x", "shop", "data", prefix="ark")
    assert a.startswith("ark-") and a.endswith("-data")
    long = objects.object_name("b", "c" * 300, prefix="ark")
    assert len(long) <= 253 and not long.endswith("-")


SOURCE = {
    "metadata": {"name": "snapcontent-1"},
    "spec": {
        "driver": DRIVER,
        "deletionPolicy": "Retain",
        "volumeSnapshotClassName": "fast",
        "sourceVolumeMode": "Filesystem",
        "source": {"volumeHandle": "vol-1"},
    },
    "status": {"snapshotHandle": "snap-1", "readyToUse": True},
}


def test_a_restore_pre_provisions_a_retained_content_over_the_snapshot_handle() -> None:
    content, snapshot = objects.restored_objects(
        SOURCE, name="ark-x-data", namespace="shop", tags={"ark.dev/restore": "r1"}
    )
    assert content["spec"] == {
        "deletionPolicy": "Retain",
        "driver": DRIVER,
        "source": {"snapshotHandle": "snap-1"},
        "volumeSnapshotRef": {"namespace": "shop", "name": "ark-x-data"},
        "volumeSnapshotClassName": "fast",
        "sourceVolumeMode": "Filesystem",
    }
    assert snapshot["metadata"]["namespace"] == "shop"
    assert snapshot["spec"]["source"] == {"volumeSnapshotContentName": "ark-x-data"}
    for made in (content, snapshot):
        assert made["metadata"]["labels"]["ark.dev/exclude-from-backup"] == "true"
        assert made["metadata"]["annotations"][objects.RESTORED_FROM] == "snapcontent-1"


def test_a_content_without_a_handle_cannot_be_restored_from() -> None:
    pending = {**SOURCE, "status": {}}
    with pytest.raises(errors.OperationFailed, match=r"snapcontent-1: .*no snapshotHandle"):
        objects.restored_objects(pending, name="n", namespace="shop", tags={})


def test_the_restored_claim_is_provisioned_from_the_snapshot() -> None:
    claim = {
        "metadata": {
            "name": "data",
            "namespace": "shop",
            "annotations": {"pv.kubernetes.io/bind-completed": "yes", "keep": "me"},
        },
        "spec": {
            "volumeName": "pvc-old",
            "storageClassName": "fast",
            "dataSourceRef": {"kind": "Other", "name": "x"},
            "resources": {"requests": {"storage": "1Gi"}},
        },
    }
    made = objects.claim_from(claim, snapshot="ark-x-data")
    assert made["spec"] == {
        "storageClassName": "fast",
        "resources": {"requests": {"storage": "1Gi"}},
        "dataSource": {
            "apiGroup": "snapshot.storage.k8s.io",
            "kind": "VolumeSnapshot",
            "name": "ark-x-data",
        },
    }
    assert made["metadata"]["annotations"] == {"keep": "me"}
    assert claim["spec"]["volumeName"] == "pvc-old"  # the input is not changed
