"""A restored claim never waits forever for a volume it cannot have.

A PersistentVolumeClaim that names its volume (``spec.volumeName``: a static claim, or one whose
dynamic volume was bound when the backup ran) binds only if that PersistentVolume is free for
it. In a clone beside the original the volume is bound to the original's claim; in another
cluster it may not exist. Such a claim would stay Pending while the restore said Completed.

When the restore made no volume for it (from a snapshot: the claim names the new volume then),
the claim gets a new, empty volume where its storage class can provision one: the restore says
the data was not copied, as a difference (PartiallyFailed). Where the class cannot provision,
the claim is not written and the item fails, saying what to do. The volume bound elsewhere is
never touched: a cluster-scoped object is not patched to point at a clone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ark.kube import KubeApiError, KubeClient
from ark.restore import volumes
from ark.restore.apply import Applied, Outcome

NO_PROVISIONER = "kubernetes.io/no-provisioner"
DEFAULT_CLASS_ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)
# What the scheduler and the volume controller wrote for the old volume: a new one is
# provisioned afresh (the node may not exist here).
_PROVISIONING_ANNOTATIONS = (
    "volume.kubernetes.io/selected-node",
    "volume.kubernetes.io/storage-provisioner",
    "volume.beta.kubernetes.io/storage-provisioner",
)


@dataclass
class Settled:
    """The object to write, and how it differs from the backed-up one (named in the results)."""

    obj: dict[str, Any]
    differences: list[str] = field(default_factory=list)


def settle(
    client: KubeClient,
    claim: dict[str, Any],
    *,
    restored: frozenset[str],
    withheld: Mapping[str, str] | None = None,
    dry_run: bool,
) -> Settled | Applied:
    """``claim`` as it can bind in the target cluster, or the failed item when it cannot.
    ``restored``: the PersistentVolumes (target names) this restore writes; ``withheld``: those
    it does not write on purpose, and why."""
    spec = claim.get("spec") or {}
    volume = spec.get("volumeName")
    if not volume:
        return Settled(claim)
    meta = claim["metadata"]
    namespace, name = meta.get("namespace") or "", meta["name"]
    why = (withheld or {}).get(volume)
    if why is not None:
        problem: str | None = f"PersistentVolume {volume} is not restored: {why}"
    else:
        problem = _volume_problem(
            client, volume, namespace=namespace, name=name, restored=restored, dry_run=dry_run
        )
    if problem is None or _exists(client, namespace, name):
        return Settled(claim)  # an existing claim is left to existingResourcePolicy
    storage_class = spec.get("storageClassName")
    found = provisioner(client, storage_class)
    if found is None:
        return Applied(
            Outcome.FAILED,
            message=(
                f"{problem}, and storage class {storage_class!r} cannot provision a new one: "
                "restore with a snapshot of the volume (snapshotVolumes on the backup), map the "
                "class to one that provisions (storageClassMapping, --storage-class-mappings), "
                f"or make a PersistentVolume for claim {namespace}/{name} and restore again"
            ),
        )
    class_name, provisioner_name = found
    spec.pop("volumeName")
    annotations = meta.get("annotations") or {}
    for key in _PROVISIONING_ANNOTATIONS:
        annotations.pop(key, None)
    return Settled(
        claim,
        [
            f"spec.volumeName: {problem}; the claim gets a new, empty volume from storage class "
            f"{class_name} ({provisioner_name}): the volume's data was not copied"
        ],
    )


def provisioner(client: KubeClient, storage_class: str | None) -> tuple[str, str] | None:
    """(class, provisioner) that would make a volume for a claim of ``storage_class`` (None:
    the cluster's default class), or None when nothing would."""
    if storage_class == "":
        return None  # "" asks for a volume without a class: only a static one binds
    if storage_class is None:
        listed = client.get("/apis/storage.k8s.io/v1/storageclasses").get("items") or []
        defaults = [
            c
            for c in listed
            if any(
                (c["metadata"].get("annotations") or {}).get(k) == "true"
                for k in DEFAULT_CLASS_ANNOTATIONS
            )
        ]
        if not defaults:
            return None
        found = max(defaults, key=lambda c: c["metadata"].get("creationTimestamp") or "")
    else:
        found = client.get_or_none(f"/apis/storage.k8s.io/v1/storageclasses/{storage_class}")
        if found is None:
            return None
    name = found.get("provisioner") or ""
    if not name or name == NO_PROVISIONER:
        return None
    return found["metadata"]["name"], name


def _volume_problem(
    client: KubeClient,
    volume: str,
    *,
    namespace: str,
    name: str,
    restored: frozenset[str],
    dry_run: bool,
) -> str | None:
    """Why the claim could not bind to PersistentVolume ``volume``, or None when it can."""
    try:
        live = client.get(f"/api/v1/persistentvolumes/{volume}")
    except KubeApiError as exc:
        if not exc.not_found:
            raise
        if dry_run and volume in restored:
            return None  # the restore would make it, bound to this claim
        return f"PersistentVolume {volume} is not in the target cluster"
    claim_ref = (live.get("spec") or {}).get("claimRef") or {}
    if not claim_ref:
        return None  # Available: the claim binds it
    held_by = (claim_ref.get("namespace"), claim_ref.get("name"))
    if held_by != (namespace, name):
        return f"PersistentVolume {volume} is bound to claim {held_by[0]}/{held_by[1]}"
    if not dry_run and volume not in restored:
        # Released by this very claim before the disaster (the restore did not write the
        # volume, so it did not clear the stale uid then).
        volumes.rebind_released(client, {"metadata": {"name": volume}, "spec": live["spec"]})
    return None


def _exists(client: KubeClient, namespace: str, name: str) -> bool:
    path = f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/{name}"
    return client.get_or_none(path) is not None
