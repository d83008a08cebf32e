"""``ark uninstall`` on the second local cluster (it removes ark's CRDs, which the other tests
share on the first): ark goes, with its operator away and finalizers left behind, and the
bucket keeps every backup."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ark import backup as engine
from ark import control
from ark.api.backup import BackupSpec
from ark.kube import KubeApiError, KubeClient
from tests.cli.conftest import Ark
from tests.conftest import Cluster, S3Server
from tests.operator.conftest import credentials_file, make_store
from tests.support import crds


@pytest.fixture
def other_kube(second_cluster: Cluster) -> Iterator[KubeClient]:
    with KubeClient.load(kubeconfig=second_cluster.kubeconfig) as kc:
        yield kc
    crds.install(second_cluster.api)  # for the tests that come after


def _gone(kube: KubeClient, path: str) -> bool:
    try:
        kube.get(path)
    except KubeApiError as exc:
        return exc.not_found
    return False


def test_uninstall_removes_ark_and_no_backup(
    second_cluster: Cluster,
    other_kube: KubeClient,
    minio: S3Server,
    s3_bucket: str,
    tmp_path: Path,
) -> None:
    namespace = f"ark-un-{uuid.uuid4().hex[:6]}"
    ark = Ark(kubeconfig=second_cluster.kubeconfig, namespace=namespace)
    creds = tmp_path / "creds"
    creds.write_text(credentials_file(minio))
    config = f"region=minio,s3ForcePathStyle=true,s3Url={minio.endpoint}"
    ark.ok(
        "install",
        "--provider",
        "aws",
        "--bucket",
        s3_bucket,
        "--prefix",
        "cluster-a",
        "--config",
        config,
        "--secret-file",
        str(creds),
    )
    app = f"app-{uuid.uuid4().hex[:6]}"
    other_kube.request("POST", "/api/v1/namespaces", body={"metadata": {"name": app}})
    store = make_store(minio, s3_bucket)
    try:
        made = engine.run(
            other_kube, store, name="kept", spec=BackupSpec(included_namespaces=[app])
        )
        assert made.phase == "Completed"
        stored = {(o.key, o.size) for o in store.list("")}
        # What an operator that stopped for good leaves: objects holding its finalizer.
        control.create(
            other_kube,
            control.BACKUP,
            namespace,
            {
                "metadata": {"name": "kept", "finalizers": ["ark.dev/finalizer"]},
                "spec": {"storageLocation": "default"},
            },
        )
        control.patch_status(
            other_kube, control.BACKUP, namespace, "kept", {"storageLocation": "default"}
        )
        assert control.get(other_kube, control.BSL, namespace, "default") is not None
        refused = ark("uninstall")
        assert refused.code == 2 and "--confirm" in refused.err

        done = ark.ok("uninstall", "--confirm")

        assert f"ark uninstalled from namespace {namespace}" in done.out
        assert f"location default (aws bucket {s3_bucket}, prefix cluster-a): 1 backups" in done.out
        assert _gone(other_kube, f"/api/v1/namespaces/{namespace}")
        assert _gone(
            other_kube, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/backups.ark.dev"
        )
        assert _gone(
            other_kube,
            "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/ark-restore-guard",
        )
        assert _gone(
            other_kube, "/apis/rbac.authorization.k8s.io/v1/clusterroles/ark-backup-reader"
        )
        assert {(o.key, o.size) for o in store.list("")} == stored
    finally:
        other_kube.request("DELETE", f"/api/v1/namespaces/{app}")
