"""Block-level access to snapshots: what a volume export reads and a volume import writes.

A provider whose snapshots can be read block by block (EBS direct APIs, Azure page blobs
through a SAS) is a ``BlockSource``;
one whose snapshots (or disks) can be written block by block is a ``BlockTarget``. Blocks are
numbered from 0 and ``block_size`` bytes long; a block not listed reads as zeros.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from ark.snapshot import errors
from ark.snapshot.interface import SnapshotPhase, VolumeSnapshotter

_POLL_MAX = 10.0


@dataclass(frozen=True)
class Block:
    """A block of a snapshot, with what the provider needs to read it."""

    index: int
    token: str | None
    """The provider's read token; None in a listing of changes: the block is gone from the
    newer snapshot (it reads as zeros)."""


class Blocks(Protocol):
    """Where the blocks are: a provider's region, and its block size."""

    @property
    def provider(self) -> str: ...

    @property
    def region(self) -> str: ...

    @property
    def block_size(self) -> int: ...


class BlockSource(Blocks, Protocol):
    def volume_size(self, snapshot_id: str) -> int:
        """The snapshot's volume size in bytes."""
        ...

    def blocks(self, snapshot_id: str) -> Iterator[Block]:
        """The snapshot's written blocks, by index (paging as needed)."""
        ...

    def changed_blocks(self, parent_id: str, snapshot_id: str) -> Iterator[Block]:
        """The blocks of ``snapshot_id`` that differ from ``parent_id``'s (a snapshot of the
        same volume, taken before), by index."""
        ...

    def read(self, snapshot_id: str, block: Block) -> bytes:
        """The block's bytes, checked against the checksum the provider gives."""
        ...

    def release(self, snapshot_id: str) -> None:
        """Give up what reading ``snapshot_id`` took (Azure: its SAS); nothing when none."""
        ...


class BlockTarget(Blocks, Protocol):
    @property
    def sequential(self) -> bool:
        """Whether ``put`` must be called in index order from one thread (a target that
        streams the volume, as GCE's raw disk image); else any order, from many."""
        ...

    def start(self, size_bytes: int, *, description: str, tags: Mapping[str, str]) -> str:
        """A new, empty snapshot of a volume of ``size_bytes``; returns its id."""
        ...

    def put(self, snapshot_id: str, index: int, data: bytes, *, sha256: bytes) -> None:
        """Write block ``index`` (the provider checks ``sha256``, the block's digest)."""
        ...

    def complete(self, snapshot_id: str, *, blocks: int) -> str:
        """Seal what ``start`` began after ``blocks`` blocks were written, and wait until it
        can be used; returns the snapshot's id (EBS: the same; Azure: a snapshot of the
        upload disk, which is then deleted)."""
        ...

    def create_volume(
        self, snapshot_id: str, *, zone: str, volume_type: str | None, tags: Mapping[str, str]
    ) -> str:
        """A volume from the snapshot in ``zone``, waited for until it can be attached;
        returns its id."""
        ...


class BlockAccess(BlockSource, BlockTarget, Protocol):
    """A provider whose snapshots are read and written block by block."""


def wait_until(subject: str, done: Callable[[], bool], *, timeout: float) -> None:
    """Poll ``done()`` (0.2 s, doubling to 10 s) until it is true; OperationFailed naming
    ``subject`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    pause = 0.2
    while not done():
        if time.monotonic() > deadline:
            raise errors.OperationFailed("wait for", subject, f"not ready after {timeout:.0f}s")
        time.sleep(pause)
        pause = min(pause * 2, _POLL_MAX)


def snapshot_done(snapshotter: VolumeSnapshotter, snapshot_id: str) -> bool:
    """Whether the snapshot is complete; OperationFailed when the provider says it failed."""
    status = snapshotter.snapshot_status(snapshot_id)
    if status.phase is SnapshotPhase.FAILED:
        raise errors.OperationFailed("complete", f"snapshot {snapshot_id}", status.message)
    return status.phase is SnapshotPhase.COMPLETED
