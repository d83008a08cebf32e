"""DeleteBackupRequests: the data goes, then the Backup; a failure is reported and retried."""

from __future__ import annotations

from ark import control
from ark.kube import KubeClient
from ark.storage import ObjectStore
from tests.conftest import NamespaceFactory
from tests.operator.bulk import create_configmaps
from tests.operator.harness import (
    Operator,
    status,
    wait_event,
    wait_for,
    wait_gone,
    wait_phase,
)

BACKUP, DBR, BSL = control.BACKUP, control.DBR, control.BSL


def _backup(kube: KubeClient, ns: str, name: str, app: str) -> None:
    control.create(
        kube, BACKUP, ns, {"metadata": {"name": name}, "spec": {"includedNamespaces": [app]}}
    )
    wait_phase(kube, BACKUP, ns, name, {"Completed"})


def test_delete_request_removes_data_and_backup(
    kube: KubeClient,
    op_namespace: str,
    default_bsl: str,
    operator: Operator,
    store: ObjectStore,
    make_namespace: NamespaceFactory,
) -> None:
    app = make_namespace("app")
    create_configmaps(kube, app, 3)
    _backup(kube, op_namespace, "old", app)
    _backup(kube, op_namespace, "keep", app)
    control.create(
        kube, DBR, op_namespace, {"metadata": {"name": "del-old"}, "spec": {"backupName": "old"}}
    )
    wait_phase(kube, DBR, op_namespace, "del-old", {"Processed"})
    wait_gone(kube, BACKUP, op_namespace, "old")
    assert not list(store.list("backups/old/"))
    assert list(store.list("backups/keep/"))
    wait_event(kube, op_namespace, "del-old", "Deleted")
    assert not status(kube, DBR, op_namespace, "del-old").get("errors")


def test_failed_deletion_is_reported_and_retried(
    kube: KubeClient,
    op_namespace: str,
    default_bsl: str,
    operator: Operator,
    store: ObjectStore,
    make_namespace: NamespaceFactory,
) -> None:
    app = make_namespace("app")
    create_configmaps(kube, app, 2)
    _backup(kube, op_namespace, "stuck", app)
    good = control.get(kube, BSL, op_namespace, "default")
    assert good is not None
    control.patch(
        kube, BSL, op_namespace, "default", {"spec": {"config": {"s3Url": "http://127.0.0.1:9"}}}
    )
    control.create(
        kube,
        DBR,
        op_namespace,
        {"metadata": {"name": "del-stuck"}, "spec": {"backupName": "stuck"}},
    )
    wait_for(
        lambda: status(kube, DBR, op_namespace, "del-stuck").get("errors"),
        timeout=30,
        what="deletion errors in status",
    )
    wait_event(kube, op_namespace, "del-stuck", "DeletionFailed")
    assert list(store.list("backups/stuck/"))
    control.patch(kube, BSL, op_namespace, "default", {"spec": {"config": good["spec"]["config"]}})
    wait_phase(kube, DBR, op_namespace, "del-stuck", {"Processed"}, timeout=60)
    wait_gone(kube, BACKUP, op_namespace, "stuck")
    assert list(store.list("")) == []
    assert "ark_backup_deletion_failure_total 1.0" in operator.metrics()


def test_delete_request_for_a_missing_backup_is_processed_with_an_error(
    kube: KubeClient,
    op_namespace: str,
    default_bsl: str,
    operator: Operator,
) -> None:
    control.create(
        kube,
        DBR,
        op_namespace,
        {"metadata": {"name": "del-ghost"}, "spec": {"backupName": "ghost"}},
    )
    st = wait_phase(kube, DBR, op_namespace, "del-ghost", {"Processed"})["status"]
    assert st["errors"] == ["backup ghost not found"]
