"""Namespace mappings: a clone into a namespace that exists already is said in the results;
two namespaces mapped onto one are refused before anything runs (tests/api, tests/cli)."""

from __future__ import annotations

from collections.abc import Callable

from ark.api import RestorePhase
from ark.kube import KubeClient
from ark.storage import ObjectStore
from tests.support import restores


def test_a_mapping_onto_an_existing_namespace_is_said(
    kube: KubeClient, namespace: str, fs_store: ObjectStore, fresh_namespace: Callable[[str], str]
) -> None:
    restores.create(kube, restores.config_map("settings", {"k": "v"}), namespace=namespace)
    backup = restores.back_up(kube, fs_store, namespace)
    target = fresh_namespace("busy")
    kube.request("POST", "/api/v1/namespaces", body={"metadata": {"name": target}})
    restores.create(kube, restores.config_map("theirs", {"k": "t"}), namespace=target)

    result = restores.run_restore(kube, fs_store, backup, namespace_mapping={namespace: target})

    assert result.phase is RestorePhase.COMPLETED, result.issues
    [said] = [w for w in result.issues.warnings if w.name == target]
    assert "exists already" in said.message
    assert kube.get(f"/api/v1/namespaces/{target}/configmaps/theirs")["data"] == {"k": "t"}
    assert kube.get(f"/api/v1/namespaces/{target}/configmaps/settings")["data"] == {"k": "v"}
