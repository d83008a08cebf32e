"""Comparing objects before a disaster and after a restore: what must come back equal."""

from __future__ import annotations

import copy
from typing import Any

from kubernetes import dynamic

from tests.conftest import Cluster

NEVER = {"events", "events.events.k8s.io"}
# Objects the cluster makes for itself or controllers make from restored owners.
GENERATED_CONFIGMAPS = {"kube-root-ca.crt"}


def snapshot_namespace(cluster: Cluster, namespace: str) -> dict[str, dict[str, Any]]:
    """Every object in ``namespace`` through the official dynamic client, keyed
    resource_dir/name."""
    dyn = dynamic.DynamicClient(cluster.api)
    out: dict[str, dict[str, Any]] = {}
    for res in dyn.resources.search():
        if not res.namespaced or "list" not in (res.verbs or []) or "/" in res.name:
            continue
        if res.preferred is False:
            continue
        resource_dir = f"{res.name}.{res.group}" if res.group else res.name
        if resource_dir in NEVER:
            continue
        for item in dyn.get(res, namespace=namespace).to_dict()["items"]:
            out[f"{resource_dir}/{item['metadata']['name']}"] = item
    return out


def restorable(objects: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The objects a restore brings back itself: not those a controller owns, not the cluster's
    own ConfigMap, not excluded-by-label ones, not controller-managed endpoints."""
    out = {}
    for key, obj in objects.items():
        meta = obj["metadata"]
        labels = meta.get("labels") or {}
        if any(ref.get("controller") for ref in meta.get("ownerReferences") or ()):
            continue
        if key.startswith("configmaps/") and meta["name"] in GENERATED_CONFIGMAPS:
            continue
        if labels.get("velero.io/exclude-from-backup") == "true":
            continue
        if key.startswith("endpoints/") and labels.get("endpoints.kubernetes.io/managed-by"):
            continue
        out[key] = obj
    return out


def essence(
    key: str, obj: dict[str, Any], *, namespace_map: dict[str, str] | None = None
) -> dict[str, Any]:
    """What must be equal after a restore: labels, annotations, and the object's own content,
    minus what a new cluster legitimately assigns anew (cluster IPs, node ports, bindings)."""
    body = copy.deepcopy({k: v for k, v in obj.items() if k not in ("metadata", "status")})
    meta = obj["metadata"]
    body["labels"] = meta.get("labels") or {}
    body["annotations"] = {
        k: v
        for k, v in (meta.get("annotations") or {}).items()
        if not k.startswith(
            ("pv.kubernetes.io/", "volume.kubernetes.io/", "deployment.kubernetes.io/")
        )
    }
    if key.startswith("services/"):
        spec = body["spec"]
        if spec.get("clusterIP") != "None":
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
        for port in spec.get("ports") or ():
            port.pop("nodePort", None)
    if key.startswith("persistentvolumeclaims/"):
        body["spec"].pop("volumeName", None)
    if key.startswith("serviceaccounts/"):
        body.pop("secrets", None)
    for subject in body.get("subjects") or ():
        if namespace_map and subject.get("namespace") in namespace_map:
            subject["namespace"] = namespace_map[subject["namespace"]]
    return body
