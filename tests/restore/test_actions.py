"""Restore item actions are pure rewrites of an object."""

from __future__ import annotations

from typing import Any

from ark.restore import RestoreContext, load_actions
from ark.restore.actions import apply_actions

ACTIONS = load_actions()


def _run(resource_dir: str, obj: dict[str, Any], **context: Any) -> dict[str, Any]:
    return apply_actions(ACTIONS, obj, resource_dir=resource_dir, context=RestoreContext(**context))


def test_built_ins_are_registered_as_entry_points() -> None:
    names = {a.name for a in ACTIONS}
    assert {
        "strip-server-fields",
        "namespace-mapping",
        "service-addresses",
        "pod-node",
        "job-selector",
        "volume-binding",
        "storage-class-mapping",
        "image-registry-mapping",
    } <= names


def test_server_fields_and_status_are_dropped() -> None:
    obj = _run(
        "configmaps",
        {
            "metadata": {
                "name": "c",
                "namespace": "a",
                "uid": "u",
                "resourceVersion": "1",
                "managedFields": [],
                "creationTimestamp": "t",
                "generation": 3,
                "labels": {"k": "v"},
            },
            "data": {"x": "y"},
            "status": {"s": 1},
        },
    )
    assert obj == {
        "metadata": {"name": "c", "namespace": "a", "labels": {"k": "v"}},
        "data": {"x": "y"},
    }


def test_services_get_new_ips_and_keep_node_ports_unless_told_not_to() -> None:
    svc = lambda: {
        "metadata": {"name": "s"},
        "spec": {
            "type": "NodePort",
            "clusterIP": "10.0.0.5",
            "clusterIPs": ["10.0.0.5"],
            "ports": [{"port": 80, "nodePort": 30080}],
        },
    }
    fresh = _run("services", svc(), preserve_node_ports=False)
    assert "clusterIP" not in fresh["spec"] and "nodePort" not in fresh["spec"]["ports"][0]
    for preserve in (None, True):  # unset: asked for, reassigned by the engine when taken
        kept = _run("services", svc(), preserve_node_ports=preserve)
        assert "clusterIP" not in kept["spec"]
        assert kept["spec"]["ports"][0]["nodePort"] == 30080
    headless = _run("services", {"metadata": {}, "spec": {"clusterIP": "None"}})
    assert headless["spec"]["clusterIP"] == "None"


def test_pods_lose_their_node() -> None:
    assert "nodeName" not in _run("pods", {"metadata": {}, "spec": {"nodeName": "n1"}})["spec"]


def test_namespace_mapping_rewrites_every_namespace_reference() -> None:
    mapping = {"namespace_mapping": {"shop": "shop-2"}}
    cm = _run("configmaps", {"metadata": {"name": "c", "namespace": "shop"}}, **mapping)
    assert cm["metadata"]["namespace"] == "shop-2"
    binding = _run(
        "rolebindings.rbac.authorization.k8s.io",
        {
            "metadata": {"name": "b", "namespace": "shop"},
            "subjects": [
                {"kind": "ServiceAccount", "name": "a", "namespace": "shop"},
                {"kind": "ServiceAccount", "name": "x", "namespace": "other"},
            ],
        },
        **mapping,
    )
    assert [s["namespace"] for s in binding["subjects"]] == ["shop-2", "other"]
    pv = _run(
        "persistentvolumes",
        {
            "metadata": {"name": "pv"},
            "spec": {
                "claimRef": {"namespace": "shop", "name": "d", "uid": "old", "resourceVersion": "9"}
            },
        },
        **mapping,
    )
    assert pv["spec"]["claimRef"] == {"namespace": "shop-2", "name": "d"}
    ns = _run(
        "namespaces",
        {"metadata": {"name": "shop"}, "spec": {"finalizers": ["kubernetes"]}},
        **mapping,
    )
    assert ns["metadata"]["name"] == "shop-2"


def test_claims_keep_their_volume_under_its_restored_name() -> None:
    claim = lambda: {
        "metadata": {"annotations": {"pv.kubernetes.io/bind-completed": "yes"}},
        "spec": {"volumeName": "pv-1", "storageClassName": "gp2"},
    }
    kept = _run("persistentvolumeclaims", claim())
    assert kept["spec"]["volumeName"] == "pv-1"
    assert kept["metadata"]["annotations"] == {}
    renamed = _run("persistentvolumeclaims", claim(), volume_renames={"pv-1": "pv-1-abc"})
    assert renamed["spec"]["volumeName"] == "pv-1-abc"
    mapped = _run("persistentvolumeclaims", claim(), storage_class_mapping={"gp2": "gp3"})
    assert mapped["spec"]["storageClassName"] == "gp3"


def test_image_registry_mapping_and_job_selector() -> None:
    deploy = _run(
        "deployments.apps",
        {
            "metadata": {},
            "spec": {
                "template": {
                    "spec": {
                        "containers": [{"image": "old.registry/app:1"}, {"image": "nginx"}],
                        "initContainers": [{"image": "old.registry/init:2"}],
                    }
                }
            },
        },
        image_registry_mapping={"old.registry": "new.registry"},
    )
    spec = deploy["spec"]["template"]["spec"]
    assert [c["image"] for c in spec["containers"]] == ["new.registry/app:1", "nginx"]
    assert spec["initContainers"][0]["image"] == "new.registry/init:2"
    job = _run(
        "jobs.batch",
        {
            "metadata": {},
            "spec": {
                "selector": {"matchLabels": {"controller-uid": "u"}},
                "template": {
                    "metadata": {
                        "labels": {
                            "controller-uid": "u",
                            "batch.kubernetes.io/controller-uid": "u",
                            "app": "x",
                        }
                    }
                },
            },
        },
    )
    assert "selector" not in job["spec"]
    assert job["spec"]["template"]["metadata"]["labels"] == {"app": "x"}
