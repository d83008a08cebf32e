"""Volume snapshots through the clouds' own APIs (EBS, Azure managed disks, GCE persistent disks).

    snapshotter = snapshot.open_snapshotter("aws", region="us-east-1", config={}, credentials={})

Providers are plugins: any distribution can add one under the entry-point group
``ark.volume_snapshotters``; the contract is :mod:`ark.snapshot.interface`.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import metadata

from ark.snapshot import errors
from ark.snapshot.interface import VolumeSnapshotter

ENTRY_POINT_GROUP = "ark.volume_snapshotters"


def providers() -> list[str]:
    """Names of the installed volume-snapshot providers."""
    return sorted({ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)})


def open_snapshotter(
    provider: str,
    *,
    region: str,
    config: Mapping[str, str],
    credentials: Mapping[str, str],
) -> VolumeSnapshotter:
    """The snapshotter of ``provider`` for ``region``.

    ``config`` is a VolumeSnapshotLocation's ``spec.config`` (a ``region`` key there wins over
    ``region``); ``credentials`` the decoded keys of its credential Secret. Raises
    UnknownProvider or SnapshotConfigError (naming the bad key).
    """
    found = [ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name == provider]
    if not found:
        raise errors.UnknownProvider(provider, providers())
    factory = found[0].load()
    snapshotter = factory(region=region, config=config, credentials=credentials)
    if not isinstance(snapshotter, VolumeSnapshotter):
        raise errors.SnapshotConfigError(
            "provider", f"{provider!r} ({found[0].value}) did not return a VolumeSnapshotter"
        )
    return snapshotter
