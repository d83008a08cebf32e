"""moto's server, with its EBS direct APIs extended to every EC2 snapshot, as in AWS.

    python hack/fakes/moto_ebs.py -H 127.0.0.1 -p PORT     (``hack/objstore up moto``)

An emulator extension, not a fake of ark's own: moto's EBS direct APIs know only snapshots
made by StartSnapshot, while in AWS every EC2 snapshot (CreateSnapshot of a volume,
CopySnapshot) can be read through them. moto never writes to a volume, so here, as in AWS for
a volume not written since it was made:

- a snapshot of a volume created from snapshot S holds S's blocks (a volume created empty
  holds none: it reads as zeros);
- a copy of snapshot S (CopySnapshot, from any region) holds S's blocks.

An EC2 snapshot is registered with the EBS backend of its region the first time an EBS direct
API names it, with those blocks; everything else is moto's own.
"""

from __future__ import annotations

import sys
from typing import Any

from moto.ebs import models as ebs_models
from moto.ec2.models import elastic_block_store as ec2_ebs
from moto.server import main as moto_main

_copied_from: dict[str, tuple[str, str]] = {}
"""A copied snapshot's id → (its source's region, its source's id): moto's copy keeps only
the source's volume, not which snapshot of it was copied."""


class _EverySnapshot(dict[str, Any]):
    """An EBS backend's snapshots, which take in an EC2 snapshot of its region when asked."""

    def __init__(self, backend: Any) -> None:
        super().__init__()
        self._backend = backend

    def __missing__(self, snapshot_id: str) -> Any:
        ec2_snapshot = self._backend.ec2_backend.snapshots.get(snapshot_id)
        if ec2_snapshot is None:
            raise KeyError(snapshot_id)
        made = ebs_models.EBSSnapshot(account_id=self._backend.account_id, snapshot=ec2_snapshot)
        made.status = "completed"
        made.blocks = dict(_blocks_of(self._backend.account_id, ec2_snapshot))
        self[snapshot_id] = made
        return made


def _ebs_snapshot(account_id: str, region: str, snapshot_id: str) -> Any:
    return ebs_models.ebs_backends[account_id][region].snapshots[snapshot_id]


def _blocks_of(account_id: str, snapshot: Any) -> dict[int, Any]:
    """The blocks an EC2 snapshot holds: its copy source's, else its volume's source's."""
    copied = _copied_from.get(snapshot.id)
    if copied is not None:
        return dict(_ebs_snapshot(account_id, copied[0], copied[1]).blocks)
    volume = snapshot.volume
    if volume is None or not volume.snapshot_id:
        return {}
    region = volume.ec2_backend.region_name
    return dict(_ebs_snapshot(account_id, region, volume.snapshot_id).blocks)


def _extend() -> None:
    """Patch moto's EBS and EC2 backends (once, before the server starts)."""
    ebs_init = ebs_models.EBSBackend.__init__

    def init(self: Any, region_name: str, account_id: str) -> None:
        ebs_init(self, region_name, account_id)
        self.snapshots = _EverySnapshot(self)

    copy_snapshot = ec2_ebs.EBSBackend.copy_snapshot

    def copy(
        self: Any,
        source_snapshot_id: str,
        source_region: str,
        description: str,
        kms_key_id: str | None,
    ) -> Any:
        made = copy_snapshot(self, source_snapshot_id, source_region, description, kms_key_id)
        _copied_from[made.id] = (source_region, source_snapshot_id)
        return made

    ebs_models.EBSBackend.__init__ = init  # type: ignore[method-assign]
    ec2_ebs.EBSBackend.copy_snapshot = copy  # type: ignore[method-assign]


if __name__ == "__main__":
    _extend()
    moto_main(sys.argv[1:])
