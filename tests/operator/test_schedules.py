"""Schedules: cron ticks create named backups, skip while one runs, pause, and retention.

The operator runs with ``--cron-seconds`` (a test-only seconds field), so ``* * * * *`` ticks
every few seconds instead of every minute.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ark import control
from ark.kube import KubeClient
from ark.storage import ObjectStore
from tests.conftest import Cluster, NamespaceFactory, S3Server
from tests.operator.bulk import create_configmaps
from tests.operator.conftest import bsl_body
from tests.operator.harness import (
    Operator,
    status,
    strip_finalizers,
    wait_event,
    wait_for,
    wait_phase,
)

SCHEDULE, BACKUP = control.SCHEDULE, control.BACKUP


@pytest.fixture
def fast_operator(
    cluster: Cluster,
    kube: KubeClient,
    op_namespace: str,
    tmp_path: Path,
    s3_bucket: str,
    minio: S3Server,
) -> Iterator[Operator]:
    op = Operator(
        namespace=op_namespace,
        kubeconfig=cluster.kubeconfig,
        log_dir=tmp_path,
        extra={"--cron-seconds": "*/2"},
    )
    op.start()
    control.create(kube, control.BSL, op_namespace, bsl_body("default", s3_bucket, minio))
    wait_phase(kube, control.BSL, op_namespace, "default", {"Available"}, timeout=30)
    yield op
    op.stop()
    strip_finalizers(kube, op_namespace)


def schedule(kube: KubeClient, namespace: str, name: str, app: str, **spec: object) -> None:
    body = {
        "metadata": {"name": name},
        "spec": {"schedule": "* * * * *", "template": {"includedNamespaces": [app]}, **spec},
    }
    control.create(kube, SCHEDULE, namespace, body)


def of_schedule(kube: KubeClient, namespace: str, name: str) -> list[dict[str, Any]]:
    return control.list_objects(
        kube, BACKUP, namespace, label_selector=f"{control.SCHEDULE_LABEL}={name}"
    )


def test_ticks_create_named_backups_and_retention_keeps_the_last(
    kube: KubeClient,
    op_namespace: str,
    fast_operator: Operator,
    store: ObjectStore,
    make_namespace: NamespaceFactory,
) -> None:
    app = make_namespace("app")
    create_configmaps(kube, app, 3)
    schedule(kube, op_namespace, "nightly", app, retention={"keepLast": 2})
    wait_for(
        lambda: int(float(_metric(fast_operator, "nightly") or 0)) >= 4 or None,
        timeout=60,
        what="four successful scheduled backups",
    )
    st = status(kube, SCHEDULE, op_namespace, "nightly")
    assert st["phase"] == "Enabled"
    assert re.fullmatch(r"nightly-\d{14}", st["lastBackupName"])
    assert st["lastBackup"] and st["lastSuccessfulBackup"] and st["nextRun"]

    # Retention runs after each success: at most keepLast Completed backups (plus one running).
    def settled() -> bool:
        done = [
            b
            for b in of_schedule(kube, op_namespace, "nightly")
            if (b.get("status") or {}).get("phase") == "Completed"
            and not b["metadata"].get("deletionTimestamp")
        ]
        return len(done) <= 2

    wait_for(settled, timeout=20, what="retention to keep 2")
    control.patch(kube, SCHEDULE, op_namespace, "nightly", {"spec": {"paused": True}})
    time.sleep(3)  # let the last created backup finish and retention apply
    names = {b["metadata"]["name"] for b in of_schedule(kube, op_namespace, "nightly")}
    stored = {p.split("/")[1] for p in (o.key for o in store.list("backups/"))}
    assert stored <= names, "retention left data of deleted backups in the bucket"
    wait_event(kube, op_namespace, "nightly", "BackupCreated")


def _metric(op: Operator, schedule_name: str) -> str | None:
    for line in op.metrics().splitlines():
        if line.startswith(f'ark_backup_success_total{{schedule="{schedule_name}"}}'):
            return line.split()[-1]
    return None


def test_a_started_operator_exports_each_schedules_last_success_from_its_status(
    kube: KubeClient, op_namespace: str, fast_operator: Operator, make_namespace: NamespaceFactory
) -> None:
    """After a restart the last success is the status's, not missing until the next backup."""
    app = make_namespace("app")
    schedule(kube, op_namespace, "weekly", app, paused=True)
    wait_for(
        lambda: status(kube, SCHEDULE, op_namespace, "weekly").get("nextRun"),
        timeout=10,
        what="nextRun",
    )
    last = "2026-11-30T01:00:00Z"
    control.patch_status(kube, SCHEDULE, op_namespace, "weekly", {"lastSuccessfulBackup": last})
    line = 'ark_backup_last_successful_timestamp{schedule="weekly"} '

    def exported() -> float | None:
        found = [x for x in fast_operator.metrics().splitlines() if x.startswith(line)]
        return float(found[0].split()[-1]) if found else None

    expected = control.parse_time(last)
    assert expected is not None
    assert wait_for(exported, timeout=15, what="the last success exported") == pytest.approx(
        expected.timestamp()
    )


