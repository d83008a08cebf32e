"""SIGKILL the operator in the middle of a 5,000-object backup, start it again: the backup
restarts (attempt 2) and finishes with every object, and nothing half-written is ever marked
Completed."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ark import archive, control, persistence
from ark.kube import KubeClient
from ark.storage import ObjectStore
from tests.conftest import TEST_LABEL, Cluster
from tests.operator.bulk import create_configmaps
from tests.operator.harness import Operator, status, wait_event, wait_phase
from tests.support.backups import item_keys, open_backup

COUNT = 5000
BACKUP, RESTORE = control.BACKUP, control.RESTORE


@pytest.fixture(scope="module")
def bulk_namespace(kube: KubeClient) -> Iterator[str]:
    name = f"bulk-{uuid.uuid4().hex[:8]}"
    kube.request(
        "POST",
        "/api/v1/namespaces",
        body={
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": {TEST_LABEL: "true"}},
        },
    )
    create_configmaps(kube, name, COUNT, payload=os.urandom(3072).hex())
    yield name
    kube.request("DELETE", f"/api/v1/namespaces/{name}")


@pytest.fixture
def slow_operator(
    cluster: Cluster,
    kube: KubeClient,
    op_namespace: str,
    tmp_path: Path,
    default_bsl: str,
    operator: Operator,
) -> Operator:
    """The default operator, restarted with one LIST worker, small pages and a client-side rate
    limit, so a backup takes seconds and can be killed at a chosen point."""
    operator.stop()
    operator.extra.update(
        {
            "--backup-workers": "1",
            "--client-page-size": "25",
            "--client-qps": "60",
            "--client-burst": "1",
            "--progress-interval": "0.1",
        }
    )
    operator.start()
    return operator


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", [0, 1500, 3500])
def test_killed_mid_backup_it_finishes_correctly_after_a_restart(
    kube: KubeClient,
    op_namespace: str,
    slow_operator: Operator,
    store: ObjectStore,
    bulk_namespace: str,
    tmp_path: Path,
    kill_at: int,
) -> None:
    name = "big"
    control.create(
        kube,
        BACKUP,
        op_namespace,
        {"metadata": {"name": name}, "spec": {"includedNamespaces": [bulk_namespace]}},
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        st = status(kube, BACKUP, op_namespace, name)
        done = (st.get("progress") or {}).get("itemsBackedUp") or 0
        if st.get("phase") == "InProgress" and done >= kill_at:
            break
        time.sleep(0.02)
    slow_operator.kill()
    frozen = status(kube, BACKUP, op_namespace, name)
    assert frozen["phase"] == "InProgress", f"the backup finished before the kill: {frozen}"
    keys = persistence.BackupKeys(archive.backup_name(name))
    assert not store.exists(keys.metadata), "an interrupted backup looks complete"

    slow_operator.start()
    obj = wait_phase(
        kube, BACKUP, op_namespace, name, {"Completed", "PartiallyFailed", "Failed"}, timeout=180
    )
    st = obj["status"]
    assert st["phase"] == "Completed", st
    assert st["attempt"] == 2
    assert st["progress"]["itemsBackedUp"] == st["progress"]["totalItems"]
    with open_backup(store, name, tmp_path) as index:
        bulk = {k for k in item_keys(index, namespace=bulk_namespace) if "/bulk-" in k}
    assert len(bulk) == COUNT
    assert store.exists(keys.metadata)
    leftovers = {o.key for o in store.list("")} - {
        keys.metadata,
        keys.contents,
        keys.logs,
        keys.results,
        keys.manifest,
        keys.resource_list,
        keys.volume_snapshots,
    }
    assert leftovers == set()
    wait_event(kube, op_namespace, name, "Restarted")


@pytest.mark.slow
def test_killed_mid_restore_it_finishes_without_duplicates(
    kube: KubeClient,
    op_namespace: str,
    slow_operator: Operator,
    bulk_namespace: str,
) -> None:
    control.create(
        kube,
        BACKUP,
        op_namespace,
        {"metadata": {"name": "src"}, "spec": {"includedNamespaces": [bulk_namespace]}},
    )
    wait_phase(kube, BACKUP, op_namespace, "src", {"Completed"}, timeout=120)
    target = f"{bulk_namespace}-r"
    control.create(
        kube,
        RESTORE,
        op_namespace,
        {
            "metadata": {"name": "back"},
            "spec": {"backupName": "src", "namespaceMapping": {bulk_namespace: target}},
        },
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            st = status(kube, RESTORE, op_namespace, "back")
            if ((st.get("progress") or {}).get("itemsRestored") or 0) >= 1000:
                break
            time.sleep(0.02)
        slow_operator.kill()
        assert status(kube, RESTORE, op_namespace, "back")["phase"] == "InProgress"
        slow_operator.start()
        st = wait_phase(
            kube,
            RESTORE,
            op_namespace,
            "back",
            {"Completed", "PartiallyFailed", "Failed"},
            timeout=180,
        )["status"]
        assert st["phase"] == "Completed", st
        assert st["attempt"] == 2
        restored = kube.get(
            f"/api/v1/namespaces/{target}/configmaps", query={"labelSelector": "bulk=true"}
        )["items"]
        assert len(restored) == COUNT
        wait_event(kube, op_namespace, "back", "Restarted")
    finally:
        kube.request("DELETE", f"/api/v1/namespaces/{target}")


def _kill_in_attempt(
    op: Operator, kube: KubeClient, namespace: str, name: str, attempt: int
) -> None:
    """SIGKILL ``op`` once attempt ``attempt`` of the backup has taken items."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        st = status(kube, BACKUP, namespace, name)
        running = st.get("phase") == "InProgress" and st.get("attempt") == attempt
        if running and ((st.get("progress") or {}).get("itemsBackedUp") or 0) > 0:
            break
        time.sleep(0.02)
    op.kill()
    st = status(kube, BACKUP, namespace, name)
    assert (st["phase"], st["attempt"]) == ("InProgress", attempt), st


@pytest.mark.slow
def test_a_backup_interrupted_max_attempts_times_ends_failed_with_the_reason(
    kube: KubeClient,
    op_namespace: str,
    slow_operator: Operator,
    bulk_namespace: str,
) -> None:
    slow_operator.stop()
    slow_operator.extra["--max-attempts"] = "2"
    slow_operator.start()
    name = "doomed"
    control.create(
        kube,
        BACKUP,
        op_namespace,
        {"metadata": {"name": name}, "spec": {"includedNamespaces": [bulk_namespace]}},
    )
    _kill_in_attempt(slow_operator, kube, op_namespace, name, 1)
    slow_operator.start()
    _kill_in_attempt(slow_operator, kube, op_namespace, name, 2)
    slow_operator.start()
    st = wait_phase(kube, BACKUP, op_namespace, name, {"Failed"}, timeout=60)["status"]
    assert "interrupted 2 times" in st["failureReason"]
    assert st["attempt"] == 2
    wait_event(kube, op_namespace, name, "Failed")
