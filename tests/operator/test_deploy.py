"""deploy/: its CRDs match crds/, and its RBAC is enough — the operator runs a backup, a
restore, a sync and a deletion with a ServiceAccount token bound by nothing else."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import yaml

from ark import control
from ark.kube import KubeApiError, KubeClient, discover, podexec
from ark.storage import ObjectStore
from tests.conftest import Cluster, NamespaceFactory, S3Server
from tests.operator.bulk import create_configmaps
from tests.operator.conftest import bsl_body
from tests.operator.harness import Operator, strip_finalizers, wait_gone, wait_phase
from tests.operator.manifests import BASE, kubeconfig_for_token, load
from tests.support import workloads
from tests.support.localenv import ROOT

BACKUP, RESTORE, DBR, BSL = control.BACKUP, control.RESTORE, control.DBR, control.BSL
# An HTTP 403 as ark ("GET /x: 403 Forbidden") or kopf/aiohttp ("403, message=...") write it;
# not the digits inside a timestamp's milliseconds (",403") or a port (":44039").
_HTTP_403 = re.compile(r"(?<![\w,.:])403(?![\w]|[.:]\w)")


def test_deploy_crds_are_the_generated_ones() -> None:
    for crd in sorted((ROOT / "crds").glob("*.yaml")):
        assert (BASE / "crds" / crd.name).read_text() == crd.read_text(), (
            f"deploy/base/crds/{crd.name} drifted: run `python -m ark.api.crdgen deploy/base/crds`"
        )
    listed = yaml.safe_load((BASE / "kustomization.yaml").read_text())["resources"]
    assert {f"crds/{p.name}" for p in (ROOT / "crds").glob("*.yaml")} <= set(listed)


@pytest.fixture
def service_account_kubeconfig(
    kube: KubeClient, cluster: Cluster, op_namespace: str, tmp_path: Path
) -> Iterator[str]:
    suffix = f"-{uuid.uuid4().hex[:6]}"
    applied = []
    discovery = discover(kube)
    for obj in load(namespace=op_namespace, suffix=suffix):
        if obj["kind"] not in {
            "ServiceAccount",
            "Role",
            "RoleBinding",
            "ClusterRole",
            "ClusterRoleBinding",
        }:
            continue
        res = workloads.resolve(discovery, obj)
        kube.request("POST", res.path(namespace=obj["metadata"].get("namespace")), body=obj)
        applied.append((res, obj))
    token = kube.request(
        "POST",
        f"/api/v1/namespaces/{op_namespace}/serviceaccounts/ark/token",
        body={
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": 3600},
        },
    )
    path = kubeconfig_for_token(
        cluster.kubeconfig, orjson.loads(token)["status"]["token"], tmp_path / "sa-kubeconfig"
    )
    yield str(path)
    for res, obj in applied:
        if obj["kind"] in {"ClusterRole", "ClusterRoleBinding"}:
            kube.request("DELETE", res.path(name=obj["metadata"]["name"]))


_LABEL_CONFIGMAPS = """
version: v1
resourceModifierRules:
- conditions: {groupResource: configmaps, resourceNameRegex: "^bulk-"}
  mergePatches: [{patchData: '{"metadata": {"labels": {"modified": "yes"}}}'}]