def test_paused_schedule_makes_no_backups(
    kube: KubeClient,
    op_namespace: str,
    fast_operator: Operator,
    make_namespace: NamespaceFactory,
) -> None:
    app = make_namespace("app")
    schedule(kube, op_namespace, "held", app, paused=True)
    wait_for(
        lambda: status(kube, SCHEDULE, op_namespace, "held").get("nextRun"),
        timeout=10,
        what="nextRun",
    )
    time.sleep(5)
    assert of_schedule(kube, op_namespace, "held") == []
    control.patch(kube, SCHEDULE, op_namespace, "held", {"spec": {"paused": False}})
    wait_for(lambda: of_schedule(kube, op_namespace, "held"), timeout=20, what="a backup")


def test_a_tick_while_the_previous_backup_runs_is_skipped(
    kube: KubeClient,
    op_namespace: str,
    fast_operator: Operator,
    make_namespace: NamespaceFactory,
) -> None:
    app = make_namespace("app")
    schedule(kube, op_namespace, "busy", app)
    wait_for(
        lambda: status(kube, SCHEDULE, op_namespace, "busy").get("lastBackupName"),
        timeout=20,
        what="a first backup",
    )
    # Make the previous backup look long-running (as a backup waiting for its turn would).
    control.patch(kube, SCHEDULE, op_namespace, "busy", {"spec": {"paused": True}})
    time.sleep(1)  # a tick being handled finishes
    previous = status(kube, SCHEDULE, op_namespace, "busy")["lastBackupName"]
    wait_phase(kube, BACKUP, op_namespace, previous, {"Completed"})
    control.patch_status(kube, BACKUP, op_namespace, previous, {"phase": "InProgress"})
    made = len(of_schedule(kube, op_namespace, "busy"))
    control.patch(kube, SCHEDULE, op_namespace, "busy", {"spec": {"paused": False}})
    wait_for(
        lambda: status(kube, SCHEDULE, op_namespace, "busy").get("skippedTicks"),
        timeout=20,
        what="a skipped tick",
    )
    wait_event(kube, op_namespace, "busy", "TickSkipped")
    assert len(of_schedule(kube, op_namespace, "busy")) == made
    control.patch_status(kube, BACKUP, op_namespace, previous, {"phase": "Completed"})
    wait_for(
        lambda: len(of_schedule(kube, op_namespace, "busy")) > made,
        timeout=20,
        what="the next tick to make a backup again",
    )


def test_a_verifying_schedule_verifies_each_backup(
    kube: KubeClient,
    op_namespace: str,
    fast_operator: Operator,
    make_namespace: NamespaceFactory,
) -> None:
    app = make_namespace("app")
    create_configmaps(kube, app, 3)
    schedule(kube, op_namespace, "checked", app, verify=True)

    def verified() -> dict[str, Any] | None:
        for backup in of_schedule(kube, op_namespace, "checked"):
            conditions = (backup.get("status") or {}).get("conditions") or []
            for condition in conditions:
                if condition["type"] == "Verified":
                    return backup
        return None

    backup = wait_for(verified, timeout=60, what="a verified scheduled backup")
    control.patch(kube, SCHEDULE, op_namespace, "checked", {"spec": {"paused": True}})
    st = backup["status"]
    condition = next(c for c in st["conditions"] if c["type"] == "Verified")
    assert condition["status"] == "True", condition
    assert condition["reason"] == "Verified"
    assert "checksums matched" in condition["message"]
    assert st["verification"]["verified"] is True
    assert st["verification"]["checksummed"] == st["verification"]["items"] >= 4
    assert len(st["manifestDigest"]) == 64
    metric = 'ark_backup_verification_total{result="Verified",schedule="checked"}'
    assert any(line.startswith(metric) for line in fast_operator.metrics().splitlines())
    wait_event(kube, op_namespace, backup["metadata"]["name"], "Verified")
