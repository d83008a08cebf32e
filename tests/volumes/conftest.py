"""Snapshots on moto's EBS direct APIs, seeded and read back with the real SDK.

moto keeps block bytes only for snapshots made by StartSnapshot (not EC2 CreateSnapshot), so
a source "volume snapshot" here is built block by block, as EBS would hold it.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from azure.mgmt.compute import models
from azure.storage.blob import BlobClient

from ark import snapshot
from ark.snapshot import azure_auth
from ark.snapshot.blocks import BlockAccess
from tests.conftest import AzureArm
from tests.snapshot import clouds

SOURCE_REGION = "eu-west-1"
TARGET_REGION = "eu-central-1"
TARGET_ZONE = "eu-central-1a"
BLOCK = 512 * 1024
CREDENTIALS = {"aws_access_key_id": "ark-test", "aws_secret_access_key": "ark-secret"}


def random_block() -> bytes:
    return os.urandom(BLOCK)


def text_block(word: bytes) -> bytes:
    """A block that compresses well."""
    return (word * (BLOCK // len(word) + 1))[:BLOCK]


ZERO = bytes(BLOCK)


@dataclass(frozen=True)
class Ebs:
    """The raw SDK on moto, to seed snapshots and read them back (never ark's own code)."""

    endpoint: str

    def _client(self, service: str, region: str) -> Any:
        session: Any = boto3.Session(
            region_name=region,
            aws_access_key_id=CREDENTIALS["aws_access_key_id"],
            aws_secret_access_key=CREDENTIALS["aws_secret_access_key"],
        )
        return session.client(service, endpoint_url=self.endpoint)

    def client(self, region: str) -> Any:
        return self._client("ebs", region)

    def ec2(self, region: str) -> Any:
        return self._client("ec2", region)

    def make_snapshot(
        self, blocks: Mapping[int, bytes], *, region: str = SOURCE_REGION, size_gib: int = 1
    ) -> str:
        ebs = self.client(region)
        snap = ebs.start_snapshot(VolumeSize=size_gib, Timeout=60)["SnapshotId"]
        for index, data in blocks.items():
            ebs.put_snapshot_block(
                SnapshotId=snap,
                BlockIndex=index,
                BlockData=data,
                DataLength=len(data),
                Checksum=base64.b64encode(hashlib.sha256(data).digest()).decode(),
                ChecksumAlgorithm="SHA256",
            )
        ebs.complete_snapshot(SnapshotId=snap, ChangedBlocksCount=len(blocks))
        return str(snap)

    def read_snapshot(self, snap: str, *, region: str) -> dict[int, bytes]:
        ebs = self.client(region)
        listed = ebs.list_snapshot_blocks(SnapshotId=snap, MaxResults=10000)["Blocks"]
        found: dict[int, bytes] = {}
        for row in listed:
            got = ebs.get_snapshot_block(
                SnapshotId=snap, BlockIndex=row["BlockIndex"], BlockToken=row["BlockToken"]
            )
            found[int(row["BlockIndex"])] = got["BlockData"].read()
        return found


def _compute(arm: AzureArm) -> Any:
    return azure_auth.compute_client(
        azure_auth.StaticToken(clouds.AZURE_TOKEN),
        subscription=clouds.AZURE_SUBSCRIPTION,
        endpoint=arm[1],
        polling_interval=0.01,
    )


def read_disk(arm: AzureArm, resource_id: str) -> Stored:
    """What a disk or snapshot holds, through a read SAS as a user would read it (then
    revoked): its size and the bytes of every 512 KiB block a written page touches."""
    compute = _compute(arm)
    parts = resource_id.split("/")
    ops = compute.disks if parts[-2].lower() == "disks" else compute.snapshots
    granted = ops.begin_grant_access(
        parts[4], parts[-1], models.GrantAccessData(access="Read", duration_in_seconds=600)
    ).result()
    try:
        blob = BlobClient.from_blob_url(granted.access_sas)
        size = int(blob.get_blob_properties().size)
        touched = sorted(
            {
                i
                for r in blob.list_page_ranges()
                for i in range(r["start"] // BLOCK, r["end"] // BLOCK + 1)
            }
        )
        blocks = {
            i: bytes(blob.download_blob(offset=i * BLOCK, length=BLOCK).readall()) for i in touched
        }
        return Stored(size=size, blocks=blocks)
    finally:
        ops.begin_revoke_access(parts[4], parts[-1]).result()


@dataclass(frozen=True)
class Stored:
    size: int
    blocks: dict[int, bytes]
    """Block index -> its bytes (the last one short when the blob ends inside it)."""


@pytest.fixture
def ebs(moto_endpoint: str) -> Ebs:
    return Ebs(moto_endpoint)


def open_region(endpoint: str, region: str) -> BlockAccess:
    """ark's block access to ``region`` of the moto server at ``endpoint``."""
    return snapshot.open_blocks(
        "aws", region=region, config={"ec2Url": endpoint}, credentials=CREDENTIALS
    )


@pytest.fixture
def source(moto_endpoint: str) -> BlockAccess:
    return open_region(moto_endpoint, SOURCE_REGION)


@pytest.fixture
def target(moto_endpoint: str) -> BlockAccess:
    return open_region(moto_endpoint, TARGET_REGION)
