"""nodePorts across clusters: kept where free (an in-place restore gets its ports back), a
taken one reassigned by the API server and named (a clone beside its original, which is then
PartiallyFailed), all reassigned silently when the Restore says preserveNodePorts: false."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ark.api import RestorePhase
from ark.kube import KubeClient
from ark.storage import ObjectStore
from tests.support import restores
from tests.support.restores import outcome

PUBLIC = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "public"},
    "spec": {
        "type": "NodePort",
        "selector": {"app": "web"},
        "ports": [{"name": "http", "port": 80}, {"name": "admin", "port": 81}],
    },
}


def _ports(kube: KubeClient, namespace: str) -> dict[str, int]:
    svc: dict[str, Any] = kube.get(f"/api/v1/namespaces/{namespace}/services/public")
    return {p["name"]: int(p["nodePort"]) for p in svc["spec"]["ports"]}


def test_an_in_place_restore_gets_the_backed_up_node_ports_back(
    kube: KubeClient, namespace: str, fs_store: ObjectStore
) -> None:
    restores.create(kube, PUBLIC, namespace=namespace)
    before = _ports(kube, namespace)
    backup = restores.back_up(kube, fs_store, namespace)
    path = f"/api/v1/namespaces/{namespace}/services/public"
    restores.delete(kube, path)
    restores.wait_gone(kube, path)

    result = restores.run_restore(kube, fs_store, backup)

    assert result.phase is RestorePhase.COMPLETED, result.issues
    assert _ports(kube, namespace) == before


def test_a_clone_beside_its_original_gets_new_node_ports_and_names_them(
    kube: KubeClient,
    namespace: str,
    fs_store: ObjectStore,
    fresh_namespace: Callable[[str], str],
) -> None:
    restores.create(kube, PUBLIC, namespace=namespace)
    original = _ports(kube, namespace)
    backup = restores.back_up(kube, fs_store, namespace)
    clone = fresh_namespace("clone")

    result = restores.run_restore(kube, fs_store, backup, namespace_mapping={namespace: clone})

    assert result.phase is RestorePhase.PARTIALLY_FAILED
    assert outcome(result, "services", "public").outcome == "created", outcome(
        result, "services", "public"
    )
    cloned = _ports(kube, clone)
    assert set(cloned.values()).isdisjoint(original.values())
    messages = [e.message for e in result.issues.errors if e.name == "public"]
    for name, old in original.items():
        [said] = [m for m in messages if f"port {name} nodePort {old} is taken" in m]
        assert f"assigned {cloned[name]}" in said
    assert _ports(kube, namespace) == original  # the original is untouched

    again = fresh_namespace("clone2")
    quiet = restores.run_restore(
        kube,
        fs_store,
        backup,
        namespace_mapping={namespace: again},
        preserve_node_ports=False,
    )
    assert quiet.phase is RestorePhase.COMPLETED, quiet.issues
    assert set(_ports(kube, again).values()).isdisjoint(original.values())
