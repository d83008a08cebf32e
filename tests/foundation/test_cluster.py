"""The local control plane is a real Kubernetes API server with real controllers."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from kubernetes import client

from tests.conftest import Cluster, NamespaceFactory


def _wait(predicate: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


def test_system_namespaces_exist(cluster: Cluster) -> None:
    names = {ns.metadata.name for ns in cluster.core.list_namespace().items}
    assert {"default", "kube-system", "kube-public"} <= names


def test_server_reports_kubernetes_version(cluster: Cluster) -> None:
    info = client.VersionApi(cluster.api).get_code()
    assert info.git_version.startswith("v1.34."), info.git_version


def test_configmap_round_trip(cluster: Cluster, namespace: str) -> None:
    body = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="settings"),
        data={"mode": "fast", "greeting": "grüß dich ✓"},
    )
    cluster.core.create_namespaced_config_map(namespace, body)
    read = cluster.core.read_namespaced_config_map("settings", namespace)
    assert read.data == {"mode": "fast", "greeting": "grüß dich ✓"}
    assert read.metadata.uid


def test_service_account_controller_creates_default_account(
    cluster: Cluster, namespace: str
) -> None:
    def has_default() -> bool:
        accounts = cluster.core.list_namespaced_service_account(namespace).items
        return any(sa.metadata.name == "default" for sa in accounts)

    _wait(has_default, timeout=30, what=f"ServiceAccount {namespace}/default")


def test_crd_becomes_established_and_serves_objects(cluster: Cluster, namespace: str) -> None:
    group = f"g{namespace.rsplit('-', maxsplit=1)[-1]}.smoke.ark.test"
    crd: dict[str, Any] = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {"size": {"type": "integer", "minimum": 1}},
                                }
                            },
                        }
                    },
                }
            ],
        },
    }
    cluster.apiext.create_custom_resource_definition(crd)  # type: ignore[arg-type]
    try:

        def established() -> bool:
            got = cluster.apiext.read_custom_resource_definition(f"widgets.{group}")
            return any(
                c.type == "Established" and c.status == "True" for c in got.status.conditions or []
            )

        _wait(established, timeout=30, what="CRD Established")
        obj: dict[str, Any] = {
            "apiVersion": f"{group}/v1",
            "kind": "Widget",
            "metadata": {"name": "w1"},
            "spec": {"size": 3},
        }
        _wait(lambda: _try_create(cluster, group, namespace, obj), timeout=30, what="CR accepted")
        read: Any = cluster.custom.get_namespaced_custom_object(
            group, "v1", namespace, "widgets", "w1"
        )
        assert read["spec"] == {"size": 3}
        bad = {**obj, "metadata": {"name": "w2"}, "spec": {"size": 0}}
        with pytest.raises(client.ApiException) as err:
            cluster.custom.create_namespaced_custom_object(group, "v1", namespace, "widgets", bad)
        assert err.value.status == 422
        assert "spec.size" in str(err.value.body)
    finally:
        cluster.apiext.delete_custom_resource_definition(f"widgets.{group}")


def _try_create(cluster: Cluster, group: str, namespace: str, obj: dict[str, Any]) -> bool:
    try:
        cluster.custom.create_namespaced_custom_object(group, "v1", namespace, "widgets", obj)
    except client.ApiException as exc:
        if exc.status == 404:  # discovery of the new group has not caught up yet
            return False
        raise
    return True


def test_deleted_namespace_disappears(cluster: Cluster, make_namespace: NamespaceFactory) -> None:
    name = make_namespace("doomed")
    cluster.core.create_namespaced_config_map(
        name, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="c"), data={"k": "v"})
    )
    cluster.core.create_namespaced_persistent_volume_claim(
        name,
        client.V1PersistentVolumeClaim(
            metadata=client.V1ObjectMeta(name="data"),
            spec=client.V1PersistentVolumeClaimSpec(
                access_modes=["ReadWriteOnce"],
                resources=client.V1VolumeResourceRequirements(requests={"storage": "1Gi"}),
            ),
        ),
    )
    cluster.core.delete_namespace(name)

    def gone() -> bool:
        try:
            cluster.core.read_namespace(name)
        except client.ApiException as exc:
            if exc.status == 404:
                return True
            raise
        return False

    # The namespace controller empties it (and the PVC-protection controller releases the PVC).
    _wait(gone, timeout=90, what=f"namespace {name} to be deleted")


def test_pagination_with_limit_and_continue(cluster: Cluster, namespace: str) -> None:
    total = 1200

    def create(i: int) -> None:
        cluster.core.create_namespaced_config_map(
            namespace,
            client.V1ConfigMap(
                metadata=client.V1ObjectMeta(name=f"cm-{i:05d}"), data={"i": str(i)}
            ),
        )

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(create, range(total)))

    names: list[str | None] = []
    pages = 0
    token: str | None = None
    while True:
        page = cluster.core.list_namespaced_config_map(namespace, limit=250, _continue=token)
        pages += 1
        names.extend(cm.metadata.name for cm in page.items)
        token = page.metadata._continue
        if not token:
            break
        assert page.metadata.remaining_item_count is not None
    expected = {f"cm-{i:05d}" for i in range(total)} | {"kube-root-ca.crt"}
    assert pages == 5  # 1,201 items in pages of 250
    assert len(names) == len(set(names)) == len(expected)
    assert set(names) == expected
