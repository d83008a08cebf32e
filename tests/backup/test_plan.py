"""The backup planner and filters are pure: tested on synthetic discovery, no cluster."""

from __future__ import annotations

import pytest

from ark.api import BackupSpec, LabelSelector
from ark.backup import ClusterScope, plan_backup
from ark.kube import ApiResource
from ark.selection import NamespaceFilter, selector_matches, selector_string

VERBS = frozenset({"list", "get", "create", "delete"})


def _res(
    plural: str, kind: str, *, group: str = "", namespaced: bool = True, short: tuple[str, ...] = ()
) -> ApiResource:
    return ApiResource(
        group=group,
        version="v1",
        plural=plural,
        kind=kind,
        namespaced=namespaced,
        verbs=VERBS,
        short_names=short,
        singular=kind.lower(),
    )


AVAILABLE = [
    _res("namespaces", "Namespace", namespaced=False, short=("ns",)),
    _res("configmaps", "ConfigMap", short=("cm",)),
    _res("secrets", "Secret"),
    _res("pods", "Pod", short=("po",)),
    _res("events", "Event", short=("ev",)),
    _res("events", "Event", group="events.k8s.io"),
    _res("nodes", "Node", namespaced=False),
    _res("persistentvolumes", "PersistentVolume", namespaced=False, short=("pv",)),
    _res("deployments", "Deployment", group="apps", short=("deploy",)),
    _res("leases", "Lease", group="coordination.k8s.io"),
    _res("backups", "Backup", group="ark.dev"),
    _res("clusterroles", "ClusterRole", group="rbac.authorization.k8s.io", namespaced=False),
    ApiResource(
        group="",
        version="v1",
        plural="bindings",
        kind="Binding",
        namespaced=True,
        verbs=frozenset({"create"}),
    ),
]
NAMESPACES = [f"team-{i}" for i in range(40)] + ["kube-system", "default", "shop", "shop-dev"]


def _quals(spec: BackupSpec, namespaces: list[str] = NAMESPACES) -> set[str]:
    return {t.resource.qualified for t in plan_backup(AVAILABLE, spec, namespaces=namespaces).tasks}


def test_never_backs_up_events_nodes_leases_own_transient_objects_or_unlistable() -> None:
    quals = _quals(BackupSpec())
    for never in (
        "events",
        "events.events.k8s.io",
        "nodes",
        "leases.coordination.k8s.io",
        "backups.ark.dev",
        "bindings",
    ):
        assert never not in quals
    assert {"configmaps", "deployments.apps", "persistentvolumes", "namespaces"} <= quals


def test_whole_cluster_lists_cluster_wide_and_takes_all_cluster_resources() -> None:
    p = plan_backup(AVAILABLE, BackupSpec(), namespaces=NAMESPACES)
    assert p.cluster_scope is ClusterScope.ALL
    assert all(t.namespace is None and not t.filter_namespaces for t in p.tasks)
    assert len(p.namespaces) == len(NAMESPACES)


def test_few_namespaces_are_listed_one_by_one() -> None:
    p = plan_backup(AVAILABLE, BackupSpec(included_namespaces=["shop*"]), namespaces=NAMESPACES)
    assert p.namespaces == ["shop", "shop-dev"]
    assert p.cluster_scope is ClusterScope.AUTO
    cm = [t for t in p.tasks if t.resource.plural == "configmaps"]
    assert sorted(t.namespace or "" for t in cm) == ["shop", "shop-dev"]
    assert not any(t.resource.qualified == "persistentvolumes" for t in p.tasks)  # auto: by refs


def test_many_namespaces_are_listed_cluster_wide_and_filtered() -> None:
    p = plan_backup(AVAILABLE, BackupSpec(excluded_namespaces=["kube-*"]), namespaces=NAMESPACES)
    cm = [t for t in p.tasks if t.resource.plural == "configmaps"]
    assert len(cm) == 1 and cm[0].namespace is None and cm[0].filter_namespaces
    assert "kube-system" not in p.namespaces and "team-3" in p.namespaces


def test_exclusion_wins_over_inclusion() -> None:
    f = NamespaceFilter(["team-*"], ["team-1?"])
    assert f.matches("team-1") and f.matches("team-2") and not f.matches("team-13")
    assert not f.matches("shop")


@pytest.mark.parametrize("spelling", ["cm", "configmaps", "configmap", "ConfigMap"])
def test_resources_by_any_kubectl_spelling(spelling: str) -> None:
    assert _quals(BackupSpec(included_resources=[spelling], include_cluster_resources=False)) == {
        "configmaps"
    }


def test_group_qualified_spelling_and_exclusions() -> None:
    quals = _quals(
        BackupSpec(
            included_resources=["deployments.apps", "pods", "secrets"], excluded_resources=["po"]
        )
    )
    assert quals == {"deployments.apps", "secrets"}


def test_unknown_resource_is_a_warning() -> None:
    p = plan_backup(AVAILABLE, BackupSpec(included_resources=["gizmos"]), namespaces=NAMESPACES)
    assert p.tasks == []
    assert any("gizmos" in w for w in p.warnings)


def test_namespace_pattern_matching_nothing_is_a_warning() -> None:
    p = plan_backup(AVAILABLE, BackupSpec(included_namespaces=["nope-*"]), namespaces=NAMESPACES)
    assert p.namespaces == []
    assert any("nope-*" in w for w in p.warnings)


def test_cluster_scope_true_false_auto() -> None:
    ns_spec = {"included_namespaces": ["shop"]}
    assert "persistentvolumes" in _quals(BackupSpec(**ns_spec, include_cluster_resources=True))
    p = plan_backup(
        AVAILABLE, BackupSpec(**ns_spec, include_cluster_resources=False), namespaces=NAMESPACES
    )
    assert p.cluster_scope is ClusterScope.NONE
    pv = next(r for r in AVAILABLE if r.plural == "persistentvolumes")
    assert not p.allows_related(pv, None)
    auto = plan_backup(AVAILABLE, BackupSpec(**ns_spec), namespaces=NAMESPACES)
    assert auto.allows_related(pv, None)
    cm = next(r for r in AVAILABLE if r.plural == "configmaps")
    assert auto.allows_related(cm, "shop") and not auto.allows_related(cm, "team-1")


def test_or_label_selectors_list_once_per_selector() -> None:
    spec = BackupSpec(
        included_namespaces=["shop"],
        or_label_selectors=[
            LabelSelector(match_labels={"tier": "web"}),
            LabelSelector(match_labels={"tier": "db"}),
        ],
    )
    p = plan_backup(AVAILABLE, spec, namespaces=NAMESPACES)
    selectors = {t.label_selector for t in p.tasks if t.resource.plural == "configmaps"}
    assert selectors == {"tier=web", "tier=db"}


def test_selector_string_and_matching() -> None:
    sel = LabelSelector.model_validate(
        {
            "matchLabels": {"app": "shop"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["web", "db"]},
                {"key": "legacy", "operator": "DoesNotExist"},
                {"key": "team", "operator": "Exists"},
                {"key": "env", "operator": "NotIn", "values": ["dev"]},
            ],
        }
    )
    assert selector_string(sel) == "app=shop,tier in (db,web),!legacy,team,env notin (dev)"
    assert selector_matches(sel, {"app": "shop", "tier": "web", "team": "a"})
    assert not selector_matches(sel, {"app": "shop", "tier": "web", "team": "a", "legacy": "1"})
    assert not selector_matches(sel, {"app": "shop", "tier": "web", "team": "a", "env": "dev"})
    assert not selector_matches(sel, {"app": "shop", "tier": "cache", "team": "a"})
