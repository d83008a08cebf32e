"""Restore item actions: small per-kind rewrites applied to each object before it is created.

Plugins implement ``RestoreItemAction`` and are found through the entry-point group
``ark.restore_item_actions``; the built-ins below do what Velero users expect (server-set
fields dropped, Services get new cluster IPs, Pods lose their node, namespaces mapped, PV/PVC
bindings remapped, optional storage-class and image-registry mapping).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Protocol, runtime_checkable

from ark.restore.refs import pod_spec

ENTRY_POINT_GROUP = "ark.restore_item_actions"

SERVER_METADATA = (
    "uid",
    "resourceVersion",
    "managedFields",
    "creationTimestamp",
    "generation",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)
_PVC_BIND_ANNOTATIONS = (
    "pv.kubernetes.io/bind-completed",
    "pv.kubernetes.io/bound-by-controller",
)
_JOB_CONTROLLER_LABELS = ("controller-uid", "batch.kubernetes.io/controller-uid")


@dataclass(frozen=True)
class RestoreContext:
    namespace_mapping: Mapping[str, str] = field(default_factory=dict)
    preserve_node_ports: bool | None = None
    """None: keep nodePorts (the engine handles one that is taken); False: drop them."""
    storage_class_mapping: Mapping[str, str] = field(default_factory=dict)
    image_registry_mapping: Mapping[str, str] = field(default_factory=dict)
    restored_volumes: frozenset[str] = frozenset()
    """Names (in the target cluster) of the PersistentVolumes this restore writes."""
    volume_renames: Mapping[str, str] = field(default_factory=dict)
    """PersistentVolumes restored under a new name (a clone beside the original's volume)."""

    def map_namespace(self, namespace: str) -> str:
        return self.namespace_mapping.get(namespace, namespace)


@runtime_checkable
class RestoreItemAction(Protocol):
    name: str

    def applies_to(self, resource_dir: str) -> bool: ...

    def execute(self, obj: dict[str, Any], *, resource_dir: str, context: RestoreContext) -> None:
        """Rewrite ``obj`` in place."""
        ...


class StripServerFields:
    """Drop what the source server set: uid, resourceVersion, managedFields, timestamps,
    generation, and status (the target's controllers write their own)."""

    name = "strip-server-fields"

    def applies_to(self, resource_dir: str) -> bool:
        return True

    def execute(self, obj: dict[str, Any], *, resource_dir: str, context: RestoreContext) -> None:
        meta = obj.setdefault("metadata", {})
        for key in SERVER_METADATA:
            meta.pop(key, None)
        obj.pop("status", None)


NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


class MapNamespace:
    """namespaceMapping: the object's namespace and the namespace references inside it."""

    name = "namespace-mapping"

    def applies_to(self, resource_dir: str) -> bool:
        return True

    def execute(self, obj: dict[str, Any], *, resource_dir: str, context: RestoreContext) -> None:
        if not context.namespace_mapping:
            return
        meta = obj.setdefault("metadata", {})
        if meta.get("namespace"):
            meta["namespace"] = context.map_namespace(meta["namespace"])
        if resource_dir == "namespaces":
            meta["name"] = context.map_namespace(meta["name"])
            obj.get("spec", {}).pop("finalizers", None)
            labels = meta.get("labels") or {}
            if NAMESPACE_NAME_LABEL in labels:  # the API server sets it to the name
                labels[NAMESPACE_NAME_LABEL] = meta["name"]
        for subject in obj.get("subjects") or ():
            if subject.get("namespace"):
                subject["namespace"] = context.map_namespace(subject["namespace"])
        claim = (
            (obj.get("spec") or {}).get("claimRef") if resource_dir == "persistentvolumes" else None
        )
        if claim and claim.get("namespace"):
            claim["namespace"] = context.map_namespace(claim["namespace"])


class ServiceAddresses:
    """Services get new cluster IPs; nodePorts are dropped only with preserveNodePorts false
    (unset keeps them where they are free: see ``ark.restore.services``)."""

    name = "service-addresses"

    def applies_to(self, resource_dir: str) -> bool:
        return resource_dir == "services"

    def execute(self, obj: dict[str, Any], *, resource_dir: str, context: RestoreContext) -> None:
        spec = obj.get("spec") or {}
        if spec.get("clusterIP") != "None":
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
        if context.preserve_node_ports is False:
            spec.pop("healthCheckNodePort", None)
            for port in spec.get("ports") or ():
                port.pop("nodePort", None)


class PodNode:
    """A restored Pod is scheduled afresh: its nodeName is dropped."""

    name = "pod-node"

    def applies_to(self, resource_dir: str) -> bool:
        return resource_dir == "pods"

    def execute(self, obj: dict[str, Any], *, resource_dir: str, context: RestoreContext) -> None:
        (obj.get("spec") or {}).pop("nodeName", None)


class JobSelector:
    """A standalone Job's generated selector names the old Job's uid: let the server make a
    new one."""

    name = "job-selector"

    def applies_to(self, resource_dir: str) -> bool:
        return resource_dir == "jobs.batch"

    def execute(self, obj: dict[str, Any], *, resource_dir: str, context: RestoreContext) -> None:
        spec = obj.get("spec") or {}
        if spec.get("manualSelector"):
            return
        spec.pop("selector", None)
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        for key in _JOB_CONTROLLER_LABELS:
            labels.pop(key, None)


class VolumeBinding:
    """PV claimRef and PVC volumeName point at the restored objects, not the old ones (the
    engine then checks that a claim can bind the volume it names: ``ark.restore.claims``)."""

    name = "volume-binding"

    def applies_to(self, resource_dir: str) -> bool:
        return resource_dir in ("persistentvolumes", "persistentvolumeclaims")

    def execute(self, obj: dict[str, Any], *, resource_dir: str, context: RestoreContext) -> None:
        spec = obj.get("spec") or {}
        if resource_dir == "persistentvolumes":
            claim = spec.get("claimRef")
            if claim:
                for key in ("uid", "resourceVersion"):
                    claim.pop(key, None)
            return
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        for key in _PVC_BIND_ANNOTATIONS:
            annotations.pop(key, None)
        volume = spec.get("volumeName")
        if volume:
            spec["volumeName"] = context.volume_renames.get(volume, volume)


class StorageClassMapping:
    name = "storage-class-mapping"

    def applies_to(self, resource_dir: str) -> bool:
        return resource_dir in ("persistentvolumes", "persistentvolumeclaims")

    def execute(self, obj: dict[str, Any], *, resource_dir: str, context: RestoreContext) -> None:
        spec = obj.get("spec") or {}
        old = spec.get("storageClassName")
        if old and old in context.storage_class_mapping:
            spec["storageClassName"] = context.storage_class_mapping[old]


class ImageRegistryMapping:
    """Rewrite container images whose registry (the part before the first '/') is mapped."""

    name = "image-registry-mapping"

    def applies_to(self, resource_dir: str) -> bool:
        return True

    def execute(self, obj: dict[str, Any], *, resource_dir: str, context: RestoreContext) -> None:
        if not context.image_registry_mapping:
            return
        pspec = pod_spec(resource_dir, obj)
        if pspec is None:
            return
        for section in ("initContainers", "containers", "ephemeralContainers"):
            for container in pspec.get(section) or ():
                image = container.get("image") or ""
                registry, sep, rest = image.partition("/")
                if sep and registry in context.image_registry_mapping:
                    container["image"] = f"{context.image_registry_mapping[registry]}/{rest}"


BUILT_INS: tuple[type[RestoreItemAction], ...] = (
    StripServerFields,
    MapNamespace,
    ServiceAddresses,
    PodNode,
    JobSelector,
    VolumeBinding,
    StorageClassMapping,
    ImageRegistryMapping,
)


def load_actions() -> list[RestoreItemAction]:
    """Every action registered under ``ark.restore_item_actions`` (built-ins included), in
    entry-point name order."""
    actions: list[RestoreItemAction] = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        action = ep.load()()
        if not isinstance(action, RestoreItemAction):
            raise TypeError(f"restore item action {ep.name!r} ({ep.value}) lacks the protocol")
        actions.append(action)
    return actions


def apply_actions(
    actions: list[RestoreItemAction],
    obj: dict[str, Any],
    *,
    resource_dir: str,
    context: RestoreContext,
) -> dict[str, Any]:
    for action in actions:
        if action.applies_to(resource_dir):
            action.execute(obj, resource_dir=resource_dir, context=context)
    return obj
