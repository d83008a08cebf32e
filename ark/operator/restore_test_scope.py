"""What a restore test restores, read from the backup it tests: the namespaces the backup
holds, each mapped to a scratch namespace that must not exist yet (``rt-<hash of the
backup>-<ns>``), and the claims and PersistentVolumes it held there, for
``restore_verdict``. Every call reads the cluster or the backup's store; ``CannotTest``
says why a backup cannot be tested."""

from __future__ import annotations

import hashlib
from typing import Any

from ark import control
from ark.api import limits
from ark.kube import KubeClient
from ark.operator import restore_verdict, stores
from ark.storage import StoreError

MAX_NAMESPACES = limits.NAMESPACE_MAPPINGS_MAX
"""A Restore maps at most this many namespaces."""


class CannotTest(Exception):
    """Why a backup cannot be tested (or its claims compared), as a sentence for status."""


def _digest(backup: str) -> str:
    return hashlib.sha256(backup.encode()).hexdigest()[:6]


def scratch_namespace(backup: str, source: str) -> str:
    """The namespace a test of ``backup`` restores ``source`` into (a DNS label)."""
    return f"rt-{_digest(backup)}-{source}"[:63].rstrip("-")


def restore_name(backup: str) -> str:
    return f"{backup[:48].rstrip('-')}-test-{_digest(backup)}"


def namespaces(resource_list: dict[str, list[str]]) -> list[str]:
    """The namespaces a resource list holds objects of (or holds as Namespace objects)."""
    found: set[str] = set()
    for kind, names in resource_list.items():
        for name in names:
            if kind == "v1/Namespace":
                found.add(name)
            elif "/" in name:
                found.add(name.split("/", 1)[0])
    return sorted(found)


def resource_list(
    client: KubeClient, namespace: str, backup: str
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The Backup and its resource list; CannotTest saying why not."""
    found = control.get(client, control.BACKUP, namespace, backup)
    if found is None:
        raise CannotTest(f"backup {backup} is gone")
    try:
        bsl = control.resolve_bsl(
            client, namespace, (found.get("spec") or {}).get("storageLocation")
        )
        return found, stores.open_store(client, namespace, bsl).resource_list(backup)
    except (control.LocationError, StoreError) as exc:
        raise CannotTest(f"cannot read the resource list of backup {backup}: {exc}") from None


def scratch_mapping(client: KubeClient, namespace: str, backup: str) -> dict[str, str]:
    """Each namespace of the backup to its scratch namespace; CannotTest saying why not."""
    sources = namespaces(resource_list(client, namespace, backup)[1])
    if not sources:
        raise CannotTest(f"backup {backup} holds no namespaced objects to restore")
    if len(sources) > MAX_NAMESPACES:
        raise CannotTest(
            f"backup {backup} holds {len(sources)} namespaces; a restore test maps at most "
            f"{MAX_NAMESPACES}"
        )
    mapping = {source: scratch_namespace(backup, source) for source in sources}
    taken = [t for t in mapping.values() if _exists(client, t)]
    if taken:
        raise CannotTest(
            f"scratch namespace(s) {', '.join(taken)} exist already: a restore test writes "
            "only into namespaces it creates"
        )
    return mapping


def _exists(client: KubeClient, name: str) -> bool:
    return client.get_or_none(f"/api/v1/namespaces/{name}") is not None


def held(
    client: KubeClient, namespace: str, backup: str, scratch: list[str]
) -> tuple[restore_verdict.Held, dict[str, str]]:
    """What the backup held (``restore_verdict.held``: each volume's claim from the backup's
    snapshot records, else the live PersistentVolume's ``claimRef``), and each of its
    namespaces tested into one of ``scratch`` to that scratch namespace; CannotTest saying
    why not."""
    found, listed = resource_list(client, namespace, backup)
    mapping = {s: scratch_namespace(backup, s) for s in namespaces(listed)}
    mapping = {s: t for s, t in mapping.items() if t in scratch}
    claim_of = restore_verdict.claim_of(
        client.get("/api/v1/persistentvolumes").get("items") or (),
        (found.get("status") or {}).get("volumeSnapshots") or (),
    )
    return restore_verdict.held(listed, claim_of), mapping
