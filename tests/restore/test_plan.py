"""The restore planner is pure: order, filters, mapping and controller rules without a cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ark import archive
from ark.api import LabelSelector, RestoreSpec
from ark.restore import Candidate, plan_restore, source
from ark.restore.plan import Wave
from ark.restore.refs import CRDS, ItemKey, intrinsic_skip, references
from tests.archive.crafting import VELERO_BACKUP

NS = "shop"


def _c(
    resource_dir: str,
    name: str,
    *,
    ns: str = NS,
    kind: str = "",
    refs: tuple[ItemKey, ...] = (),
    controller: ItemKey | None = None,
    labels: dict[str, str] | None = None,
    skip: str | None = None,
) -> Candidate:
    return Candidate(
        key=(resource_dir, ns, name),
        kind=kind or resource_dir.title(),
        labels=tuple(sorted((labels or {}).items())),
        controller=controller,
        owners=(controller,) if controller else (),
        refs=refs,
        skip=skip,
    )


CRD_KEY = (CRDS, "", "widgets.shop.test")
DEPLOY = ("deployments.apps", NS, "web")
RS = ("replicasets.apps", NS, "web-1")
ITEMS = [
    _c(CRDS, "widgets.shop.test", ns="", kind="CustomResourceDefinition"),
    _c("namespaces", NS, ns="", kind="Namespace"),
    _c("storageclasses.storage.k8s.io", "fast", ns="", kind="StorageClass"),
    _c("storageclasses.storage.k8s.io", "unused", ns="", kind="StorageClass"),
    _c(
        "persistentvolumes",
        "pv-1",
        ns="",
        kind="PersistentVolume",
        refs=(("storageclasses.storage.k8s.io", "", "fast"),),
    ),
    _c(
        "persistentvolumeclaims",
        "data",
        kind="PersistentVolumeClaim",
        refs=(("persistentvolumes", "", "pv-1"),),
    ),
    _c("configmaps", "settings", kind="ConfigMap", labels={"app": "shop"}),
    _c("secrets", "db", kind="Secret", labels={"app": "shop", "tier": "db"}),
    _c("serviceaccounts", "app", kind="ServiceAccount"),
    _c(
        "deployments.apps",
        "web",
        kind="Deployment",
        labels={"app": "shop"},
        refs=(("configmaps", NS, "settings"), ("serviceaccounts", NS, "app")),
    ),
    _c("replicasets.apps", "web-1", kind="ReplicaSet", controller=DEPLOY),
    _c(
        "pods", "web-1-a", kind="Pod", controller=RS, refs=(("persistentvolumeclaims", NS, "data"),)
    ),
    _c("pods", "standalone", kind="Pod", refs=(("persistentvolumeclaims", NS, "data"),)),
    _c("widgets.shop.test", "blue", kind="Widget", refs=(CRD_KEY,)),
    _c(
        "configmaps",
        "owned-by-widget",
        kind="ConfigMap",
        controller=None,
        refs=(("widgets.shop.test", NS, "blue"),),
    ),
    _c("events", "e1", kind="Event"),
    _c("configmaps", "kube-root-ca.crt", kind="ConfigMap", skip="created by the cluster"),
    _c("configmaps", "other-ns", ns="other", kind="ConfigMap"),
]


def _wave_of(plan: object, key: ItemKey) -> int:
    for planned in plan.planned():  # type: ignore[attr-defined]
        if planned.key == key:
            return int(planned.wave)
    raise KeyError(key)


def test_waves_follow_priorities_and_references() -> None:
    plan = plan_restore(ITEMS, RestoreSpec(backup_name="b", included_namespaces=[NS]))
    w = lambda resource_dir, name, ns=NS: _wave_of(plan, (resource_dir, ns, name))
    assert w(CRDS, "widgets.shop.test", "") < w("namespaces", NS, "")
    assert w("namespaces", NS, "") < w("storageclasses.storage.k8s.io", "fast", "")
    assert w("storageclasses.storage.k8s.io", "fast", "") < w("persistentvolumes", "pv-1", "")
    assert w("persistentvolumes", "pv-1", "") < w("persistentvolumeclaims", "data")
    assert w("persistentvolumeclaims", "data") < w("pods", "standalone")
    assert w("configmaps", "settings") < w("deployments.apps", "web")
    # a ConfigMap that refers to a custom resource comes after it, whatever its priority
    assert w("widgets.shop.test", "blue") < w("configmaps", "owned-by-widget")


def test_objects_of_a_restored_controller_are_left_to_it() -> None:
    plan = plan_restore(ITEMS, RestoreSpec(backup_name="b", included_namespaces=[NS]))
    assert "Deployment web" in plan.skipped[RS]
    assert "left to its restored controller" in plan.skipped[("pods", NS, "web-1-a")]
    assert ("pods", NS, "standalone") not in plan.skipped


def test_never_restored_and_intrinsic_skips() -> None:
    plan = plan_restore(ITEMS, RestoreSpec(backup_name="b"))
    assert plan.skipped[("events", NS, "e1")] == "never restored"
    assert plan.skipped[("configmaps", NS, "kube-root-ca.crt")] == "created by the cluster"


def test_auto_cluster_resources_are_only_what_is_needed() -> None:
    plan = plan_restore(ITEMS, RestoreSpec(backup_name="b", included_namespaces=[NS]))
    restored = {p.key for p in plan.planned()}
    assert ("persistentvolumes", "", "pv-1") in restored
    assert ("storageclasses.storage.k8s.io", "", "fast") in restored  # via the PV
    assert CRD_KEY in restored  # via the Widget
    assert "not needed" in plan.skipped[("storageclasses.storage.k8s.io", "", "unused")]
    assert "not included" in plan.skipped[("configmaps", "other", "other-ns")]


def test_whole_backup_restore_takes_all_cluster_resources_and_false_takes_none() -> None:
    everything = plan_restore(ITEMS, RestoreSpec(backup_name="b"))
    assert ("storageclasses.storage.k8s.io", "", "unused") in {p.key for p in everything.planned()}
    none = plan_restore(ITEMS, RestoreSpec(backup_name="b", include_cluster_resources=False))
    assert not any(p.target_namespace is None and p.key[0] != "namespaces" for p in none.planned())


def test_namespace_mapping_targets() -> None:
    plan = plan_restore(
        ITEMS,
        RestoreSpec(backup_name="b", included_namespaces=[NS], namespace_mapping={NS: "shop-copy"}),
        namespace_mapping={NS: "shop-copy"},
    )
    assert plan.target_namespaces == ["shop-copy"]
    targets = {p.target_namespace for p in plan.planned() if p.key[1] == NS}
    assert targets == {"shop-copy"}


def test_label_selectors_and_resource_filters() -> None:
    spec = RestoreSpec(
        backup_name="b",
        included_namespaces=[NS],
        label_selector=LabelSelector(match_labels={"app": "shop"}),
    )
    plan = plan_restore(ITEMS, spec)
    restored = {p.key for p in plan.planned() if p.key[1] == NS}
    assert restored == {("configmaps", NS, "settings"), ("secrets", NS, "db"), DEPLOY}
    only = plan_restore(
        ITEMS,
        RestoreSpec(backup_name="b", included_namespaces=[NS]),
        included_resources={"secrets"},
    )
    assert {p.key for p in only.planned() if p.key[1] == NS} == {("secrets", NS, "db")}
    without = plan_restore(
        ITEMS,
        RestoreSpec(backup_name="b", included_namespaces=[NS]),
        excluded_resources={"secrets"},
    )
    assert without.skipped[("secrets", NS, "db")] == "in excludedResources"


def test_references_read_from_objects() -> None:
    pod = {
        "metadata": {"namespace": NS},
        "spec": {
            "serviceAccountName": "app",
            "volumes": [
                {"persistentVolumeClaim": {"claimName": "data"}},
                {"configMap": {"name": "cfg"}},
                {"secret": {"secretName": "tls"}},
            ],
            "imagePullSecrets": [{"name": "pull"}],
        },
    }
    refs = set(references("pods", pod, crd_of={}))
    assert refs == {
        ("serviceaccounts", NS, "app"),
        ("persistentvolumeclaims", NS, "data"),
        ("configmaps", NS, "cfg"),
        ("secrets", NS, "tls"),
        ("secrets", NS, "pull"),
    }
    deploy = {
        "metadata": {"namespace": NS},
        "spec": {"template": {"spec": {"volumes": [{"configMap": {"name": "cfg"}}]}}},
    }
    assert set(references("deployments.apps", deploy, crd_of={})) == {("configmaps", NS, "cfg")}
    binding = {"metadata": {"namespace": NS}, "roleRef": {"kind": "ClusterRole", "name": "view"}}
    assert set(references("rolebindings.rbac.authorization.k8s.io", binding, crd_of={})) == {
        ("clusterroles.rbac.authorization.k8s.io", "", "view")
    }
    assert set(references("widgets.x", {"metadata": {}}, crd_of={"widgets.x": "widgets.x"})) == {
        (CRDS, "", "widgets.x")
    }


def test_intrinsic_skips() -> None:
    assert intrinsic_skip(
        "secrets", {"type": "kubernetes.io/service-account-token", "metadata": {}}
    )
    assert intrinsic_skip("configmaps", {"metadata": {"name": "kube-root-ca.crt"}})
    assert intrinsic_skip(
        "endpoints",
        {"metadata": {"labels": {"endpoints.kubernetes.io/managed-by": "endpoint-controller"}}},
    )
    assert intrinsic_skip("secrets", {"type": "Opaque", "metadata": {}}) is None


def test_stages_wait_for_crds_and_make_namespaces_before_the_first_namespaced_wave() -> None:
    plan = plan_restore(ITEMS, RestoreSpec(backup_name="b"))
    stages = list(plan.stages())
    assert [s.wave for s in stages] == [w[0].wave for w in plan.waves]
    crds = [s for s in stages if s.crds]
    assert [[p.key for p in s.items] for s in crds] == [[CRD_KEY]]
    first_namespaced = [s for s in stages if s.namespaces is not None]
    assert len(first_namespaced) == 1
    [stage] = first_namespaced
    assert [p.key for p in stage.namespaces or []] == [("namespaces", "", NS)]
    assert all(p.key[0] != "namespaces" for p in stage.items)
    assert stages.index(stage) > stages.index(crds[0])
    assert sum(len(s.items) + len(s.namespaces or []) for s in stages) == plan.total
    assert plan.restored_volumes() == frozenset({"pv-1"})


def test_planning_reads_a_body_only_where_the_rules_need_more_than_the_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real Velero backup's items (pods, workloads, claims, volumes, secrets, bindings,
    service accounts, ConfigMaps, a custom resource) plan the same from the index as from their
    bodies, and ConfigMaps are not read."""
    tarball = VELERO_BACKUP / f"{VELERO_BACKUP.name}.tar.gz"
    with tarball.open("rb") as src, archive.spool(src, spool_dir=tmp_path) as index:
        opened = source.with_index(
            source.OpenBackup(name="b", document={}, index=index, verified=False), index
        )
        read: list[str] = []
        load = archive.ArchiveIndex.load

        def counted(self: archive.ArchiveIndex, item: archive.IndexedItem) -> dict[str, Any]:
            read.append(item.resource_dir)
            return load(self, item)

        monkeypatch.setattr(archive.ArchiveIndex, "load", counted)
        planned = list(source.candidates(opened))
        read_for_planning = set(read)
        monkeypatch.setattr(source, "reads_body", lambda _resource_dir: True)
        from_bodies = list(source.candidates(opened))
    assert planned == from_bodies
    dirs = {c.key[0] for c in planned}
    assert {"pods", "secrets", "configmaps", "persistentvolumeclaims"} <= dirs
    assert "pods" in read_for_planning
    assert "configmaps" not in read_for_planning
    assert "configmaps" in read  # the second pass read every body
    assert any(c.refs for c in planned)


