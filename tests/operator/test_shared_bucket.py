"""Two clusters on one bucket and prefix: a backup's data goes only by its owner's intent.

Deleting a Backup object (in either cluster, or by removing ark) deletes no data; expiry deletes
data only in the cluster that wrote the backup; a Backup that failed validation because its
name was taken never deletes the data under that name.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ark import archive, control, persistence
from ark import backup as engine
from ark.api.backup import BackupSpec
from ark.kube import KubeClient
from ark.persistence import WRITER_ANNOTATION
from ark.storage import ObjectStore
from tests.conftest import Cluster, NamespaceFactory, S3Server, _namespace_factory
from tests.operator.bulk import create_configmaps
from tests.operator.conftest import bsl_body, create_secret
from tests.operator.harness import (
    Operator,
    event_reasons,
    status,
    strip_finalizers,
    wait_for,
    wait_gone,
    wait_phase,
)
from tests.support import crds, restores

BACKUP, BSL, DBR = control.BACKUP, control.BSL, control.DBR


def contents(store: ObjectStore) -> set[tuple[str, int]]:
    return {(o.key, o.size) for o in store.list("")}


@pytest.fixture
def other_kube(second_cluster: Cluster) -> Iterator[KubeClient]:
    crds.install(second_cluster.api)
    with KubeClient.load(kubeconfig=second_cluster.kubeconfig) as kc:
        yield kc


@pytest.fixture
def other_namespace(
    second_cluster: Cluster, other_kube: KubeClient, minio: S3Server
) -> Iterator[str]:
    factory = _namespace_factory(second_cluster)
    namespace = next(factory)("ark-b")
    create_secret(other_kube, namespace, minio)
    yield namespace
    strip_finalizers(other_kube, namespace)
    next(factory, None)  # deletes the namespace


@pytest.fixture
def other_operator(
    second_cluster: Cluster, other_kube: KubeClient, other_namespace: str, tmp_path: Path
) -> Iterator[Operator]:
    op = Operator(
        namespace=other_namespace, kubeconfig=second_cluster.kubeconfig, log_dir=tmp_path / "b"
    )
    op.log_dir.mkdir()
    op.start()
    yield op
    op.stop()


def _shared_bsl(kube: KubeClient, namespace: str, bucket: str, minio: S3Server) -> None:
    control.create(kube, BSL, namespace, bsl_body("default", bucket, minio))
    wait_phase(kube, BSL, namespace, "default", {"Available"}, timeout=30)


def _backup(kube: KubeClient, namespace: str, name: str, app: str, **spec: str) -> None:
    control.create(
        kube,
        BACKUP,
        namespace,
        {"metadata": {"name": name}, "spec": {"includedNamespaces": [app], **spec}},
    )
    wait_phase(kube, BACKUP, namespace, name, {"Completed"})


def test_deleting_a_backup_object_in_either_cluster_keeps_the_data(
    kube: KubeClient,
    op_namespace: str,
    default_bsl: str,
    operator: Operator,
    other_kube: KubeClient,
    other_namespace: str,
    other_operator: Operator,
    s3_bucket: str,
    minio: S3Server,
    store: ObjectStore,
    make_namespace: NamespaceFactory,
) -> None:
    app = make_namespace("app")
    create_configmaps(kube, app, 3)
    _backup(kube, op_namespace, "precious", app)
    record = persistence.BackupStore(store).complete_record("precious")
    assert record is not None
    assert record["metadata"]["annotations"][WRITER_ANNOTATION] == kube.cluster_uid()
    assert kube.cluster_uid() != other_kube.cluster_uid()
    stored = contents(store)
    assert any(key.endswith(".tar.gz") for key, _ in stored), stored

    _shared_bsl(other_kube, other_namespace, s3_bucket, minio)
    synced = wait_phase(other_kube, BACKUP, other_namespace, "precious", {"Completed"}, timeout=30)
    control.delete(other_kube, BACKUP, other_namespace, "precious")
    uid = synced["metadata"]["uid"]
    wait_gone(other_kube, BACKUP, other_namespace, "precious", timeout=30, uid=uid)
    assert contents(store) == stored
    # Sync brings it back in the second cluster, and the first never noticed anything.
    back = wait_phase(other_kube, BACKUP, other_namespace, "precious", {"Completed"}, timeout=30)
    assert back["metadata"]["annotations"][control.SYNCED_ANNOTATION] == "default"
    assert status(kube, BACKUP, op_namespace, "precious")["phase"] == "Completed"

    # The writer's own Backup object, deleted: the data stays there too.
    written = control.get(kube, BACKUP, op_namespace, "precious")
    assert written is not None
    control.delete(kube, BACKUP, op_namespace, "precious")
    wait_gone(kube, BACKUP, op_namespace, "precious", timeout=30, uid=written["metadata"]["uid"])
    assert contents(store) == stored
    again = wait_phase(kube, BACKUP, op_namespace, "precious", {"Completed"}, timeout=30)
    assert again["metadata"]["annotations"][control.SYNCED_ANNOTATION] == "default"


def test_expiry_deletes_data_only_in_the_cluster_that_wrote_it(
    kube: KubeClient,
    op_namespace: str,
    default_bsl: str,
    operator: Operator,
    other_kube: KubeClient,
    other_namespace: str,
    other_operator: Operator,
    s3_bucket: str,
    minio: S3Server,
    store: ObjectStore,
    make_namespace: NamespaceFactory,
) -> None:
    app = make_namespace("app")
    create_configmaps(kube, app, 2)
    _backup(kube, op_namespace, "brief", app, ttl="6s")
    operator.stop()  # the writer is away when the backup expires
    stored = contents(store)
    _shared_bsl(other_kube, other_namespace, s3_bucket, minio)
    wait_phase(other_kube, BACKUP, other_namespace, "brief", {"Completed"}, timeout=30)

    def kept() -> dict[str, str] | None:
        for c in status(other_kube, BACKUP, other_namespace, "brief").get("conditions") or []:
            if c["type"] == "Expired" and c["reason"] == "DataKept":
                return dict(c)
        return None

    condition = wait_for(kept, timeout=30, what="Expired=DataKept in the other cluster")
    assert kube.cluster_uid() in condition["message"], condition
    assert "Expired" in event_reasons(other_kube, other_namespace, "brief")
    assert contents(store) == stored

    operator.start()  # the writer expires it: data, then its Backup, then the other's Backup
    wait_gone(kube, BACKUP, op_namespace, "brief", timeout=30)
    assert not list(store.list("backups/brief/"))
    wait_gone(other_kube, BACKUP, other_namespace, "brief", timeout=30)


def test_a_backup_that_failed_validation_never_deletes_the_data_under_its_name(
    kube: KubeClient,
    op_namespace: str,
    operator: Operator,
    s3_bucket: str,
    minio: S3Server,
    store: ObjectStore,
    make_namespace: NamespaceFactory,
) -> None:
    app = make_namespace("app")
    create_configmaps(kube, app, 2)
    # Another writer's backup, already in the bucket; sync is off, so no Backup shows it here.
    result = engine.run(kube, store, name="taken", spec=BackupSpec(included_namespaces=[app]))
    assert result.phase == "Completed"
    stored = contents(store)
    control.create(
        kube, BSL, op_namespace, bsl_body("default", s3_bucket, minio, backupSyncPeriod="0")
    )
    wait_phase(kube, BSL, op_namespace, "default", {"Available"}, timeout=30)

    def collide() -> None:
        control.create(kube, BACKUP, op_namespace, {"metadata": {"name": "taken"}, "spec": {}})
        refused = wait_phase(kube, BACKUP, op_namespace, "taken", {"FailedValidation"})
        assert "already exists" in refused["status"]["validationErrors"][0]

    collide()
    control.delete(kube, BACKUP, op_namespace, "taken")
    wait_gone(kube, BACKUP, op_namespace, "taken", timeout=30)
    assert contents(store) == stored
    collide()
    control.create(
        kube,
        DBR,
        op_namespace,
        {"metadata": {"name": "del-taken"}, "spec": {"backupName": "taken"}},
    )
    wait_phase(kube, DBR, op_namespace, "del-taken", {"Processed"})
    wait_gone(kube, BACKUP, op_namespace, "taken", timeout=30)
    assert contents(store) == stored
    assert store.exists(persistence.BackupKeys(archive.backup_name("taken")).metadata)


def test_removing_ark_deletes_no_data(
    second_cluster: Cluster,
    other_kube: KubeClient,
    other_namespace: str,
    other_operator: Operator,
    s3_bucket: str,
    minio: S3Server,
    store: ObjectStore,
) -> None:
    """Its namespace and then its CRDs deleted while the operator runs (as an uninstall does):
    every Backup goes, and every backup's data stays."""
    factory = _namespace_factory(second_cluster)
    app = next(factory)("app")
    create_configmaps(other_kube, app, 2)
    _shared_bsl(other_kube, other_namespace, s3_bucket, minio)
    _backup(other_kube, other_namespace, "survivor", app)
    stored = contents(store)
    try:
        other_kube.request("DELETE", f"/api/v1/namespaces/{other_namespace}")
        wait_for(
            lambda: restores.get(other_kube, f"/api/v1/namespaces/{other_namespace}") is None,
            timeout=60,
            what=f"namespace {other_namespace} gone",
        )
        assert contents(store) == stored
        for name in crds.load_crds():
            other_kube.request(
                "DELETE",
                f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name['metadata']['name']}",
            )
        wait_for(
            lambda: (
                not [
                    c
                    for c in other_kube.get(
                        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
                    )["items"]
                    if c["spec"]["group"] == "ark.dev"
                ]
            ),
            timeout=60,
            what="ark's CRDs gone",
        )
        assert contents(store) == stored
    finally:
        crds.install(second_cluster.api)
        next(factory, None)
