"""Volume snapshots through the clouds' own APIs (EBS, Azure managed disks, GCE persistent disks)
and, for any other CSI driver, through the cluster's VolumeSnapshots (``csi``).

    snapshotter = snapshot.open_snapshotter("aws", region="us-east-1", config={}, credentials={})
    in_cluster = snapshot.open_snapshotter("csi", region="", config={}, credentials={}, kube=kube)

Providers are plugins: any distribution can add one under the entry-point group
``ark.volume_snapshotters``; the contract is :mod:`ark.snapshot.interface`.

Block access (volume export and import, :mod:`ark.snapshot.blocks`) is built in for EBS and
Azure managed disks (GCE has no API to read or write a snapshot's blocks):

    ebs = snapshot.open_blocks("aws", region="eu-west-1", config={}, credentials={})
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from importlib import metadata
from typing import TYPE_CHECKING, Any

from ark.snapshot import errors
from ark.snapshot.blocks import BlockAccess, BlockTarget
from ark.snapshot.interface import VolumeSnapshotter

if TYPE_CHECKING:
    from ark.kube import KubeClient

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
    kube: KubeClient | None = None,
) -> VolumeSnapshotter:
    """The snapshotter of ``provider`` for ``region``.

    ``config`` is a VolumeSnapshotLocation's ``spec.config`` (a ``region`` key there wins over
    ``region``); ``credentials`` the decoded keys of its credential Secret; ``kube`` the
    cluster, handed to providers that work through it (their factory takes ``kube``). Raises
    UnknownProvider or SnapshotConfigError (naming the bad key).
    """
    found = [ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name == provider]
    if not found:
        raise errors.UnknownProvider(provider, providers())
    factory = found[0].load()
    options: dict[str, Any] = {"region": region, "config": config, "credentials": credentials}
    if kube is not None and "kube" in inspect.signature(factory).parameters:
        options["kube"] = kube
    snapshotter = factory(**options)
    if not isinstance(snapshotter, VolumeSnapshotter):
        raise errors.SnapshotConfigError(
            "provider", f"{provider!r} ({found[0].value}) did not return a VolumeSnapshotter"
        )
    return snapshotter


_NO_BLOCK_ACCESS = {
    "gcp": "GCE has no API to read a snapshot's blocks (export needs an image export to "
    "Cloud Storage, not supported yet)",
    "csi": "a CSI driver's snapshots cannot be read block by block",
}


def open_blocks(
    provider: str,
    *,
    region: str,
    config: Mapping[str, str],
    credentials: Mapping[str, str],
) -> BlockAccess:
    """Block access to ``provider``'s snapshots in ``region`` (settings as for
    ``open_snapshotter``); SnapshotConfigError saying why for a provider that has none."""
    if provider == "aws":
        from ark.snapshot import ebs_blocks  # noqa: PLC0415 - boto3 only when asked

        return ebs_blocks.open_blocks(region=region, config=config, credentials=credentials)
    if provider == "azure":
        from ark.snapshot import azure_blocks  # noqa: PLC0415 - the Azure SDK only when asked

        return azure_blocks.open_blocks(region=region, config=config, credentials=credentials)
    reason = _NO_BLOCK_ACCESS.get(provider, f"no block access for provider {provider!r}")
    raise errors.SnapshotConfigError("provider", reason)


def open_block_target(
    provider: str,
    *,
    region: str,
    config: Mapping[str, str],
    credentials: Mapping[str, str],
) -> BlockTarget:
    """Where an import writes volumes in ``provider``: its block access, or for GCE (which
    cannot be read block by block) images made from raw disk archives
    (``ark.snapshot.gce_images``); SnapshotConfigError saying why for a provider with none."""
    if provider == "gcp":
        from ark.snapshot import gce_images  # noqa: PLC0415 - the Google SDK only when asked

        return gce_images.open_target(region=region, config=config, credentials=credentials)
    return open_blocks(provider, region=region, config=config, credentials=credentials)
