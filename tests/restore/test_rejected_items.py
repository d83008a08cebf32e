"""An item the API server rejects fails alone, with the server's reason; everything else is
restored and the restore ends PartiallyFailed."""

from __future__ import annotations

from collections.abc import Callable

from ark.api import RestorePhase
from ark.kube import KubeClient
from ark.storage import ObjectStore
from tests.conftest import NamespaceFactory
from tests.support import restores
from tests.support.restores import config_map, outcome


def test_a_node_port_taken_by_another_service_fails_only_that_service(
    kube: KubeClient,
    namespace: str,
    fs_store: ObjectStore,
    fresh_namespace: Callable[[str], str],
) -> None:
    public = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "public"},
        "spec": {"type": "NodePort", "selector": {"app": "web"}, "ports": [{"port": 80}]},
    }
    web = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
    }
    node_port = restores.create(kube, public, namespace=namespace)["spec"]["ports"][0]["nodePort"]
    restores.create(kube, web, namespace=namespace)
    restores.create(kube, config_map("settings", {"k": "v"}), namespace=namespace)
    backup = restores.back_up(kube, fs_store, namespace)
    clone = fresh_namespace("clone")

    # the original Service still holds the port: the clone cannot have it
    result = restores.run_restore(
        kube, fs_store, backup, namespace_mapping={namespace: clone}, preserve_node_ports=True
    )

    assert result.phase is RestorePhase.PARTIALLY_FAILED
    failed = outcome(result, "services", "public")
    assert failed.outcome == "failed"
    assert failed.message is not None
    assert f"{node_port}" in failed.message and "already allocated" in failed.message
    (error,) = result.issues.errors
    assert (error.resource, error.namespace, error.name) == ("services", clone, "public")
    assert failed.message in error.message
    assert restores.get(kube, f"/api/v1/namespaces/{clone}/services/public") is None
    assert outcome(result, "services", "web").outcome == "created"
    assert outcome(result, "configmaps", "settings").outcome == "created"
    assert kube.get(f"/api/v1/namespaces/{clone}/configmaps/settings")["data"] == {"k": "v"}
    assert kube.get(f"/api/v1/namespaces/{clone}/services/web")["spec"]["ports"][0]["port"] == 80


def test_items_over_a_resource_quota_fail_and_the_rest_are_restored(
    kube: KubeClient, namespace: str, fs_store: ObjectStore, make_namespace: NamespaceFactory
) -> None:
    for name in ("a", "b", "c"):
        restores.create(kube, config_map(name, {"k": name}), namespace=namespace)
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"}}
    restores.create(kube, {**secret, "stringData": {"password": "pässwörd"}}, namespace=namespace)
    backup = restores.back_up(kube, fs_store, namespace)
    target = make_namespace("quota")
    restores.wait_for(  # counted by the quota from the start, so it must exist first
        "kube-root-ca.crt",
        lambda: (
            restores.get(kube, f"/api/v1/namespaces/{target}/configmaps/kube-root-ca.crt")
            is not None
        ),
    )
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "two-configmaps"},
        "spec": {"hard": {"count/configmaps": "2"}},  # kube-root-ca.crt and one more
    }
    restores.create(kube, quota, namespace=target)
    quota_path = f"/api/v1/namespaces/{target}/resourcequotas/two-configmaps"
    restores.wait_for(
        "quota usage counted",
        lambda: (
            kube.get(quota_path).get("status", {}).get("used", {}).get("count/configmaps") == "1"
        ),
    )

    result = restores.run_restore(kube, fs_store, backup, namespace_mapping={namespace: target})

    assert result.phase is RestorePhase.PARTIALLY_FAILED
    cms = {name: outcome(result, "configmaps", name) for name in ("a", "b", "c")}
    created = sorted(n for n, o in cms.items() if o.outcome == "created")
    failed = sorted(n for n, o in cms.items() if o.outcome == "failed")
    assert len(created) == 1 and len(failed) == 2, cms
    for name in failed:
        assert "exceeded quota: two-configmaps" in (cms[name].message or "")
        assert restores.get(kube, f"/api/v1/namespaces/{target}/configmaps/{name}") is None
    assert {(e.resource, e.name) for e in result.issues.errors} == {
        ("configmaps", name) for name in failed
    }
    live = kube.get(f"/api/v1/namespaces/{target}/configmaps/{created[0]}")
    assert live["data"] == {"k": created[0]}
    assert outcome(result, "secrets", "creds").outcome == "created"
    assert kube.get(f"/api/v1/namespaces/{target}/secrets/creds")["data"]["password"]
