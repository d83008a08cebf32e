"""A Backup CR with hooks, through the operator: the API server defaults the hook fields from
the CRD, the operator execs through the real pods/exec (refused here: no kubelet, so Pods stay
Pending), and the status counts the hooks the way Velero's hookStatus does."""

from __future__ import annotations

from ark import control
from ark.kube import KubeClient
from tests.conftest import NamespaceFactory
from tests.operator.harness import Operator, wait_phase

BACKUP = control.BACKUP


def test_a_failing_hook_leaves_the_backup_partially_failed_with_hook_status(
    kube: KubeClient,
    op_namespace: str,
    default_bsl: str,
    operator: Operator,
    make_namespace: NamespaceFactory,
) -> None:
    app = make_namespace("app")
    kube.request(
        "POST",
        f"/api/v1/namespaces/{app}/pods",
        body={"metadata": {"name": "db-0"}, "spec": {"containers": [{"name": "db", "image": "x"}]}},
    )
    hook = {"name": "freeze", "pre": [{"exec": {"command": ["fsfreeze", "--freeze", "/data"]}}]}
    control.create(
        kube,
        BACKUP,
        op_namespace,
        {
            "metadata": {"name": "hooked"},
            "spec": {"includedNamespaces": [app], "hooks": {"resources": [hook]}},
        },
    )
    obj = wait_phase(
        kube, BACKUP, op_namespace, "hooked", {"Completed", "PartiallyFailed", "Failed"}
    )
    [stored] = obj["spec"]["hooks"]["resources"][0]["pre"]
    assert stored["exec"]["onError"] == "Fail" and stored["exec"]["timeout"] == "30s"  # CRD
    status = obj["status"]
    assert status["phase"] == "PartiallyFailed", status
    assert status["hookStatus"] == {"hooksAttempted": 1, "hooksFailed": 1}
    assert status["errors"] == 1
