"""PersistentVolume bindings across a disaster.

A PersistentVolume with reclaim policy Retain outlives its namespace: it is Released, its
claimRef still naming the deleted claim's uid, so the restored claim could never bind. When the
restore meets such a volume, and the volume's claim is the one being restored, the stale uid is
cleared and the volume binds to the restored claim.
"""

from __future__ import annotations

from typing import Any

from ark.kube import KubeApiError, KubeClient


def rebind_released(client: KubeClient, desired: dict[str, Any]) -> str | None:
    """Clear a Released volume's stale claim uid when ``desired`` (the PV as restored) claims
    the same namespace/name. Returns a note for the results, or None when nothing was done."""
    name = desired["metadata"]["name"]
    claim = (desired.get("spec") or {}).get("claimRef") or {}
    try:
        live = client.get(f"/api/v1/persistentvolumes/{name}")
    except KubeApiError:
        return None
    live_claim = (live.get("spec") or {}).get("claimRef") or {}
    if (live.get("status") or {}).get("phase") != "Released" or not claim:
        return None
    if (live_claim.get("namespace"), live_claim.get("name")) != (
        claim.get("namespace"),
        claim.get("name"),
    ):
        return None
    client.request(
        "PATCH",
        f"/api/v1/persistentvolumes/{name}",
        body={"spec": {"claimRef": {"uid": None, "resourceVersion": None}}},
        content_type="application/merge-patch+json",
    )
    return f"Released volume kept; its claim {claim['namespace']}/{claim['name']} can bind again"
