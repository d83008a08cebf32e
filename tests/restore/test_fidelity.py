"""A restore checks that the API server stored what it sent: a field the server dropped or
changed is named in the results and the restore is PartiallyFailed, never Completed; what the
server adds (defaults, its metadata, injected elements) is not a difference.

On the real API server: a CRD whose schema no longer keeps a field prunes it from the restored
custom resources; a Secret's changed value is named without its value."""

from __future__ import annotations

from typing import Any

from ark.api import RestorePhase
from ark.kube import KubeClient
from ark.restore.fidelity import LIMIT, stored_differences
from ark.storage import ObjectStore
from tests.support import restores
from tests.support.restores import CRDS_PATH, outcome


def _pod(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}


def test_what_the_server_adds_is_no_difference() -> None:
    sent = _pod(
        containers=[
            {"name": "app", "image": "nginx", "volumeMounts": [{"name": "d", "mountPath": "/d"}]}
        ],
        volumes=[{"name": "d", "emptyDir": {}}],
    )
    sent["metadata"]["labels"] = {}
    sent["status"] = {"phase": "Running"}
    stored = _pod(
        containers=[
            {
                "name": "app",
                "image": "nginx",
                "terminationMessagePath": "/dev/termination-log",
                "volumeMounts": [
                    {"name": "kube-api-access-x1", "mountPath": "/var/run/secrets"},
                    {"name": "d", "mountPath": "/d"},
                ],
            },
            {"name": "sidecar", "image": "envoy"},
        ],
        volumes=[{"name": "kube-api-access-x1", "projected": {}}, {"name": "d", "emptyDir": {}}],
        restartPolicy="Always",
    )
    stored["metadata"].update(
        uid="u", resourceVersion="1", creationTimestamp="2026-12-04T00:00:00Z"
    )
    stored["status"] = {"phase": "Pending"}
    assert stored_differences(sent, stored) == []


def test_quantities_compare_by_value_and_omitted_zero_values_are_no_loss() -> None:
    sent = {"spec": {"cpu": "0.5", "memory": "1Gi", "paused": False, "note": "", "n": 0}}
    stored = {"spec": {"cpu": "500m", "memory": "1073741824"}}
    assert stored_differences(sent, stored) == []


def test_what_the_server_drops_or_changes_is_named() -> None:
    sent = {"spec": {"keep": 1, "extra": {"a": 1}, "ports": [80, 443], "mode": "blue"}}
    stored = {"spec": {"keep": 1, "ports": [80], "mode": "green"}}
    assert stored_differences(sent, stored) == [
        "spec.extra: dropped by the API server",
        "spec.ports: 2 elements sent, 1 stored",
        "spec.mode: 'blue' sent, 'green' stored",
    ]
    named = {"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}}
    assert stored_differences(named, {"spec": {"containers": [{"name": "a", "image": "z"}]}}) == [
        "spec.containers[a].image: 'x' sent, 'z' stored",
        "spec.containers[b]: dropped by the API server",
    ]


def test_a_secret_difference_names_the_field_never_the_value() -> None:
    found = stored_differences(
        {"data": {"password": "c2VjcmV0"}}, {"data": {"password": "b3RoZXI="}}, secret=True
    )
    assert found == ["data.password: changed by the API server"]
    assert "c2VjcmV0" not in str(found)


def test_many_differences_are_counted_past_the_limit() -> None:
    sent = {"spec": {f"f{i:02d}": i + 1 for i in range(LIMIT + 5)}}
    found = stored_differences(sent, {"spec": {}})
    assert len(found) == LIMIT + 1 and found[-1] == "and 5 more"


def test_a_field_the_target_schema_prunes_makes_the_restore_partially_failed(
    kube: KubeClient, namespace: str, fs_store: ObjectStore, group: str
) -> None:
    crd = restores.install_crd(kube, restores.gadget_crd(group))
    restores.create(
        kube,
        restores.gadget(group, "g1", {"size": 1, "legacy": {"owner": "x"}}),
        namespace=namespace,
    )
    restores.create(kube, restores.gadget(group, "g2", {"size": 2}), namespace=namespace)
    backup = restores.back_up(kube, fs_store, namespace)
    # The cluster's CRD moves on: its schema keeps size only (legacy is pruned from now on).
    crd_path = f"{CRDS_PATH}/{crd['metadata']['name']}"
    live = kube.get(crd_path)
    live["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"] = {
        "type": "object",
        "properties": {"size": {"type": "integer"}},
    }
    kube.request("PUT", crd_path, body=live)
    target = f"{namespace}-to"

    result = restores.run_restore(kube, fs_store, backup, namespace_mapping={namespace: target})

    assert result.phase is RestorePhase.PARTIALLY_FAILED, result.failure_reason
    pruned = outcome(result, f"gadgets.{group}", "g1")
    errors = [e.message for e in result.issues.errors if e.name == "g1"]
    assert any("spec.legacy: dropped by the API server" in e for e in errors), errors
    assert pruned.outcome == "created"
    assert outcome(result, f"gadgets.{group}", "g2").outcome == "created"
    assert not [e for e in result.issues.errors if e.name == "g2"]
    assert kube.get(f"/apis/{group}/v1/namespaces/{target}/gadgets/g1")["spec"] == {"size": 1}
    restores.delete(kube, f"/api/v1/namespaces/{target}")
