"""Backup item actions: plugins that name the objects an item depends on.

An action sees each backed-up item of the resources it applies to and returns references to
related objects; the engine adds those it has not already taken (respecting the namespace and
resource filters, and the cluster-resource scope). Third parties add actions through the
entry-point group ``ark.backup_item_actions`` (each entry point names a class or factory
returning a ``BackupItemAction``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Protocol, runtime_checkable

from ark.kube.discovery import ApiResource

ENTRY_POINT_GROUP = "ark.backup_item_actions"


@dataclass(frozen=True)
class ItemRef:
    """A reference to an object: ``qualified`` is ``plural.group`` (core: ``plural``)."""

    qualified: str
    namespace: str | None
    name: str


@dataclass(frozen=True)
class ActionContext:
    crd_resources: frozenset[str]
    """Qualified names of the resources served by CRDs."""


@runtime_checkable
class BackupItemAction(Protocol):
    name: str

    def applies_to(self, resource: ApiResource, *, context: ActionContext) -> bool: ...

    def related(
        self, item: Mapping[str, Any], *, resource: ApiResource, context: ActionContext
    ) -> Iterable[ItemRef]: ...


def _ns(item: Mapping[str, Any]) -> str | None:
    namespace: str | None = (item.get("metadata") or {}).get("namespace")
    return namespace


class PodVolumes:
    """A Pod needs the PersistentVolumeClaims it mounts."""

    name = "pod-volumes"

    def applies_to(self, resource: ApiResource, *, context: ActionContext) -> bool:
        return resource.qualified == "pods"

    def related(
        self, item: Mapping[str, Any], *, resource: ApiResource, context: ActionContext
    ) -> Iterable[ItemRef]:
        for volume in (item.get("spec") or {}).get("volumes") or ():
            claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            if claim:
                yield ItemRef("persistentvolumeclaims", _ns(item), claim)


class ClaimVolume:
    """A PersistentVolumeClaim needs its bound PersistentVolume and its StorageClass."""

    name = "pvc-volume"

    def applies_to(self, resource: ApiResource, *, context: ActionContext) -> bool:
        return resource.qualified == "persistentvolumeclaims"

    def related(
        self, item: Mapping[str, Any], *, resource: ApiResource, context: ActionContext
    ) -> Iterable[ItemRef]:
        spec = item.get("spec") or {}
        if spec.get("volumeName"):
            yield ItemRef("persistentvolumes", None, spec["volumeName"])
        if spec.get("storageClassName"):
            yield ItemRef("storageclasses.storage.k8s.io", None, spec["storageClassName"])


class VolumeStorageClass:
    """A PersistentVolume needs its StorageClass."""

    name = "pv-storage-class"

    def applies_to(self, resource: ApiResource, *, context: ActionContext) -> bool:
        return resource.qualified == "persistentvolumes"

    def related(
        self, item: Mapping[str, Any], *, resource: ApiResource, context: ActionContext
    ) -> Iterable[ItemRef]:
        sc = (item.get("spec") or {}).get("storageClassName")
        if sc:
            yield ItemRef("storageclasses.storage.k8s.io", None, sc)


class ServiceAccountSecrets:
    """A ServiceAccount needs its image-pull Secrets (and the Secrets it lists)."""

    name = "service-account-secrets"

    def applies_to(self, resource: ApiResource, *, context: ActionContext) -> bool:
        return resource.qualified == "serviceaccounts"

    def related(
        self, item: Mapping[str, Any], *, resource: ApiResource, context: ActionContext
    ) -> Iterable[ItemRef]:
        refs = [*(item.get("imagePullSecrets") or ()), *(item.get("secrets") or ())]
        for ref in refs:
            if ref.get("name"):
                yield ItemRef("secrets", _ns(item), ref["name"])


class BindingRole:
    """A RoleBinding or ClusterRoleBinding needs the ClusterRole it grants."""

    name = "binding-cluster-role"

    def applies_to(self, resource: ApiResource, *, context: ActionContext) -> bool:
        return resource.qualified in {
            "rolebindings.rbac.authorization.k8s.io",
            "clusterrolebindings.rbac.authorization.k8s.io",
        }

    def related(
        self, item: Mapping[str, Any], *, resource: ApiResource, context: ActionContext
    ) -> Iterable[ItemRef]:
        ref = item.get("roleRef") or {}
        if ref.get("kind") == "ClusterRole" and ref.get("name"):
            yield ItemRef("clusterroles.rbac.authorization.k8s.io", None, ref["name"])


class CustomResourceDefinition:
    """A custom resource needs its CustomResourceDefinition."""

    name = "custom-resource-definition"

    def applies_to(self, resource: ApiResource, *, context: ActionContext) -> bool:
        return resource.qualified in context.crd_resources

    def related(
        self, item: Mapping[str, Any], *, resource: ApiResource, context: ActionContext
    ) -> Iterable[ItemRef]:
        yield ItemRef("customresourcedefinitions.apiextensions.k8s.io", None, resource.qualified)


def load_actions() -> list[BackupItemAction]:
    """Every action registered under ``ark.backup_item_actions``, built-ins included."""
    actions: list[BackupItemAction] = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        factory = ep.load()
        action = factory()
        if not isinstance(action, BackupItemAction):
            raise TypeError(f"backup item action {ep.name!r} ({ep.value}) lacks the protocol")
        actions.append(action)
    return actions
