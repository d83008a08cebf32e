"""Planning a backup (pure): which LISTs to run, given discovery, the spec and the namespaces."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from ark import selection
from ark.api.backup import ResourceFilter
from ark.kube.discovery import ApiResource

NAMESPACES = "namespaces"
CRDS = "customresourcedefinitions.apiextensions.k8s.io"
# List per namespace (instead of cluster-wide, filtered here) while few namespaces are wanted.
PER_NAMESPACE_MAX = 32


class ClusterScope(StrEnum):
    ALL = "all"
    NONE = "none"
    AUTO = "auto"  # only cluster-scoped objects the namespaced ones need


@dataclass(frozen=True)
class ListTask:
    """One paginated LIST: a resource, in one namespace or cluster-wide, with a selector."""

    resource: ApiResource
    namespace: str | None
    label_selector: str | None
    filter_namespaces: bool
    """A cluster-wide LIST of a namespaced resource, filtered to the wanted namespaces here."""

    @property
    def describe(self) -> str:
        where = f" in {self.namespace}" if self.namespace else ""
        sel = f" matching {self.label_selector!r}" if self.label_selector else ""
        return f"{self.resource.qualified}{where}{sel}"


@dataclass
class BackupPlan:
    tasks: list[ListTask]
    namespaces: list[str]
    namespace_filter: selection.NamespaceFilter
    cluster_scope: ClusterScope
    resources: list[ApiResource]
    crd_resources: frozenset[str] = frozenset()
    """Qualified names of resources served by CRDs (their CRD is a dependency)."""
    excluded: frozenset[str] = frozenset()
    """Qualified names the spec's excludedResources names."""
    warnings: list[str] = field(default_factory=list)
    _namespace_answers: dict[str, bool] = field(default_factory=dict, repr=False)

    @property
    def whole_cluster(self) -> bool:
        return self.namespace_filter.everything

    def wants_resource(self, qualified: str) -> bool:
        return any(r.qualified == qualified for r in self.resources)

    def wants_namespace(self, namespace: str) -> bool:
        known = self._namespace_answers.get(namespace)
        if known is None:
            known = self._namespace_answers[namespace] = self.namespace_filter.matches(namespace)
        return known

    def allows_related(self, resource: ApiResource, namespace: str | None) -> bool:
        """Whether an object some item depends on may be added to the backup.

        Namespaced: only in a wanted namespace and of a wanted resource. Cluster-scoped: unless
        cluster resources are off — in ``auto`` this is exactly how they get in.
        """
        if resource.qualified in selection.NEVER_BACKED_UP or resource.qualified in self.excluded:
            return False
        if resource.namespaced:
            return (
                namespace is not None
                and self.wants_namespace(namespace)
                and self.wants_resource(resource.qualified)
            )
        return self.cluster_scope is not ClusterScope.NONE


def plan_backup(
    available: Sequence[ApiResource],
    spec: ResourceFilter,
    *,
    namespaces: Sequence[str],
    crd_resources: frozenset[str] = frozenset(),
) -> BackupPlan:
    """What to LIST for ``spec`` on a cluster serving ``available`` with ``namespaces``."""
    listable = [
        r
        for r in available
        if {"list", "get"} <= r.verbs and r.qualified not in selection.NEVER_BACKED_UP
    ]
    resources, warnings = selection.select_resources(
        listable, included=spec.included_resources, excluded=spec.excluded_resources
    )
    ns_filter = selection.NamespaceFilter(spec.included_namespaces, spec.excluded_namespaces)
    wanted_ns = ns_filter.select(namespaces)
    warnings.extend(
        f"includedNamespaces entry {pattern!r} matches no namespace"
        for pattern in ns_filter.included
        if not any(fnmatch.fnmatchcase(ns, pattern) for ns in namespaces)
    )
    scope = _cluster_scope(spec, ns_filter)
    selectors = _selectors(spec)

    per_namespace = not ns_filter.everything and (
        len(wanted_ns) <= PER_NAMESPACE_MAX and len(wanted_ns) * 4 <= max(len(namespaces), 1)
    )
    tasks: list[ListTask] = []
    for res in resources:
        if res.qualified == NAMESPACES:
            # Namespace objects of the wanted namespaces, whatever the label selectors say:
            # a restore needs them.
            tasks.append(ListTask(res, None, None, filter_namespaces=False))
        elif not res.namespaced:
            if scope is ClusterScope.ALL:
                tasks.extend(ListTask(res, None, sel, filter_namespaces=False) for sel in selectors)
        elif per_namespace:
            tasks.extend(
                ListTask(res, ns, sel, filter_namespaces=False)
                for ns in wanted_ns
                for sel in selectors
            )
        elif wanted_ns:
            tasks.extend(
                ListTask(res, None, sel, filter_namespaces=not ns_filter.everything)
                for sel in selectors
            )
    return BackupPlan(
        tasks=tasks,
        namespaces=wanted_ns,
        namespace_filter=ns_filter,
        cluster_scope=scope,
        resources=resources,
        crd_resources=crd_resources,
        excluded=frozenset(
            r.qualified
            for r in available
            if any(r.matches(n) for n in spec.excluded_resources or ())
        ),
        warnings=warnings,
    )


def _cluster_scope(spec: ResourceFilter, ns_filter: selection.NamespaceFilter) -> ClusterScope:
    if spec.include_cluster_resources is True:
        return ClusterScope.ALL
    if spec.include_cluster_resources is False:
        return ClusterScope.NONE
    return ClusterScope.ALL if ns_filter.everything else ClusterScope.AUTO


def _selectors(spec: ResourceFilter) -> list[str | None]:
    """One LIST per selector: orLabelSelectors are ORed by listing each (results deduplicated)."""
    if spec.or_label_selectors:
        return [selection.selector_string(s) for s in spec.or_label_selectors]
    if spec.label_selector is not None:
        return [selection.selector_string(spec.label_selector)]
    return [None]
