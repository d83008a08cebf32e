"""EBS snapshots block by block, through the EBS direct APIs (boto3 ``ebs``).

Reading: ListSnapshotBlocks and ListChangedBlocks (paged), GetSnapshotBlock with the block's
token, its SHA-256 checked against the checksum EBS returns. Writing: StartSnapshot,
PutSnapshotBlock with each block's SHA-256 (EBS refuses a block that does not match),
CompleteSnapshot with the count of blocks written, then EC2 CreateVolume from it. EBS blocks
are 512 KiB, always (moto answers 512 as BlockSize; the blocks it keeps are 512 KiB).

Config as ``aws`` (``region``, ``profile``, ``ec2Url``) plus ``ebsUrl``, the direct APIs'
endpoint (``ec2Url`` when not set: one local moto serves both).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any

import boto3
import botocore.config

from ark.snapshot import aws, errors
from ark.snapshot import config as settings
from ark.snapshot.blocks import Block, snapshot_done, wait_until

BLOCK_SIZE = 512 * 1024
CONFIG_KEYS = aws.CONFIG_KEYS | {"ebsUrl"}
_GIB = 1 << 30
_PAGE = 10000


class EbsBlocks:
    """One region's EBS snapshots as a BlockSource and a BlockTarget."""

    def __init__(
        self,
        *,
        region: str,
        session: boto3.Session,
        endpoint: str | None,
        ebs_endpoint: str | None,
        timeout: float = 3600.0,
    ) -> None:
        self._region = region
        self._snapshots = aws.EbsSnapshotter(region=region, session=session, endpoint=endpoint)
        # made here, once: a boto3 Session is not thread-safe, its clients are
        self._ebs: Any = session.client(
            "ebs",
            region_name=region,
            endpoint_url=ebs_endpoint,
            config=botocore.config.Config(
                retries={"mode": "standard", "max_attempts": 5},
                connect_timeout=10,
                max_pool_connections=64,
            ),
        )
        self._timeout = timeout

    @property
    def provider(self) -> str:
        return aws.PROVIDER

    @property
    def region(self) -> str:
        return self._region

    @property
    def block_size(self) -> int:
        return BLOCK_SIZE

    @property
    def sequential(self) -> bool:
        return False

    def _calling(self, action: str, subject: str) -> AbstractContextManager[None]:
        return aws.calling(action, subject, region=self._region)

    # -- reading -------------------------------------------------------------------------
    def volume_size(self, snapshot_id: str) -> int:
        with self._calling("list blocks", f"snapshot {snapshot_id}"):
            found = self._ebs.list_snapshot_blocks(SnapshotId=snapshot_id, MaxResults=100)
        return int(found["VolumeSize"]) * _GIB

    def blocks(self, snapshot_id: str) -> Iterator[Block]:
        for row in self._pages("list_snapshot_blocks", "Blocks", SnapshotId=snapshot_id):
            yield Block(int(row["BlockIndex"]), str(row["BlockToken"]))

    def changed_blocks(self, parent_id: str, snapshot_id: str) -> Iterator[Block]:
        pages = self._pages(
            "list_changed_blocks",
            "ChangedBlocks",
            FirstSnapshotId=parent_id,
            SecondSnapshotId=snapshot_id,
        )
        for row in pages:
            token = row.get("SecondBlockToken")
            yield Block(int(row["BlockIndex"]), str(token) if token else None)

    def _pages(self, operation: str, rows: str, **args: str) -> Iterator[Mapping[str, Any]]:
        """Every row of a paged listing, in index order (EBS pages by block index)."""
        subject = f"snapshot {args.get('SecondSnapshotId') or args.get('SnapshotId')}"
        token: str | None = None
        while True:
            extra = {"NextToken": token} if token else {}
            with self._calling("list blocks", subject):
                page = getattr(self._ebs, operation)(MaxResults=_PAGE, **args, **extra)
            yield from sorted(page.get(rows) or [], key=lambda r: int(r["BlockIndex"]))
            token = page.get("NextToken")
            if not token:
                return

    def read(self, snapshot_id: str, block: Block) -> bytes:
        subject = f"snapshot {snapshot_id} block {block.index}"
        if block.token is None:
            raise errors.OperationFailed("read", subject, "the block has no token (it is gone)")
        with self._calling("read", subject):
            found = self._ebs.get_snapshot_block(
                SnapshotId=snapshot_id, BlockIndex=block.index, BlockToken=block.token
            )
            body = found["BlockData"]
            try:
                data: bytes = body.read(BLOCK_SIZE + 1)
            finally:
                body.close()
        if len(data) != BLOCK_SIZE:
            raise errors.OperationFailed("read", subject, f"{len(data)} bytes, not {BLOCK_SIZE}")
        if found.get("ChecksumAlgorithm") != "SHA256" or not found.get("Checksum"):
            raise errors.OperationFailed("read", subject, "EBS gave no SHA-256 checksum")
        digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
        if not hmac.compare_digest(digest, str(found["Checksum"])):
            raise errors.OperationFailed(
                "read", subject, f"its SHA-256 is {digest}, EBS says {found['Checksum']}"
            )
        return data

    def release(self, snapshot_id: str) -> None:
        """Nothing to give up: EBS block tokens expire by themselves."""
        del snapshot_id

    # -- writing -------------------------------------------------------------------------
    def start(self, size_bytes: int, *, description: str, tags: Mapping[str, str]) -> str:
        size_gib = -(-size_bytes // _GIB)
        pairs = [{"Key": k[:128], "Value": v[:256]} for k, v in tags.items()]
        with self._calling("start a snapshot", f"a volume of {size_gib} GiB"):
            made = self._ebs.start_snapshot(
                VolumeSize=size_gib,
                Description=description,
                Tags=pairs,
                Timeout=60,  # minutes without a block written before EBS cancels it
                ClientToken=str(uuid.uuid4()),  # a retried request starts no second snapshot
            )
        return str(made["SnapshotId"])

    def put(self, snapshot_id: str, index: int, data: bytes, *, sha256: bytes) -> None:
        with self._calling("write", f"snapshot {snapshot_id} block {index}"):
            self._ebs.put_snapshot_block(
                SnapshotId=snapshot_id,
                BlockIndex=index,
                BlockData=data,
                DataLength=len(data),
                Checksum=base64.b64encode(sha256).decode(),
                ChecksumAlgorithm="SHA256",
            )

    def complete(self, snapshot_id: str, *, blocks: int) -> str:
        subject = f"snapshot {snapshot_id}"
        with self._calling("complete", subject):
            self._ebs.complete_snapshot(SnapshotId=snapshot_id, ChangedBlocksCount=blocks)
        wait_until(
            subject, lambda: snapshot_done(self._snapshots, snapshot_id), timeout=self._timeout
        )
        return snapshot_id

    def create_volume(
        self, snapshot_id: str, *, zone: str, volume_type: str | None, tags: Mapping[str, str]
    ) -> str:
        volume_id = self._snapshots.create_volume_from_snapshot(
            snapshot_id, zone=zone, volume_type=volume_type, tags=tags
        )
        wait_until(
            f"volume {volume_id}", lambda: self._volume_ready(volume_id), timeout=self._timeout
        )
        return volume_id

    def _volume_ready(self, volume_id: str) -> bool:
        state = self._snapshots.volume_state(volume_id)
        if state in ("error", "deleting", "deleted"):
            raise errors.OperationFailed("create", f"volume {volume_id}", f"it is {state}")
        return state == "available"


def open_blocks(
    *,
    region: str,
    config: Mapping[str, str],
    credentials: Mapping[str, str],
    timeout: float = 3600.0,
) -> EbsBlocks:
    """EBS block access for ``region`` (a location's ``region`` key wins), as
    ``aws.open_snapshotter`` takes its settings."""
    settings.check_keys(config, CONFIG_KEYS, provider=aws.PROVIDER)
    chosen = config.get("region") or region
    if not chosen:
        raise errors.SnapshotConfigError("region", "required for EBS snapshots")
    aws.check_region(chosen)
    endpoint = settings.endpoint(config, "ec2Url")
    return EbsBlocks(
        region=chosen,
        session=aws.session_of(chosen, config, credentials),
        endpoint=endpoint,
        ebs_endpoint=settings.endpoint(config, "ebsUrl") or endpoint,
        timeout=timeout,
    )
