"""Block access to snapshots: EBS's checksums are checked on read; providers without a
block API say why when asked for one."""

from __future__ import annotations

import base64
import hashlib

import pytest

from ark import snapshot
from ark.snapshot import errors
from ark.snapshot.blocks import BlockAccess
from tests.volumes.conftest import SOURCE_REGION, Ebs, random_block


def test_blocks_are_listed_and_read_in_order(ebs: Ebs, source: BlockAccess) -> None:
    blocks = {5: random_block(), 1: random_block()}
    snap = ebs.make_snapshot(blocks, size_gib=2)
    assert source.volume_size(snap) == 2 << 30
    listed = list(source.blocks(snap))
    assert [b.index for b in listed] == [1, 5]
    assert {b.index: source.read(snap, b) for b in listed} == blocks


def test_a_block_whose_checksum_does_not_match_is_refused(ebs: Ebs, source: BlockAccess) -> None:
    client = ebs.client(SOURCE_REGION)
    snap = client.start_snapshot(VolumeSize=1, Timeout=60)["SnapshotId"]
    data = random_block()
    wrong = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    # moto takes a checksum at face value: the stored block and its checksum disagree
    client.put_snapshot_block(
        SnapshotId=snap,
        BlockIndex=0,
        BlockData=data,
        DataLength=len(data),
        Checksum=wrong,
        ChecksumAlgorithm="SHA256",
    )
    client.complete_snapshot(SnapshotId=snap, ChangedBlocksCount=1)
    [block] = list(source.blocks(snap))
    with pytest.raises(errors.OperationFailed, match=f"snapshot {snap} block 0: .*EBS says"):
        source.read(snap, block)


@pytest.mark.parametrize(
    ("provider", "reason"),
    [
        ("gcp", "GCE has no API to read a snapshot's blocks"),
        ("csi", "a CSI driver's snapshots cannot be read block by block"),
    ],
)
def test_providers_without_block_access_say_why(provider: str, reason: str) -> None:
    with pytest.raises(errors.SnapshotConfigError, match=reason):
        snapshot.open_blocks(provider, region="r", config={}, credentials={})


def test_an_unknown_config_key_is_refused() -> None:
    with pytest.raises(errors.SnapshotConfigError, match="ebsEndpoint"):
        snapshot.open_blocks("aws", region="eu-west-1", config={"ebsEndpoint": "x"}, credentials={})
