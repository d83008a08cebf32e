"""A dry run plans and says, per object, what a restore would do (create, update with the diff
against the live object, skip) — and writes nothing."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest

from ark.api import RestorePhase
from ark.kube import KubeClient
from ark.storage import ObjectStore
from tests.support import restores
from tests.support.restores import config_map, merge_patch, outcome

SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web"},
    "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
}


def _changed_backup(kube: KubeClient, store: ObjectStore, namespace: str) -> str:
    """Back up three ConfigMaps and a Service, then change one ConfigMap and delete another."""
    for name in ("same", "changed", "gone"):
        restores.create(kube, config_map(name, {"k": "v"}), namespace=namespace)
    restores.create(kube, SERVICE, namespace=namespace)
    backup = restores.back_up(kube, store, namespace)
    merge_patch(kube, f"/api/v1/namespaces/{namespace}/configmaps/changed", {"data": {"k": "live"}})
    kube.request("DELETE", f"/api/v1/namespaces/{namespace}/configmaps/gone")
    return backup


@pytest.mark.parametrize(
    ("policy", "for_changed"),
    [("none", "would-skip-exists"), ("update", "would-update"), ("recreate", "would-recreate")],
)
def test_dry_run_says_what_would_happen_and_writes_nothing(
    kube: KubeClient, namespace: str, fs_store: ObjectStore, policy: str, for_changed: str
) -> None:
    backup = _changed_backup(kube, fs_store, namespace)
    before = restores.resource_versions(restores.namespace_objects(kube, namespace).items())
    namespace_before = kube.get(f"/api/v1/namespaces/{namespace}")["metadata"]["resourceVersion"]

    result = restores.run_restore(
        kube, fs_store, backup, dry_run=True, existing_resource_policy=policy
    )

    assert result.phase is RestorePhase.COMPLETED, (result.failure_reason, result.issues)
    changed = outcome(result, "configmaps", "changed")
    assert changed.outcome == for_changed
    assert changed.diff == ('data.k: "live" -> "v"',)
    assert outcome(result, "configmaps", "gone").outcome == "would-create"
    same = outcome(result, "configmaps", "same")
    assert (same.outcome, same.diff) == ("would-skip-exists", ())
    assert outcome(result, "services", "web").outcome == "would-skip-exists"
    assert outcome(result, "namespaces", namespace).outcome == "would-skip-exists"
    after = restores.resource_versions(restores.namespace_objects(kube, namespace).items())
    assert after == before
    assert "configmaps/gone" not in after
    namespace_after = kube.get(f"/api/v1/namespaces/{namespace}")["metadata"]["resourceVersion"]
    assert namespace_after == namespace_before


def test_dry_run_into_a_new_namespace_creates_nothing(
    kube: KubeClient,
    namespace: str,
    fs_store: ObjectStore,
    fresh_namespace: Callable[[str], str],
) -> None:
    backup = _changed_backup(kube, fs_store, namespace)
    target = fresh_namespace("clone")

    result = restores.run_restore(
        kube, fs_store, backup, dry_run=True, namespace_mapping={namespace: target}
    )

    assert result.phase is RestorePhase.COMPLETED, (result.failure_reason, result.issues)
    planned = {(o.resource, o.name): o.outcome for o in result.outcomes if o.outcome != "skipped"}
    assert planned == {
        ("namespaces", namespace): "would-create",
        ("configmaps", "same"): "would-create",
        ("configmaps", "changed"): "would-create",
        ("configmaps", "gone"): "would-create",
        ("services", "web"): "would-create",
        ("serviceaccounts", "default"): "would-create",
    }
    assert all(
        o.target_namespace == target
        for o in result.outcomes
        if o.resource != "namespaces" and o.outcome != "skipped"
    )
    assert restores.get(kube, f"/api/v1/namespaces/{target}") is None


def test_dry_run_reports_what_the_api_server_would_refuse(
    kube: KubeClient, namespace: str, fs_store: ObjectStore
) -> None:
    restores.create(kube, config_map("settings", {"k": "v"}), namespace=namespace)
    backup = restores.back_up(kube, fs_store, namespace)
    kube.request("DELETE", f"/api/v1/namespaces/{namespace}/configmaps/settings")
    restores.wait_for(  # counted by the quota from the start, so it must exist first
        "kube-root-ca.crt",
        lambda: (
            restores.get(kube, f"/api/v1/namespaces/{namespace}/configmaps/kube-root-ca.crt")
            is not None
        ),
    )
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "no-configmaps"},
        "spec": {"hard": {"count/configmaps": "1"}},  # kube-root-ca.crt takes it
    }
    restores.create(kube, quota, namespace=namespace)
    restores.wait_for(
        "quota usage counted",
        lambda: (
            kube.get(f"/api/v1/namespaces/{namespace}/resourcequotas/no-configmaps")
            .get("status", {})
            .get("used", {})
            .get("count/configmaps")
            == "1"
        ),
    )

    result = restores.run_restore(kube, fs_store, backup, dry_run=True)

    settings = outcome(result, "configmaps", "settings")
    assert settings.outcome == "failed"
    assert settings.message is not None
    assert "the API server would refuse it" in settings.message
    assert "exceeded quota" in settings.message
    assert result.phase is RestorePhase.PARTIALLY_FAILED
    assert restores.get(kube, f"/api/v1/namespaces/{namespace}/configmaps/settings") is None


def test_a_secrets_diff_names_the_keys_that_change_never_the_values(
    kube: KubeClient, namespace: str, fs_store: ObjectStore
) -> None:
    old, new = "backed-up-s3cr3t", "live-s3cr3t"
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "annotations": {"note": old}},
        "stringData": {"password": old, "user": "app"},
    }
    restores.create(kube, secret, namespace=namespace)
    backup = restores.back_up(kube, fs_store, namespace)
    path = f"/api/v1/namespaces/{namespace}/secrets/db"
    merge_patch(
        kube, path, {"stringData": {"password": new}, "metadata": {"annotations": {"note": new}}}
    )

    for policy in ("none", "update"):
        result = restores.run_restore(
            kube, fs_store, backup, dry_run=True, existing_resource_policy=policy
        )
        db = outcome(result, "secrets", "db")
        assert set(db.diff) == {"data.password: changed", "metadata.annotations.note: changed"}
        shown = repr(db)
        for value in (old, new):
            assert value not in shown
            assert base64.b64encode(value.encode()).decode() not in shown
