"""What an object refers to, and whether it should be restored at all — read from its JSON.

Pure functions; the planner keeps only their small results, never the object bodies.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

ItemKey = tuple[str, str, str]
"""(resource dir, namespace or "", name) of an object, in the backup's namespaces."""

CRDS = "customresourcedefinitions.apiextensions.k8s.io"
_POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "pods": ("spec",),
    "deployments.apps": ("spec", "template", "spec"),
    "statefulsets.apps": ("spec", "template", "spec"),
    "daemonsets.apps": ("spec", "template", "spec"),
    "replicasets.apps": ("spec", "template", "spec"),
    "jobs.batch": ("spec", "template", "spec"),
    "cronjobs.batch": ("spec", "jobTemplate", "spec", "template", "spec"),
}


def pod_spec(resource_dir: str, obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """The pod spec inside a Pod or a workload's template, if it has one."""
    node: Any = obj
    for step in _POD_SPEC_PATHS.get(resource_dir, ()):
        node = node.get(step) if isinstance(node, Mapping) else None
    return node if isinstance(node, dict) and resource_dir in _POD_SPEC_PATHS else None


def _pod_refs(pspec: Mapping[str, Any], ns: str) -> Iterator[ItemKey]:
    if pspec.get("serviceAccountName"):
        yield ("serviceaccounts", ns, pspec["serviceAccountName"])
    for vol in pspec.get("volumes") or ():
        if (claim := (vol.get("persistentVolumeClaim") or {}).get("claimName")) is not None:
            yield ("persistentvolumeclaims", ns, claim)
        if (cm := (vol.get("configMap") or {}).get("name")) is not None:
            yield ("configmaps", ns, cm)
        if (secret := (vol.get("secret") or {}).get("secretName")) is not None:
            yield ("secrets", ns, secret)
    for ref in pspec.get("imagePullSecrets") or ():
        if ref.get("name"):
            yield ("secrets", ns, ref["name"])


_BINDINGS = frozenset(
    {"rolebindings.rbac.authorization.k8s.io", "clusterrolebindings.rbac.authorization.k8s.io"}
)


def _kind_refs(resource_dir: str, obj: Mapping[str, Any], ns: str) -> Iterator[ItemKey]:
    spec = obj.get("spec") or {}
    if resource_dir == "persistentvolumeclaims" and spec.get("volumeName"):
        yield ("persistentvolumes", "", spec["volumeName"])
    if resource_dir in ("persistentvolumeclaims", "persistentvolumes") and spec.get(
        "storageClassName"
    ):
        yield ("storageclasses.storage.k8s.io", "", spec["storageClassName"])
    if resource_dir in _BINDINGS:
        role = obj.get("roleRef") or {}
        if role.get("kind") == "ClusterRole":
            yield ("clusterroles.rbac.authorization.k8s.io", "", role.get("name", ""))
        elif role.get("kind") == "Role":
            yield ("roles.rbac.authorization.k8s.io", ns, role.get("name", ""))
    if resource_dir == "serviceaccounts":
        for ref in obj.get("imagePullSecrets") or ():
            if ref.get("name"):
                yield ("secrets", ns, ref["name"])


_READS_BODY = frozenset(
    {*_POD_SPEC_PATHS, *_BINDINGS, "persistentvolumeclaims", "persistentvolumes"}
    | {"serviceaccounts", "secrets"}
)


def reads_body(resource_dir: str) -> bool:
    """Whether :func:`references` or :func:`intrinsic_skip` read more of an object of this
    kind than its name, namespace and labels (a planner that knows those needs no body for
    the others: ConfigMaps, most custom resources)."""
    return resource_dir in _READS_BODY


def references(
    resource_dir: str, obj: Mapping[str, Any], *, crd_of: Mapping[str, str]
) -> Iterator[ItemKey]:
    """Objects this one needs to exist first: claims, mounts, its service account, bound
    volumes and roles, its CRD. ``crd_of`` maps a custom resource dir to its CRD's name."""
    ns = (obj.get("metadata") or {}).get("namespace") or ""
    pspec = pod_spec(resource_dir, obj)
    if pspec is not None:
        yield from _pod_refs(pspec, ns)
    yield from _kind_refs(resource_dir, obj, ns)
    if resource_dir in crd_of:
        yield (CRDS, "", crd_of[resource_dir])


def intrinsic_skip(resource_dir: str, obj: Mapping[str, Any]) -> str | None:
    """Why this object must not be restored whatever the spec says, or None."""
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    if resource_dir == "configmaps" and meta.get("name") == "kube-root-ca.crt":
        return "created by the cluster in every namespace"
    if resource_dir == "secrets" and obj.get("type") == "kubernetes.io/service-account-token":
        return "service-account token: the target cluster issues its own"
    if resource_dir == "endpoints" and labels.get("endpoints.kubernetes.io/managed-by"):
        return "managed by the endpoints controller of its Service"
    if resource_dir == "endpointslices.discovery.k8s.io" and labels.get(
        "endpointslice.kubernetes.io/managed-by"
    ):
        return "managed by the EndpointSlice controller of its Service"
    return None
