"""Two replicas of the operator on one namespace: one leads through the Lease ark-operator, the
other waits; when the leader dies the standby takes over, and no backup runs twice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ark import control
from ark.kube import KubeClient
from ark.operator import leader
from tests.conftest import Cluster, NamespaceFactory, S3Server
from tests.operator.bulk import create_configmaps
from tests.operator.conftest import bsl_body
from tests.operator.harness import Operator, events, strip_finalizers, wait_for, wait_phase

BACKUP, BSL = control.BACKUP, control.BSL


def _lease(kube: KubeClient, namespace: str) -> dict[str, Any]:
    spec: dict[str, Any] = kube.get(
        f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{leader.LEASE_NAME}"
    )["spec"]
    return spec


def _held_by(kube: KubeClient, namespace: str, op: Operator) -> bool:
    return bool(_lease(kube, namespace).get("holderIdentity") == op.identity)


def _backup(kube: KubeClient, namespace: str, name: str, app: str) -> dict[str, Any]:
    control.create(
        kube, BACKUP, namespace, {"metadata": {"name": name}, "spec": {"includedNamespaces": [app]}}
    )
    return wait_phase(kube, BACKUP, namespace, name, {"Completed", "PartiallyFailed", "Failed"})


def _started(kube: KubeClient, namespace: str, name: str) -> int:
    return sum(
        1 for e in events(kube, namespace, name) if e.get("reason") in ("Started", "Restarted")
    )


def test_one_replica_leads_and_the_standby_takes_over_when_it_dies(
    cluster: Cluster,
    kube: KubeClient,
    op_namespace: str,
    s3_bucket: str,
    minio: S3Server,
    make_namespace: NamespaceFactory,
    tmp_path: Path,
) -> None:
    first, second = (
        Operator(namespace=op_namespace, kubeconfig=cluster.kubeconfig, log_dir=tmp_path / n)
        for n in ("a", "b")
    )
    for op in (first, second):
        op.log_dir.mkdir()
        op.start()  # the standby answers /healthz too
    try:
        assert _held_by(kube, op_namespace, first)
        control.create(kube, BSL, op_namespace, bsl_body("default", s3_bucket, minio))
        wait_phase(kube, BSL, op_namespace, "default", {"Available"}, timeout=30)
        app = make_namespace("app")
        create_configmaps(kube, app, 3)

        done = _backup(kube, op_namespace, "led", app)
        assert done["status"]["phase"] == "Completed" and done["status"]["attempt"] == 1
        wait_for(lambda: _started(kube, op_namespace, "led") >= 1, timeout=15, what="Started")
        assert _started(kube, op_namespace, "led") == 1
        assert "led" not in second.log_text(), "the standby handled a backup"

        transitions = int(_lease(kube, op_namespace).get("leaseTransitions") or 0)
        first.kill()  # no release: the standby waits out the lease
        wait_for(lambda: _held_by(kube, op_namespace, second), timeout=30, what="takeover")
        assert int(_lease(kube, op_namespace)["leaseTransitions"]) == transitions + 1
        taken_over = _backup(kube, op_namespace, "after", app)
        assert taken_over["status"]["phase"] == "Completed"
        assert _started(kube, op_namespace, "after") == 1
        assert "leadership lost" not in second.log_text()

        # A graceful stop hands the lease over at once to the replica waiting for it.
        first.start()
        assert _held_by(kube, op_namespace, second)
        second.stop()
        wait_for(lambda: _held_by(kube, op_namespace, first), timeout=15, what="handover")
        assert _backup(kube, op_namespace, "back", app)["status"]["phase"] == "Completed"
        assert _started(kube, op_namespace, "led") == 1  # nothing ran twice
    finally:
        for op in (first, second):
            op.stop()
        strip_finalizers(kube, op_namespace)
