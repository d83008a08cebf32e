"""Storage and snapshot locations: validation, ReadOnly, backup sync from another cluster."""

from __future__ import annotations

import time

import orjson

from ark import archive, control, persistence
from ark import backup as engine
from ark.api.backup import BackupSpec
from ark.kube import KubeClient
from ark.storage import ObjectStore
from tests.conftest import NamespaceFactory, S3Server
from tests.operator.bulk import create_configmaps
from tests.operator.conftest import bsl_body
from tests.operator.harness import Operator, status, wait_event, wait_for, wait_phase

BSL, VSL, BACKUP = control.BSL, control.VSL, control.BACKUP


def test_unreachable_location_is_unavailable_with_the_reason_then_recovers(
    kube: KubeClient,
    op_namespace: str,
    operator: Operator,
    s3_bucket: str,
    minio: S3Server,
) -> None:
    body = bsl_body("main", "no-such-bucket-here", minio)
    control.create(kube, BSL, op_namespace, body)
    st = wait_phase(kube, BSL, op_namespace, "main", {"Unavailable"})["status"]
    assert "no-such-bucket-here" in st["message"]
    wait_event(kube, op_namespace, "main", "Unavailable")
    control.patch(
        kube, BSL, op_namespace, "main", {"spec": {"objectStorage": {"bucket": s3_bucket}}}
    )
    st = wait_phase(kube, BSL, op_namespace, "main", {"Available"})["status"]
    assert st.get("message") is None and st["lastValidationTime"]


def test_missing_credential_secret_is_named(
    kube: KubeClient,
    op_namespace: str,
    operator: Operator,
    s3_bucket: str,
    minio: S3Server,
) -> None:
    body = bsl_body("nocreds", s3_bucket, minio)
    body["spec"]["credential"] = {"name": "absent", "key": "cloud"}
    control.create(kube, BSL, op_namespace, body)
    st = wait_phase(kube, BSL, op_namespace, "nocreds", {"Unavailable"})["status"]
    assert "credential Secret" in st["message"] and "absent" in st["message"]


def test_backup_sync_brings_in_backups_written_by_another_cluster(
    kube: KubeClient,
    op_namespace: str,
    operator: Operator,
    s3_bucket: str,
    minio: S3Server,
    store: ObjectStore,
    make_namespace: NamespaceFactory,
) -> None:
    app = make_namespace("app")
    create_configmaps(kube, app, 4)
    # "Another cluster" wrote this: the engine straight into the bucket, no CR here.
    result = engine.run(
        kube, store, name="elsewhere", spec=BackupSpec(included_namespaces=[app], ttl="48h")
    )
    assert result.phase == "Completed"
    control.create(
        kube, BSL, op_namespace, bsl_body("shared", s3_bucket, minio, accessMode="ReadOnly")
    )
    synced = wait_phase(kube, BACKUP, op_namespace, "elsewhere", {"Completed"}, timeout=30)
    st = synced["status"]
    assert st["storageLocation"] == "shared"
    assert st["progress"]["itemsBackedUp"] == result.progress.items_backed_up
    assert synced["spec"]["includedNamespaces"] == [app]
    assert synced["metadata"]["annotations"][control.SYNCED_ANNOTATION] == "shared"
    wait_event(kube, op_namespace, "shared", "BackupsSynced")
    # A ReadOnly location takes no backups.
    control.create(
        kube,
        BACKUP,
        op_namespace,
        {"metadata": {"name": "nope"}, "spec": {"storageLocation": "shared"}},
    )
    refused = wait_phase(kube, BACKUP, op_namespace, "nope", {"FailedValidation"})
    assert "ReadOnly" in refused["status"]["validationErrors"][0]
    # Data vanishing from the bucket is marked on the Backup.
    for info in list(store.list("backups/elsewhere/")):
        store.delete(info.key)

    def marked() -> bool:
        conditions = status(kube, BACKUP, op_namespace, "elsewhere").get("conditions") or []
        return any(c["type"] == "InStorage" and c["status"] == "False" for c in conditions)

    wait_for(marked, timeout=30, what="InStorage=False on the Backup")


def test_snapshot_locations_are_checked_against_installed_providers(
    kube: KubeClient,
    op_namespace: str,
    operator: Operator,
) -> None:
    control.create(
        kube,
        VSL,
        op_namespace,
        {
            "metadata": {"name": "ebs"},
            "spec": {"provider": "aws", "config": {"region": "us-east-1"}},
        },
    )
    control.create(
        kube,
        VSL,
        op_namespace,
        {"metadata": {"name": "odd"}, "spec": {"provider": "example.com/nothing"}},
    )
    wait_phase(kube, VSL, op_namespace, "ebs", {"Available"})
    odd = wait_phase(kube, VSL, op_namespace, "odd", {"Unavailable"})["status"]
    assert "example.com/nothing" in odd["message"] and "aws" in odd["message"]


def test_sync_shows_each_backup_in_the_phase_its_record_says_and_skips_unfinished_ones(
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
    phases = {"done": "Completed", "broke": "Failed", "running": "InProgress", "odd": "Weird"}
    for name, phase in phases.items():
        result = engine.run(kube, store, name=name, spec=BackupSpec(included_namespaces=[app]))
        assert result.phase == "Completed"
        key = persistence.BackupKeys(archive.backup_name(name)).metadata
        record = orjson.loads(store.get(key))
        record["status"]["phase"] = phase
        store.put(key, orjson.dumps(record))
    control.create(kube, BSL, op_namespace, bsl_body("default", s3_bucket, minio))
    wait_phase(kube, BACKUP, op_namespace, "done", {"Completed"}, timeout=30)
    wait_phase(kube, BACKUP, op_namespace, "broke", {"Failed"}, timeout=30)
    wait_event(kube, op_namespace, "default", "BackupsSynced")
    time.sleep(3)  # more sync periods (1 s): the unfinished ones stay out
    for name in ("running", "odd"):
        assert control.get(kube, BACKUP, op_namespace, name) is None
