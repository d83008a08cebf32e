"""Comparing objects before a disaster and after a restore: what must come back equal."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from kubernetes import dynamic

if TYPE_CHECKING:  # the demo (hack/localenv/demo.py) imports this module without pytest
    from tests.conftest import Cluster

Obj = dict[str, Any]

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


# What the API server and controllers write on objects they did not make: never compared.
SERVER_METADATA = (
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "managedFields",
    "selfLink",
)
SERVER_ANNOTATIONS = (
    "pv.kubernetes.io/bind-completed",
    "pv.kubernetes.io/bound-by-controller",
    "volume.kubernetes.io/storage-provisioner",
    "volume.beta.kubernetes.io/storage-provisioner",
    "volume.kubernetes.io/selected-node",
    "deployment.kubernetes.io/revision",
)


def comparable(
    key: str, obj: dict[str, Any], *, namespace_map: dict[str, str] | None = None
) -> Obj:
    """The whole object minus what the server owns (status, server metadata, annotations the
    controllers write, owner uids, an assigned cluster IP), namespaces mapped as a clone maps
    them. Node ports, volume names and everything users write are compared."""
    body = copy.deepcopy({k: v for k, v in obj.items() if k != "status"})
    meta = body["metadata"]
    for field in SERVER_METADATA:
        meta.pop(field, None)
    mapping = namespace_map or {}
    if meta.get("namespace") in mapping:
        meta["namespace"] = mapping[meta["namespace"]]
    annotations = {
        k: v
        for k, v in (meta.pop("annotations", None) or {}).items()
        if k not in SERVER_ANNOTATIONS
    }
    if annotations:
        meta["annotations"] = annotations
    for ref in meta.get("ownerReferences") or ():
        ref.pop("uid", None)
    spec = body.get("spec") if isinstance(body.get("spec"), dict) else {}
    if key.startswith("services/") and spec.get("clusterIP") != "None":
        spec.pop("clusterIP", None)
        spec.pop("clusterIPs", None)
    for subject in body.get("subjects") or ():
        if subject.get("namespace") in mapping:
            subject["namespace"] = mapping[subject["namespace"]]
    return body


def differences(
    before: dict[str, Obj], after: dict[str, Obj], *, namespace_map: dict[str, str] | None = None
) -> dict[str, list[str]]:
    """key -> how the restored object differs from the backed-up one (one line per changed
    field), for every object a restore brings back itself; empty when the restore is exact."""
    out: dict[str, list[str]] = {}
    for key, obj in sorted(restorable(before).items()):
        if key not in after:
            out[key] = ["missing"]
            continue
        lines = _diff(
            comparable(key, obj, namespace_map=namespace_map), comparable(key, after[key])
        )
        if lines:
            out[key] = lines
    return out


def _diff(want: Any, got: Any, path: str = "") -> list[str]:
    if isinstance(want, dict) and isinstance(got, dict):
        lines = []
        for k in sorted(set(want) | set(got)):
            where = f"{path}.{k}" if path else k
            if k not in got:
                lines.append(f"{where}: missing")
            elif k not in want:
                lines.append(f"{where}: added {got[k]!r}")
            else:
                lines += _diff(want[k], got[k], where)
        return lines
    if isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        return [
            line
            for i, (w, g) in enumerate(zip(want, got, strict=True))
            for line in _diff(w, g, f"{path}[{i}]")
        ]
    return [] if want == got else [f"{path}: {want!r} -> {got!r}"]


def named_in(results: dict[str, Any]) -> set[str]:
    """``resource_dir/name`` of every item a restore's results file names (errors and
    warnings)."""
    items = results.get("items") or {}
    return {
        f"{i['resource']}/{i['name']}"
        for kind in ("errors", "warnings")
        for i in items.get(kind) or ()
        if i.get("resource") and i.get("name")
    }


def unexplained(found: dict[str, list[str]], named: set[str]) -> dict[str, list[str]]:
    """The differences the restore's results do not name: a restore is exact or explained."""
    return {key: lines for key, lines in found.items() if key not in named}