"""


@pytest.mark.slow
def test_the_operator_works_with_the_rbac_in_deploy(
    kube: KubeClient,
    op_namespace: str,
    service_account_kubeconfig: str,
    tmp_path: Path,
    s3_bucket: str,
    minio: S3Server,
    store: ObjectStore,
    make_namespace: NamespaceFactory,
) -> None:
    op = Operator(namespace=op_namespace, kubeconfig=service_account_kubeconfig, log_dir=tmp_path)
    op.start()
    app = make_namespace("app")
    try:
        workloads.deploy_shop(kube, app)
        create_configmaps(kube, app, 3)
        control.create(kube, BSL, op_namespace, bsl_body("default", s3_bucket, minio))
        wait_phase(kube, BSL, op_namespace, "default", {"Available"}, timeout=30)
        control.create(
            kube,
            BACKUP,
            op_namespace,
            {"metadata": {"name": "sa"}, "spec": {"includedNamespaces": [app]}},
        )
        st = wait_phase(
            kube, BACKUP, op_namespace, "sa", {"Completed", "PartiallyFailed", "Failed"}, timeout=90
        )["status"]
        assert st["phase"] == "Completed", st
        assert st["warnings"] == 0, "the ServiceAccount could not read something"
        target = f"{app}-sa"
        # Resource modifiers: the operator reads the ConfigMap a Restore names.
        kube.request(
            "POST",
            f"/api/v1/namespaces/{op_namespace}/configmaps",
            body={
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "sa-rules"},
                "data": {"rules.yaml": _LABEL_CONFIGMAPS},
            },
        )
        control.create(
            kube,
            RESTORE,
            op_namespace,
            {
                "metadata": {"name": "sa-r"},
                "spec": {
                    "backupName": "sa",
                    "namespaceMapping": {app: target},
                    "preserveNodePorts": False,  # beside its original: the port is taken
                    "resourceModifier": {"kind": "ConfigMap", "name": "sa-rules"},
                },
            },
        )
        try:
            rst = wait_phase(
                kube,
                RESTORE,
                op_namespace,
                "sa-r",
                {"Completed", "PartiallyFailed", "Failed"},
                timeout=120,
            )["status"]
            # Beside its original the clone's static claim cannot have the original's volume:
            # it gets a new one (reading StorageClasses is in the RBAC), and says so.
            assert rst["phase"] == "PartiallyFailed", rst
            [error] = [r for r in rst["results"] if r["outcome"] != "warning"]
            assert (error["resource"], error["name"], error["outcome"]) == (
                "persistentvolumeclaims",
                "uploads",
                "error",
            ), rst
            assert "the volume's data was not copied" in error["message"], rst
            restored = kube.get(f"/api/v1/namespaces/{target}/configmaps/bulk-00000")
            assert restored["metadata"]["labels"]["modified"] == "yes"
        finally:
            kube.request("DELETE", f"/api/v1/namespaces/{target}")
        control.create(
            kube, DBR, op_namespace, {"metadata": {"name": "sa-del"}, "spec": {"backupName": "sa"}}
        )
        wait_phase(kube, DBR, op_namespace, "sa-del", {"Processed"}, timeout=60)
        wait_gone(kube, BACKUP, op_namespace, "sa")
        assert list(store.list("")) == []
        log = op.log_text()
        assert "Forbidden" not in log and not _HTTP_403.search(log), log
    finally:
        op.stop()
        strip_finalizers(kube, op_namespace)
        for obj in workloads.cluster_manifests(app, suffix=app):
            res = workloads.resolve(discover(kube), obj)
            kube.request("DELETE", res.path(name=obj["metadata"]["name"]))


def test_backup_hooks_may_exec_with_the_rbac_in_deploy_without_the_restore_writer(
    kube: KubeClient, op_namespace: str, service_account_kubeconfig: str, namespace: str
) -> None:
    """A backup-only cluster drops the restore writer's binding (deploy/README.md); hooks still
    exec: ``get`` (what v1.34 checks) and ``create`` (what servers that authorize WebSocket
    upgrades as create check) on pods/exec, by the API server's own authorizer."""
    rbac = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"
    for binding in kube.get(rbac)["items"]:
        subjects = binding.get("subjects") or []
        if binding["roleRef"]["name"].startswith("ark-restore-writer") and any(
            s.get("namespace") == op_namespace for s in subjects
        ):
            kube.request(  # bound to nobody (the fixture deletes it afterwards)
                "PATCH",
                f"{rbac}/{binding['metadata']['name']}",
                body={"subjects": []},
                content_type="application/merge-patch+json",
            )
    user = f"system:serviceaccount:{op_namespace}:ark"
    for verb in ("get", "create"):
        review = kube.request(
            "POST",
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            body={
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SubjectAccessReview",
                "spec": {
                    "user": user,
                    "groups": ["system:serviceaccounts", f"system:serviceaccounts:{op_namespace}"],
                    "resourceAttributes": {
                        "namespace": namespace,
                        "verb": verb,
                        "resource": "pods",
                        "subresource": "exec",
                    },
                },
            },
        )
        assert orjson.loads(review)["status"]["allowed"] is True, verb
    kube.request(
        "POST",
        f"/api/v1/namespaces/{namespace}/pods",
        body={"metadata": {"name": "db-0"}, "spec": {"containers": [{"name": "db", "image": "x"}]}},
    )
    with (
        KubeClient.load(kubeconfig=service_account_kubeconfig) as as_operator,
        pytest.raises(KubeApiError) as refused,
    ):
        podexec.PodExec(as_operator)(
            namespace=namespace, pod="db-0", container="db", command=["true"], timeout=10
        )
    # Authorized: the server gets as far as looking for the pod's node (there is no kubelet).
    assert refused.value.status == 400 and "does not have a host assigned" in refused.value.message
