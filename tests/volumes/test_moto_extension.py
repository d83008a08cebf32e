"""The moto extension (hack/fakes/moto_ebs.py) answers as AWS does: every EC2 snapshot is
readable through the EBS direct APIs, and holds the blocks of the snapshot its volume was
created from (or that it was copied from). Checked with the raw SDK, not ark's code."""

from __future__ import annotations

from tests.volumes.conftest import (
    SOURCE_REGION,
    TARGET_REGION,
    Ebs,
    random_block,
    text_block,
)


def test_a_snapshot_of_a_volume_made_from_a_snapshot_holds_its_blocks(ebs: Ebs) -> None:
    blocks = {0: random_block(), 3: text_block(b"moto "), 7: random_block()}
    seeded = ebs.make_snapshot(blocks, size_gib=2)
    ec2 = ebs.ec2(SOURCE_REGION)
    volume = ec2.create_volume(SnapshotId=seeded, AvailabilityZone=f"{SOURCE_REGION}b")
    taken = ec2.create_snapshot(VolumeId=volume["VolumeId"])["SnapshotId"]
    assert ebs.read_snapshot(taken, region=SOURCE_REGION) == blocks
    listed = ebs.client(SOURCE_REGION).list_snapshot_blocks(SnapshotId=taken)
    assert listed["VolumeSize"] == 2


def test_a_snapshot_of_an_empty_volume_holds_no_blocks(ebs: Ebs) -> None:
    ec2 = ebs.ec2(SOURCE_REGION)
    volume = ec2.create_volume(Size=1, AvailabilityZone=f"{SOURCE_REGION}a")
    taken = ec2.create_snapshot(VolumeId=volume["VolumeId"])["SnapshotId"]
    assert ebs.read_snapshot(taken, region=SOURCE_REGION) == {}


def test_a_copy_in_another_region_holds_the_source_blocks(ebs: Ebs) -> None:
    blocks = {1: random_block(), 2: random_block()}
    seeded = ebs.make_snapshot(blocks)
    copied = ebs.ec2(TARGET_REGION).copy_snapshot(
        SourceSnapshotId=seeded, SourceRegion=SOURCE_REGION
    )["SnapshotId"]
    assert ebs.read_snapshot(copied, region=TARGET_REGION) == blocks


def test_a_snapshot_of_a_snapshot_chain_holds_the_first_blocks(ebs: Ebs) -> None:
    blocks = {4: random_block()}
    ec2 = ebs.ec2(SOURCE_REGION)
    snap = ebs.make_snapshot(blocks)
    for _ in range(2):
        volume = ec2.create_volume(SnapshotId=snap, AvailabilityZone=f"{SOURCE_REGION}a")
        snap = ec2.create_snapshot(VolumeId=volume["VolumeId"])["SnapshotId"]
    assert ebs.read_snapshot(snap, region=SOURCE_REGION) == blocks