def test_a_wave_gives_back_its_items_in_order_with_their_targets() -> None:
    keys = [
        ("configmaps", "a", "x"),
        ("configmaps", "a", "y"),
        ("configmaps", "b", "x"),
        ("persistentvolumes", "", "pv"),
        ("secrets", "a", "s"),
    ]
    wave = Wave(keys, 3, {"a": "a2"})
    assert list(wave.item_keys()) == keys
    assert [(p.key, p.target_namespace, p.wave) for p in wave] == [
        (("configmaps", "a", "x"), "a2", 3),
        (("configmaps", "a", "y"), "a2", 3),
        (("configmaps", "b", "x"), "b", 3),
        (("persistentvolumes", "", "pv"), None, 3),
        (("secrets", "a", "s"), "a2", 3),
    ]
    assert len(wave) == 5
    assert wave[2].key == ("configmaps", "b", "x")
    assert wave[-1].key == ("secrets", "a", "s")
    assert [p.key for p in wave[1:3]] == keys[1:3]
    with pytest.raises(IndexError):
        wave[5]
    namespaced = wave.only(lambda k: bool(k[1]))
    assert list(namespaced.item_keys()) == [k for k in keys if k[1]]
    assert namespaced.number == 3
    assert list(Wave([], 0, {})) == []
    assert list(wave.only(lambda _k: False).item_keys()) == []
