"""A snapshotter finds the cloud volume behind a PV, in-tree or CSI, and ignores other PVs."""

from __future__ import annotations

from typing import Any

import pytest

from ark.snapshot import errors
from tests.snapshot.clouds import Cloud, pv


def _assert_describes(cloud: Cloud, pv_obj: dict[str, Any], volume_id: str) -> None:
    ref = cloud.snapshotter.volume_of(pv_obj)
    assert ref is not None
    assert ref.volume_id == volume_id
    assert ref.zone == cloud.zone
    assert ref.region == cloud.snapshotter.region
    assert ref.pv_name == pv_obj["metadata"]["name"]
    assert ref.volume_type == cloud.volume_type
    assert ref.iops == cloud.iops
    assert ref.size_gib is not None and ref.size_gib >= 10
    assert ref.encrypted
    assert ref.kms_key_id == cloud.kms_key


def test_in_tree_pv_is_identified_with_the_volumes_properties(cloud: Cloud) -> None:
    volume_id = cloud.make_volume()
    _assert_describes(cloud, cloud.in_tree_pv(volume_id), volume_id)


def test_csi_pv_is_identified_with_the_volumes_properties(cloud: Cloud) -> None:
    volume_id = cloud.make_volume()
    _assert_describes(cloud, cloud.csi_pv(volume_id), volume_id)


OTHER_PVS = {
    "nfs": pv("nfs-pv", {"nfs": {"server": "10.0.0.2", "path": "/exports"}}),
    "hostPath": pv("host-pv", {"hostPath": {"path": "/data"}}),
    "ceph-csi": pv("ceph-pv", {"csi": {"driver": "rbd.csi.ceph.com", "volumeHandle": "0001-x"}}),
    "aws-in-tree": pv("ebs-pv", {"awsElasticBlockStore": {"volumeID": "vol-0abc"}}),
    "aws-csi": pv("ebs-csi", {"csi": {"driver": "ebs.csi.aws.com", "volumeHandle": "vol-0abc"}}),
    "azure-in-tree": pv("az-pv", {"azureDisk": {"diskName": "d", "diskURI": "/subscriptions/x"}}),
    "azure-csi": pv("az-csi", {"csi": {"driver": "disk.csi.azure.com", "volumeHandle": "/x"}}),
    "gcp-in-tree": pv("gce-pv", {"gcePersistentDisk": {"pdName": "disk-1"}}),
    "gcp-csi": pv("gce-csi", {"csi": {"driver": "pd.csi.storage.gke.io", "volumeHandle": "p/x"}}),
}


def test_pvs_of_other_kinds_and_clouds_are_not_this_providers(cloud: Cloud) -> None:
    others = {k: v for k, v in OTHER_PVS.items() if not k.startswith(f"{cloud.name}-")}
    assert {k: cloud.snapshotter.volume_of(v) for k, v in others.items()} == dict.fromkeys(others)


def test_missing_volume_error_names_the_pv_and_the_volume(cloud: Cloud) -> None:
    volume_id = cloud.make_volume()
    gone = volume_id[:-4] + ("0000" if not volume_id.endswith("0000") else "1111")
    pv_obj = cloud.csi_pv(gone)
    with pytest.raises(errors.VolumeNotFound) as err:
        cloud.snapshotter.volume_of(pv_obj)
    assert pv_obj["metadata"]["name"] in str(err.value)
    assert gone in str(err.value)


def test_unparseable_volume_id_names_the_pv(cloud: Cloud) -> None:
    pv_obj = cloud.csi_pv("not/a-volume/id")
    with pytest.raises(errors.InvalidVolume) as err:
        cloud.snapshotter.volume_of(pv_obj)
    assert pv_obj["metadata"]["name"] in str(err.value)
