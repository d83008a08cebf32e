"""Backups through the operator: run, status, events, metrics, validation, expiry (deletion:
test_deletion, test_shared_bucket)."""

from __future__ import annotations

import datetime as dt
import time

from ark import archive, control, persistence
from ark.kube import KubeClient
from ark.storage import ObjectStore
from tests.conftest import NamespaceFactory
from tests.operator.harness import (
    Operator,
    event_reasons,
    wait_event,
    wait_for,
    wait_gone,
    wait_phase,
)

BACKUP = control.BACKUP


def configmaps(kube: KubeClient, namespace: str, count: int) -> None:
    for i in range(count):
        kube.request(
            "POST",
            f"/api/v1/namespaces/{namespace}/configmaps",
            body={
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"cm-{i}"},
                "data": {"i": str(i)},
            },
        )


def backup(kube: KubeClient, namespace: str, name: str, **spec: object) -> None:
    control.create(kube, BACKUP, namespace, {"metadata": {"name": name}, "spec": spec})


def test_backup_completes_with_status_events_and_metrics(
    kube: KubeClient,
    op_namespace: str,
    default_bsl: str,
    operator: Operator,
    store: ObjectStore,
    make_namespace: NamespaceFactory,
) -> None:
    app = make_namespace("app")
    configmaps(kube, app, 5)
    backup(kube, op_namespace, "b1", includedNamespaces=[app], ttl="24h")
    obj = wait_phase(kube, BACKUP, op_namespace, "b1", {"Completed", "PartiallyFailed", "Failed"})
    status = obj["status"]
    assert status["phase"] == "Completed", status
    assert status["attempt"] == 1
    assert status["storageLocation"] == "default"
    assert status["progress"]["itemsBackedUp"] == status["progress"]["totalItems"] >= 6
    started = control.parse_time(status["startTimestamp"])
    expires = control.parse_time(status["expiration"])
    assert started is not None and expires is not None
    assert abs((expires - started) - dt.timedelta(hours=24)) < dt.timedelta(seconds=2)
    assert store.exists(persistence.BackupKeys(archive.backup_name("b1")).metadata)
    wait_event(kube, op_namespace, "b1", "Started", "Completed")
    text = operator.metrics()
    assert 'ark_backup_success_total{schedule=""} 1.0' in text
    assert 'ark_backup_attempt_total{schedule=""} 1.0' in text
    assert "ark_backup_duration_seconds_bucket" in text


def test_invalid_backup_fails_validation_with_reasons(
    kube: KubeClient,
    op_namespace: str,
    default_bsl: str,
    operator: Operator,
) -> None:
    backup(kube, op_namespace, "bad", storageLocation="nowhere", volumeSnapshotLocations=["nosuch"])
    obj = wait_phase(kube, BACKUP, op_namespace, "bad", {"FailedValidation"})
    errors = obj["status"]["validationErrors"]
    assert any("BackupStorageLocation" in e and "nowhere" in e for e in errors), errors
    assert any("VolumeSnapshotLocation" in e and "nosuch" in e for e in errors), errors
    wait_event(kube, op_namespace, "bad", "FailedValidation")
    assert "ark_backup_validation_failure_total" in operator.metrics()


def test_backup_without_any_location_fails_validation(
    kube: KubeClient,
    op_namespace: str,
    operator: Operator,
) -> None:
    backup(kube, op_namespace, "homeless")
    obj = wait_phase(kube, BACKUP, op_namespace, "homeless", {"FailedValidation"})
    assert "no default BackupStorageLocation" in obj["status"]["validationErrors"][0]


def test_expired_backups_are_collected(
    kube: KubeClient,
    op_namespace: str,
    default_bsl: str,
    operator: Operator,
    store: ObjectStore,
    make_namespace: NamespaceFactory,
) -> None:
    app = make_namespace("app")
    configmaps(kube, app, 2)
    backup(kube, op_namespace, "shortlived", includedNamespaces=[app], ttl="3s")
    backup(kube, op_namespace, "forever", includedNamespaces=[app], ttl="0")
    wait_phase(kube, BACKUP, op_namespace, "forever", {"Completed"})
    wait_gone(kube, BACKUP, op_namespace, "shortlived", timeout=30)
    assert not list(store.list("backups/shortlived/"))
    assert list(store.list("backups/forever/"))
    assert control.get(kube, BACKUP, op_namespace, "forever") is not None
    wait_for(
        lambda: "Expired" in event_reasons(kube, op_namespace, "shortlived"),
        timeout=10,
        what="Expired event",
    )


def test_backups_beyond_the_limit_wait_their_turn(
    kube: KubeClient,
    op_namespace: str,
    default_bsl: str,
    operator: Operator,
    make_namespace: NamespaceFactory,
) -> None:
    operator.stop()
    operator.extra["--max-concurrent-backups"] = "1"
    operator.start()
    app = make_namespace("app")
    configmaps(kube, app, 20)
    names = [f"q{i}" for i in range(4)]
    for name in names:
        backup(kube, op_namespace, name, includedNamespaces=[app])
    most = 0
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        phases = [
            (control.get(kube, BACKUP, op_namespace, n) or {}).get("status", {}).get("phase")
            for n in names
        ]
        most = max(most, phases.count("InProgress"))
        if all(p == "Completed" for p in phases):
            break
        time.sleep(0.02)
    assert most == 1
    for name in names:
        wait_phase(kube, BACKUP, op_namespace, name, {"Completed"})
