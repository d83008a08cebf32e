"""A BackupStorageLocation with objectLock: backups are written locked, a ttl shorter than the
lock is refused, and neither a DeleteBackupRequest nor expiry deletes a locked backup."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from ark import control
from ark.kube import KubeClient
from ark.storage import ObjectStore
from tests.conftest import NamespaceFactory, S3Server
from tests.operator.bulk import create_configmaps
from tests.operator.conftest import bsl_body, make_store
from tests.operator.harness import Operator, status, wait_event, wait_for, wait_phase

BACKUP, DBR, BSL = control.BACKUP, control.DBR, control.BSL
LOCK = {"mode": "Governance", "days": 1}


@pytest.fixture
def locked_bsl(
    kube: KubeClient, op_namespace: str, locked_bucket: str, minio: S3Server, operator: Operator
) -> str:
    control.create(
        kube, BSL, op_namespace, bsl_body("default", locked_bucket, minio, objectLock=LOCK)
    )
    wait_phase(kube, BSL, op_namespace, "default", {"Available"}, timeout=30)
    return "default"


def _backup(kube: KubeClient, ns: str, name: str, app: str, ttl: str) -> None:
    body = {"metadata": {"name": name}, "spec": {"includedNamespaces": [app], "ttl": ttl}}
    control.create(kube, BACKUP, ns, body)


def _objects(store: ObjectStore, name: str) -> list[str]:
    return sorted(o.key for o in store.list(f"backups/{name}/"))


def test_a_ttl_shorter_than_the_lock_fails_validation(
    kube: KubeClient, op_namespace: str, locked_bsl: str, make_namespace: NamespaceFactory
) -> None:
    app = make_namespace("app")
    _backup(kube, op_namespace, "short", app, "1h")
    wait_phase(kube, BACKUP, op_namespace, "short", {"FailedValidation"})
    errors = status(kube, BACKUP, op_namespace, "short")["validationErrors"]
    assert any(
        "ttl 1h is shorter than the objectLock of BackupStorageLocation default (Governance, "
        "1 day)" in e
        for e in errors
    ), errors


def test_a_locked_backup_is_written_locked_and_not_deleted(
    kube: KubeClient,
    op_namespace: str,
    locked_bsl: str,
    minio: S3Server,
    locked_bucket: str,
    make_namespace: NamespaceFactory,
) -> None:
    app = make_namespace("app")
    create_configmaps(kube, app, 3)
    _backup(kube, op_namespace, "kept", app, "48h")
    wait_phase(kube, BACKUP, op_namespace, "kept", {"Completed"})
    st = status(kube, BACKUP, op_namespace, "kept")
    started = control.parse_time(st["startTimestamp"])
    until = control.parse_time(st["objectLock"]["until"])
    assert started is not None and until is not None
    assert st["objectLock"]["mode"] == "Governance"
    assert abs((until - started) - dt.timedelta(days=1)) < dt.timedelta(seconds=30)

    store = make_store(minio, locked_bucket)
    keys = _objects(store, "kept")
    assert "backups/kept/velero-backup.json" in keys and "backups/kept/kept.tar.gz" in keys
    s3: Any = minio.client()
    for key in keys:
        head = s3.head_object(Bucket=locked_bucket, Key=f"{store.location.prefix}/{key}")
        assert head["ObjectLockMode"] == "GOVERNANCE", key
        assert abs(head["ObjectLockRetainUntilDate"] - until) < dt.timedelta(seconds=1), key

    # A DeleteBackupRequest is refused, naming the lock and its end; nothing goes.
    request = {"metadata": {"name": "del-kept"}, "spec": {"backupName": "kept"}}
    control.create(kube, DBR, op_namespace, request)
    wait_phase(kube, DBR, op_namespace, "del-kept", {"Processed"})
    errors = status(kube, DBR, op_namespace, "del-kept")["errors"]
    assert f"Governance object lock until {st['objectLock']['until']}" in errors[0], errors
    wait_event(kube, op_namespace, "del-kept", "DeletionRefused")
    assert status(kube, BACKUP, op_namespace, "kept")["phase"] == "Completed"
    assert _objects(store, "kept") == keys

    # Expiry (a schedule's retention sets the expiration to now) keeps it too, and says why.
    control.patch_status(kube, BACKUP, op_namespace, "kept", {"expiration": control.timestamp()})
    wait_for(
        lambda: any(
            c.get("type") == "Expired" and "object lock" in (c.get("message") or "")
            for c in status(kube, BACKUP, op_namespace, "kept").get("conditions") or []
        ),
        timeout=30,
        what="an Expired condition naming the lock",
    )
    assert control.get(kube, BACKUP, op_namespace, "kept") is not None
    assert _objects(store, "kept") == keys


def test_a_bucket_that_cannot_lock_makes_the_location_unavailable(
    kube: KubeClient,
    op_namespace: str,
    s3_bucket: str,
    minio: S3Server,
    operator: Operator,
    make_namespace: NamespaceFactory,
) -> None:
    body = bsl_body("default", s3_bucket, minio, objectLock=LOCK)
    control.create(kube, BSL, op_namespace, body)
    wait_phase(kube, BSL, op_namespace, "default", {"Unavailable"}, timeout=30)
    message = status(kube, BSL, op_namespace, "default")["message"]
    assert message.startswith(
        "BackupStorageLocation default asks for objectLock (Governance, 1 day), but its bucket "
        f"cannot lock objects: aws://{s3_bucket}/"
    ), message
    assert f"bucket {s3_bucket!r} does not have Object Lock enabled" in message, message

    # A backup to it is refused before anything is written, with the reason.
    app = make_namespace("app")
    _backup(kube, op_namespace, "unlockable", app, "48h")
    wait_phase(kube, BACKUP, op_namespace, "unlockable", {"FailedValidation"})
    errors = status(kube, BACKUP, op_namespace, "unlockable")["validationErrors"]
    assert any("is Unavailable: " in e and "does not have Object Lock enabled" in e for e in errors)
    assert _objects(make_store(minio, s3_bucket), "unlockable") == []

    # Without the lock the same bucket is fine again.
    control.patch(kube, BSL, op_namespace, "default", {"spec": {"objectLock": None}})
    wait_phase(kube, BSL, op_namespace, "default", {"Available"}, timeout=30)
    assert not status(kube, BSL, op_namespace, "default").get("message")
