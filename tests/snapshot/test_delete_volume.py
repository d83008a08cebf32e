"""A volume a restore made is deleted only when the cloud shows that restore's tags on it: a
volume without them (another restore's, or one nobody tagged) is left and the refusal names
it; a volume already gone is no error. Run against moto, the ARM fake and the GCE fake; the
server's own state is read back."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from ark.snapshot import errors
from ark.snapshot.interface import RESTORE_TAG, RESTORE_UID_TAG
from tests.snapshot.clouds import Cloud, wait_completed

OURS = {RESTORE_TAG: "nightly-1-test-abc123", RESTORE_UID_TAG: "7d1e0c3a-uid"}


def _restored_volume(cloud: Cloud, tags: dict[str, str]) -> str:
    ref = cloud.snapshotter.volume_of(cloud.csi_pv(cloud.make_volume()))
    assert ref is not None
    snapshot_id = cloud.snapshotter.create_snapshot(ref, tags={"ark.dev/backup": "nightly-1"})
    wait_completed(cloud.snapshotter, snapshot_id)
    return cloud.snapshotter.create_volume_from_snapshot(snapshot_id, zone=cloud.zone, tags=tags)


def test_a_volume_the_restore_made_is_deleted(cloud: Cloud) -> None:
    volume_id = _restored_volume(cloud, OURS)
    assert cloud.volume_on_server(volume_id) is not None

    cloud.snapshotter.delete_volume(volume_id, owner_tags=OURS)

    assert cloud.volume_on_server(volume_id) is None
    cloud.snapshotter.delete_volume(volume_id, owner_tags=OURS)  # gone already: no error


def test_a_volume_without_the_restores_tags_is_left(cloud: Cloud) -> None:
    source = cloud.make_volume()  # a volume nobody tagged (the live one)
    other = _restored_volume(cloud, {**OURS, RESTORE_UID_TAG: "another-uid"})

    for volume_id in (source, other):
        with pytest.raises(errors.NotOwned, match="not deleted: it is not tagged"):
            cloud.snapshotter.delete_volume(volume_id, owner_tags=OURS)
        assert cloud.volume_on_server(volume_id) is not None


def test_no_tags_asked_deletes_nothing(cloud: Cloud) -> None:
    volume_id = _restored_volume(cloud, OURS)
    with pytest.raises(errors.NotOwned):
        cloud.snapshotter.delete_volume(volume_id, owner_tags={})
    assert cloud.volume_on_server(volume_id) is not None


def test_ebs_refuses_an_attached_volume_and_says_so(moto_endpoint: str) -> None:
    from ark import snapshot  # noqa: PLC0415
    from tests.snapshot import clouds  # noqa: PLC0415

    ebs = snapshot.open_snapshotter("aws", region="us-east-1", **clouds.aws_settings(moto_endpoint))
    ec2: Any = boto3.client(
        "ec2",
        region_name="us-east-1",
        endpoint_url=moto_endpoint,
        aws_access_key_id="ark-test",
        aws_secret_access_key="ark-secret",
    )
    tags = [{"Key": k, "Value": v} for k, v in OURS.items()]
    volume_id = ec2.create_volume(
        AvailabilityZone="us-east-1a",
        Size=1,
        TagSpecifications=[{"ResourceType": "volume", "Tags": tags}],
    )["VolumeId"]
    instance = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0]
    ec2.attach_volume(VolumeId=volume_id, InstanceId=instance["InstanceId"], Device="/dev/sdf")

    with pytest.raises(errors.OperationFailed, match="VolumeInUse"):
        ebs.delete_volume(volume_id, owner_tags=OURS)

    ec2.detach_volume(VolumeId=volume_id, InstanceId=instance["InstanceId"], Device="/dev/sdf")
    ebs.delete_volume(volume_id, owner_tags=OURS)
    assert (
        ec2.describe_volumes(Filters=[{"Name": "volume-id", "Values": [volume_id]}])["Volumes"]
        == []
    )
