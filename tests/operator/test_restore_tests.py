"""Scheduled restore tests: a Schedule with ``restoreTest`` has each Completed backup restored
into scratch namespaces of this cluster by the operator, judged, and the scratch namespaces
deleted; the live namespace is never written.

A backup that restores exactly passes (status.restoreTest Passed, condition RestoreTested
True, the metric 1); one that cannot come back whole fails naming why (a Pod its own
namespace's LimitRange now refuses), with a Warning Event, the metric 0, and with
``keepFailed`` its scratch namespace kept to look at."""

from __future__ import annotations

import uuid
from typing import Any

from ark import control
from ark.kube import KubeApiError, KubeClient
from ark.operator import restore_test_scope, restore_tests
from tests.cli.conftest import Ark
from tests.conftest import Cluster, NamespaceFactory
from tests.operator.harness import Operator, event_reasons, status, wait_for
from tests.support import compare

SCHEDULE, RESTORE = control.SCHEDULE, control.RESTORE
FAR_CRON = "0 0 1 1 *"  # no tick during the test: the backup is made by hand


def _create(kube: KubeClient, namespace: str, plural: str, body: dict[str, Any]) -> None:
    kube.request("POST", f"/api/v1/namespaces/{namespace}/{plural}", body=body)


def _schedule(kube: KubeClient, namespace: str, name: str, source: str, **test: Any) -> None:
    spec = {
        "schedule": FAR_CRON,
        "template": {"includedNamespaces": [source]},
        "restoreTest": {"enabled": True, **test},
    }
    control.create(kube, SCHEDULE, namespace, {"metadata": {"name": name}, "spec": spec})


def _judged(kube: KubeClient, namespace: str, schedule: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        found = status(kube, SCHEDULE, namespace, schedule).get("restoreTest") or {}
        return found if found.get("phase") in ("Passed", "Failed") else None

    return wait_for(done, timeout=180, what=f"schedule {schedule}'s restore test judged")


def _exists(kube: KubeClient, namespace: str) -> bool:
    try:
        kube.get(f"/api/v1/namespaces/{namespace}")
    except KubeApiError as exc:
        if exc.not_found:
            return False
        raise
    return True


def _condition(kube: KubeClient, namespace: str, schedule: str) -> dict[str, Any]:
    conditions = status(kube, SCHEDULE, namespace, schedule).get("conditions") or []
    (found,) = [c for c in conditions if c["type"] == "RestoreTested"]
    return dict(found)


def test_a_backup_that_restores_exactly_passes_and_its_scratch_namespace_goes(
    cluster: Cluster,
    kube: KubeClient,
    op_namespace: str,
    default_bsl: str,
    operator: Operator,
    make_namespace: NamespaceFactory,
) -> None:
    source = make_namespace("rt-src")
    _create(kube, source, "configmaps", {"metadata": {"name": "settings"}, "data": {"a": "1"}})
    _create(kube, source, "secrets", {"metadata": {"name": "creds"}, "stringData": {"pw": "x"}})
    _create(
        kube,
        source,
        "services",
        {
            "metadata": {"name": "web"},
            "spec": {"type": "NodePort", "selector": {"app": "web"}, "ports": [{"port": 80}]},
        },
    )
    before = compare.restorable(compare.snapshot_namespace(cluster, source))
    schedule = f"rt-{uuid.uuid4().hex[:6]}"
    _schedule(kube, op_namespace, schedule, source)
    ark = Ark(kubeconfig=cluster.kubeconfig, namespace=op_namespace)
    ark.ok("backup", "create", "--from-schedule", schedule, "--wait")

    judged = _judged(kube, op_namespace, schedule)
    assert judged["phase"] == "Passed", judged
    backup = judged["backup"]
    scratch = restore_test_scope.scratch_namespace(backup, source)
    assert judged["scratchNamespaces"] == [scratch]
    assert "restored exactly" in judged["message"] and "left behind" not in judged["message"]
    assert "leftBehind" not in judged and "cleanup" not in judged
    restore = control.get(kube, RESTORE, op_namespace, judged["restore"])
    assert restore is not None and restore["status"]["phase"] == "Completed"
    assert restore["metadata"]["labels"][restore_tests.TEST_LABEL] == schedule
    assert restore["spec"]["namespaceMapping"] == {source: scratch}
    condition = _condition(kube, op_namespace, schedule)
    assert condition["status"] == "True" and condition["reason"] == "Passed"
    wait_for(lambda: not _exists(kube, scratch), timeout=120, what=f"{scratch} deleted")
    after = compare.restorable(compare.snapshot_namespace(cluster, source))
    assert compare.differences(before, after) == {}, "the live namespace is untouched"
    assert f'ark_schedule_restore_test_success{{schedule="{schedule}"}} 1.0' in operator.metrics()
    assert "RestoreTestPassed" in event_reasons(kube, op_namespace, schedule)
    described = ark.ok("schedule", "describe", schedule).out
    assert "Restore test" in described and "Passed" in described


def test_a_backup_that_cannot_come_back_whole_fails_naming_why(
    cluster: Cluster,
    kube: KubeClient,
    op_namespace: str,
    default_bsl: str,
    operator: Operator,
    make_namespace: NamespaceFactory,
) -> None:
    source = make_namespace("rt-src")
    pod = {
        "metadata": {"name": "big"},
        "spec": {
            "containers": [
                {"name": "app", "image": "nginx", "resources": {"limits": {"cpu": "200m"}}}
            ]
        },
    }
    _create(kube, source, "pods", pod)
    # Made after the Pod: the live Pod stays, a restored one is refused by the admission.
    limits = {"type": "Container", "max": {"cpu": "100m"}}
    _create(
        kube, source, "limitranges", {"metadata": {"name": "small"}, "spec": {"limits": [limits]}}
    )
    schedule = f"rt-{uuid.uuid4().hex[:6]}"
    _schedule(kube, op_namespace, schedule, source, keepFailed=True)
    ark = Ark(kubeconfig=cluster.kubeconfig, namespace=op_namespace)
    ark.ok("backup", "create", "--from-schedule", schedule, "--wait")

    judged = _judged(kube, op_namespace, schedule)
    assert judged["phase"] == "Failed", judged
    scratch = restore_test_scope.scratch_namespace(judged["backup"], source)
    assert "PartiallyFailed" in judged["message"] and "pods" in judged["message"], judged
    assert "scratch namespaces kept" in judged["message"]
    condition = _condition(kube, op_namespace, schedule)
    assert condition["status"] == "False" and condition["reason"] == "Failed"
    assert _exists(kube, scratch), "kept for a look (keepFailed)"
    assert f'ark_schedule_restore_test_success{{schedule="{schedule}"}} 0.0' in operator.metrics()
    assert "RestoreTestFailed" in event_reasons(kube, op_namespace, schedule)

    # A test never writes into a namespace it did not create: with its scratch namespace
    # there (the kept one), testing the backup again fails before anything is restored.
    again = restore_tests.start(kube, op_namespace, schedule, judged["backup"])
    assert again is not None and again.phase == "Failed", again
    assert f"scratch namespace(s) {scratch} exist already" in again.message
    kube.request("DELETE", f"/api/v1/namespaces/{scratch}")
