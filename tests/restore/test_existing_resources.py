"""existingResourcePolicy decides what happens to live objects the backup also holds: kept
(none), patched to the backup's data (update), or deleted and created again (recreate) —
except kinds whose deletion would destroy data or everything they hold."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ark.api import RestorePhase
from ark.kube import KubeApiError, KubeClient
from ark.storage import ObjectStore
from tests.support import restores
from tests.support.restores import config_map, merge_patch, outcome


def _cm_path(namespace: str, name: str) -> str:
    return f"/api/v1/namespaces/{namespace}/configmaps/{name}"


def _warnings_about(result: Any, resource: str, name: str) -> list[str]:
    return [w.message for w in result.issues.warnings if w.resource == resource and w.name == name]


def test_none_keeps_live_objects_and_says_which_differ(
    kube: KubeClient, namespace: str, fs_store: ObjectStore
) -> None:
    restores.create(kube, config_map("same", {"k": "v"}), namespace=namespace)
    restores.create(kube, config_map("changed", {"k": "v"}), namespace=namespace)
    backup = restores.back_up(kube, fs_store, namespace)
    merge_patch(kube, _cm_path(namespace, "changed"), {"data": {"k": "live"}})

    result = restores.run_restore(kube, fs_store, backup, existing_resource_policy="none")

    assert result.phase is RestorePhase.COMPLETED, result.issues
    changed = outcome(result, "configmaps", "changed")
    assert changed.outcome == "skipped-exists"
    assert changed.message is not None and "differs" in changed.message
    assert changed.diff == ('data.k: "live" -> "v"',)
    same = outcome(result, "configmaps", "same")
    assert same.outcome == "skipped-exists"
    assert same.message is not None and "differs" not in same.message
    assert same.diff == ()
    assert kube.get(_cm_path(namespace, "changed"))["data"] == {"k": "live"}


def test_update_makes_live_objects_equal_to_the_backup(
    kube: KubeClient, namespace: str, fs_store: ObjectStore
) -> None:
    restores.create(
        kube, config_map("settings", {"k": "v"}, labels={"tier": "web"}), namespace=namespace
    )
    backup = restores.back_up(kube, fs_store, namespace)
    before = merge_patch(
        kube,
        _cm_path(namespace, "settings"),
        {"data": {"k": "live", "added": "x"}, "metadata": {"labels": {"tier": "db", "new": "y"}}},
    )
    expected = {
        'data.k: "live" -> "v"',
        'data.added: "x" -> <unset>',
        'metadata.labels.tier: "db" -> "web"',
        'metadata.labels.new: "y" -> <unset>',
    }

    planned = restores.run_restore(
        kube, fs_store, backup, existing_resource_policy="update", dry_run=True
    )
    assert set(outcome(planned, "configmaps", "settings").diff) == expected
    result = restores.run_restore(kube, fs_store, backup, existing_resource_policy="update")

    assert result.phase is RestorePhase.COMPLETED, result.issues
    settings = outcome(result, "configmaps", "settings")
    assert settings.outcome == "updated"
    assert set(settings.diff) == expected
    live = kube.get(_cm_path(namespace, "settings"))
    assert live["data"] == {"k": "v"}  # the key added since the backup is gone
    assert live["metadata"]["labels"] == {"tier": "web"}
    assert live["metadata"]["uid"] == before["metadata"]["uid"]


def test_update_keeps_what_the_cluster_assigned(
    kube: KubeClient, namespace: str, fs_store: ObjectStore
) -> None:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "labels": {"v": "1"}},
        "spec": {"type": "NodePort", "selector": {"app": "web"}, "ports": [{"port": 80}]},
    }
    path = f"/api/v1/namespaces/{namespace}/services/web"
    restores.create(kube, service, namespace=namespace)
    backup = restores.back_up(kube, fs_store, namespace)
    live = merge_patch(kube, path, {"metadata": {"labels": {"v": "2"}}})

    result = restores.run_restore(
        kube, fs_store, backup, existing_resource_policy="update", preserve_node_ports=False
    )

    assert result.phase is RestorePhase.COMPLETED, result.issues
    assert set(outcome(result, "services", "web").diff) == {'metadata.labels.v: "2" -> "1"'}
    after = kube.get(path)
    assert after["metadata"]["labels"] == {"v": "1"}
    assert after["spec"]["clusterIP"] == live["spec"]["clusterIP"]
    assert after["spec"]["ports"][0]["nodePort"] == live["spec"]["ports"][0]["nodePort"]


def _deployment(name: str, app: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": app}},
            "template": {
                "metadata": {"labels": {"app": app}},
                "spec": {"containers": [{"name": "c", "image": "example.com/app:1"}]},
            },
        },
    }


def _job(name: str, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "suspend": True,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "c", "image": image}],
                }
            },
        },
    }


@pytest.mark.parametrize(
    ("old", "new", "resource", "immutable"),
    [
        (
            _deployment("web", "old"),
            _deployment("web", "new"),
            "deployments.apps",
            "spec.selector",
        ),
        (
            _job("report", "example.com/report:1"),
            _job("report", "example.com/report:2"),
            "jobs.batch",
            "spec.template",
        ),
    ],
    ids=["deployment-selector", "job-template"],
)
def test_update_names_an_immutable_field_as_a_difference(
    kube: KubeClient,
    namespace: str,
    fs_store: ObjectStore,
    old: dict[str, Any],
    new: dict[str, Any],
    resource: str,
    immutable: str,
) -> None:
    path = restores.path_of(kube, old, namespace=namespace)
    restores.create(kube, old, namespace=namespace)
    backup = restores.back_up(kube, fs_store, namespace)
    kube.request("DELETE", path, body={"propagationPolicy": "Foreground"})
    restores.wait_gone(kube, path)
    live = restores.create(kube, new, namespace=namespace)

    result = restores.run_restore(kube, fs_store, backup, existing_resource_policy="update")

    assert result.phase is RestorePhase.PARTIALLY_FAILED, result.issues
    name = old["metadata"]["name"]
    item = outcome(result, resource, name)
    assert item.outcome == "skipped-exists"
    assert item.diff
    errors = [e.message for e in result.issues.errors if (e.resource, e.name) == (resource, name)]
    assert len(errors) == 1, result.issues.errors
    assert f"cannot update immutable field(s) {immutable}" in errors[0]
    after = kube.get(path)
    assert after["metadata"]["uid"] == live["metadata"]["uid"]
    assert after["spec"]["template"] == live["spec"]["template"]


def test_recreate_deletes_and_creates_with_a_new_uid(
    kube: KubeClient, namespace: str, fs_store: ObjectStore
) -> None:
    restores.create(kube, config_map("settings", {"k": "v"}), namespace=namespace)
    restores.create(kube, config_map("same", {"k": "v"}), namespace=namespace)
    backup = restores.back_up(kube, fs_store, namespace)
    before = merge_patch(
        kube, _cm_path(namespace, "settings"), {"data": {"k": "live", "extra": "x"}}
    )
    same = kube.get(_cm_path(namespace, "same"))

    result = restores.run_restore(kube, fs_store, backup, existing_resource_policy="recreate")

    assert result.phase is RestorePhase.COMPLETED, result.issues
    assert outcome(result, "configmaps", "settings").outcome == "recreated"
    live = kube.get(_cm_path(namespace, "settings"))
    assert live["metadata"]["uid"] != before["metadata"]["uid"]
    assert live["data"] == {"k": "v"}  # not merged: the live "extra" key is gone too
    # an identical object is left alone (as a dry run says it would be)
    assert outcome(result, "configmaps", "same").outcome == "skipped-exists"
    assert kube.get(_cm_path(namespace, "same"))["metadata"]["uid"] == same["metadata"]["uid"]


def test_recreate_of_an_object_the_cluster_recreates_at_once_updates_it(
    kube: KubeClient, namespace: str, fs_store: ObjectStore
) -> None:
    sa_path = f"/api/v1/namespaces/{namespace}/serviceaccounts/default"
    restores.wait_for("default ServiceAccount", lambda: restores.get(kube, sa_path) is not None)
    merge_patch(kube, sa_path, {"metadata": {"labels": {"v": "1"}}})
    backup = restores.back_up(kube, fs_store, namespace)
    merge_patch(kube, sa_path, {"metadata": {"labels": {"v": "2"}}})

    started = time.monotonic()
    result = restores.run_restore(kube, fs_store, backup, existing_resource_policy="recreate")

    assert time.monotonic() - started < 20  # no waiting for the old one to go away
    assert result.phase is RestorePhase.COMPLETED, result.issues
    assert outcome(result, "serviceaccounts", "default").outcome in ("recreated", "updated")
    assert kube.get(sa_path)["metadata"]["labels"]["v"] == "1"


@pytest.fixture
def crd_group() -> str:
    return f"{restores.unique('g')}.ark.test"


@pytest.fixture
def gadgets_crd(kube: KubeClient, crd_group: str) -> Iterator[str]:
    crd = restores.install_crd(kube, restores.gadget_crd(crd_group))
    yield crd["metadata"]["name"]
    restores.remove_crd(kube, crd["metadata"]["name"])


def test_recreate_never_deletes_namespaces_crds_pvs_or_pvcs(
    kube: KubeClient, namespace: str, fs_store: ObjectStore, crd_group: str, gadgets_crd: str
) -> None:
    pv_name = f"pv-{namespace}"
    pv = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": pv_name, "labels": {"v": "1"}},
        "spec": {
            "capacity": {"storage": "1Mi"},
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "",
            "persistentVolumeReclaimPolicy": "Retain",
            "claimRef": {"namespace": namespace, "name": "claim"},
            "hostPath": {"path": f"/tmp/{pv_name}"},
        },
    }
    pvc = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "claim", "labels": {"v": "1"}},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "",
            "volumeName": pv_name,
            "resources": {"requests": {"storage": "1Mi"}},
        },
    }
    pv_path = f"/api/v1/persistentvolumes/{pv_name}"
    restores.create(kube, pv)
    try:
        restores.create(kube, pvc, namespace=namespace)
        restores.create(kube, restores.gadget(crd_group, "g1", {"size": 1}), namespace=namespace)
        merge_patch(kube, f"/api/v1/namespaces/{namespace}", {"metadata": {"labels": {"v": "1"}}})
        merge_patch(
            kube, f"{restores.CRDS_PATH}/{gadgets_crd}", {"metadata": {"labels": {"v": "1"}}}
        )
        backup = restores.back_up(kube, fs_store, namespace)
        guarded = {
            ("namespaces", namespace): f"/api/v1/namespaces/{namespace}",
            ("customresourcedefinitions.apiextensions.k8s.io", gadgets_crd): (
                f"{restores.CRDS_PATH}/{gadgets_crd}"
            ),
            ("persistentvolumes", pv_name): pv_path,
            ("persistentvolumeclaims", "claim"): (
                f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/claim"
            ),
        }
        uids = {}
        for key, path in guarded.items():
            uids[key] = merge_patch(kube, path, {"metadata": {"labels": {"v": "2"}}})["metadata"][
                "uid"
            ]
        cr_path = f"/apis/{crd_group}/v1/namespaces/{namespace}/gadgets/g1"
        cr_uid = kube.get(cr_path)["metadata"]["uid"]
        merge_patch(kube, cr_path, {"spec": {"size": 2}})

        result = restores.run_restore(kube, fs_store, backup, existing_resource_policy="recreate")

        assert result.phase is RestorePhase.COMPLETED, result.issues
        for (resource, name), path in guarded.items():
            live = kube.get(path)
            assert live["metadata"]["uid"] == uids[(resource, name)], resource
            assert live["metadata"]["labels"]["v"] == "1", resource  # updated instead
            assert outcome(result, resource, name).outcome == "updated", resource
            warnings = _warnings_about(result, resource, name)
            assert f"not recreated ({resource} are never deleted by a restore)" in warnings, (
                resource,
                result.issues.warnings,
            )
        cr = kube.get(cr_path)
        assert cr["metadata"]["uid"] != cr_uid
        assert cr["spec"] == {"size": 1}
        assert outcome(result, f"gadgets.{crd_group}", "g1").outcome == "recreated"
    finally:
        restores.delete(kube, pv_path)


def _deny_configmaps_labelled(kube: KubeClient, namespace: str, label: str, value: str) -> str:
    """A ValidatingAdmissionPolicy (enforced by the API server itself) refusing to create
    ConfigMaps labelled ``label=value`` in ``namespace``; returns its name once in force."""
    name = restores.unique("deny")
    restores.create(
        kube,
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": name},
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {
                    "resourceRules": [
                        {
                            "apiGroups": [""],
                            "apiVersions": ["v1"],
                            "operations": ["CREATE"],
                            "resources": ["configmaps"],
                        }
                    ]
                },
                "validations": [
                    {
                        "expression": f"!has(object.metadata.labels) || "
                        f"object.metadata.labels[?'{label}'].orValue('') != '{value}'",
                        "message": f"no ConfigMaps labelled {label}={value} here",
                    }
                ],
            },
        },
    )
    restores.create(
        kube,
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": name},
            "spec": {
                "policyName": name,
                "validationActions": ["Deny"],
                "matchResources": {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}
                },
            },
        },
    )
    probe = config_map("probe", {}, labels={label: value})

    def in_force() -> bool:
        try:
            kube.request(
                "POST",
                f"/api/v1/namespaces/{namespace}/configmaps",
                body=probe,
                query={"dryRun": "All"},
            )
        except KubeApiError as exc:
            return exc.status in (400, 403, 422)
        return False

    restores.wait_for("the admission policy in force", in_force)
    return name


def test_recreate_keeps_the_live_object_when_the_api_server_would_refuse_the_backed_up_one(
    kube: KubeClient, namespace: str, fs_store: ObjectStore
) -> None:
    restores.create(kube, config_map("guarded", {"k": "v"}, labels={"v": "1"}), namespace=namespace)
    backup = restores.back_up(kube, fs_store, namespace)
    before = merge_patch(kube, _cm_path(namespace, "guarded"), {"metadata": {"labels": {"v": "2"}}})
    policy = _deny_configmaps_labelled(kube, namespace, "v", "1")
    try:
        result = restores.run_restore(kube, fs_store, backup, existing_resource_policy="recreate")
    finally:
        admission = "/apis/admissionregistration.k8s.io/v1"
        restores.delete(kube, f"{admission}/validatingadmissionpolicybindings/{policy}")
        restores.delete(kube, f"{admission}/validatingadmissionpolicies/{policy}")

    assert result.phase is RestorePhase.PARTIALLY_FAILED
    guarded = outcome(result, "configmaps", "guarded")
    assert guarded.outcome == "failed"
    assert guarded.message is not None and "no ConfigMaps labelled v=1 here" in guarded.message
    live = kube.get(_cm_path(namespace, "guarded"))
    assert live["metadata"]["uid"] == before["metadata"]["uid"]
    assert live["metadata"]["labels"]["v"] == "2"


def test_recreate_updates_an_object_another_controller_holds_with_a_finalizer(
    kube: KubeClient, namespace: str, fs_store: ObjectStore
) -> None:
    held = config_map("held", {"k": "v"})
    held["metadata"]["finalizers"] = ["example.com/hold"]
    restores.create(kube, held, namespace=namespace)
    path = _cm_path(namespace, "held")
    try:
        backup = restores.back_up(kube, fs_store, namespace)
        before = merge_patch(kube, path, {"data": {"k": "live"}})

        result = restores.run_restore(kube, fs_store, backup, existing_resource_policy="recreate")

        assert result.phase is RestorePhase.COMPLETED, result.issues
        assert outcome(result, "configmaps", "held").outcome == "updated"
        assert any("example.com/hold" in w for w in _warnings_about(result, "configmaps", "held"))
        live = kube.get(path)
        assert live["metadata"]["uid"] == before["metadata"]["uid"]
        assert live["data"] == {"k": "v"}
    finally:
        merge_patch(kube, path, {"metadata": {"finalizers": None}})


def test_recreate_finalized_recreates_once_the_holding_controller_lets_go(
    kube: KubeClient, namespace: str, fs_store: ObjectStore
) -> None:
    held = config_map("held", {"k": "v"})
    held["metadata"]["finalizers"] = ["example.com/hold"]
    restores.create(kube, held, namespace=namespace)
    path = _cm_path(namespace, "held")
    backup = restores.back_up(kube, fs_store, namespace)
    before = merge_patch(kube, path, {"data": {"k": "live"}})
    stop = threading.Event()

    def controller() -> None:
        """The other controller: finalizes an object of its being deleted."""
        while not stop.wait(0.1):
            live = restores.get(kube, path)
            if live and live["metadata"].get("deletionTimestamp"):
                merge_patch(kube, path, {"metadata": {"finalizers": None}})

    worker = threading.Thread(target=controller, daemon=True)
    worker.start()
    try:
        result = restores.run_restore(
            kube, fs_store, backup, existing_resource_policy="recreate", recreate_finalized=True
        )
    finally:
        stop.set()
        worker.join(timeout=5)
        live = restores.get(kube, path)
        if live and live["metadata"].get("finalizers"):
            merge_patch(kube, path, {"metadata": {"finalizers": None}})

    assert result.phase is RestorePhase.COMPLETED, result.issues
    assert outcome(result, "configmaps", "held").outcome == "recreated"
    live = kube.get(path)
    assert live["metadata"]["uid"] != before["metadata"]["uid"]
    assert live["data"] == {"k": "v"}
