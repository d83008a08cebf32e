"""Object-store faults between the operator and MinIO (``tests.support.faultproxy``: latency,
stalls, resets, hang-ups, 503 SlowDown), during N backups and N restores: each one ends
Completed and whole (a Completed backup also passes ``ark backup verify``), or fails loudly;
nothing is lost, nothing hangs; the backups, deleted at the end with the network healthy,
leave nothing in the bucket, not even an unfinished multipart upload."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from ark import control, persistence
from ark.backup import verify
from ark.kube import KubeClient
from ark.storage import ObjectStore
from tests.conftest import Cluster, S3Server
from tests.operator.conftest import bsl_body, make_store
from tests.operator.harness import Operator, wait_phase
from tests.reliability import workload
from tests.reliability.ledger import Row, row, runs
from tests.reliability.workload import BACKUP, RESTORE, Source
from tests.support.faultproxy import KINDS, FaultProxy

PREFIX = "faulty"
PROBABILITY = 0.5
TIMEOUT = 300.0


@pytest.fixture
def proxy(minio: S3Server, rng: random.Random) -> Iterator[FaultProxy]:
    where = urlparse(minio.endpoint)
    made = FaultProxy(
        (where.hostname or "127.0.0.1", where.port or 80), seed=rng.randrange(1 << 30)
    )
    yield made
    made.close()


@pytest.fixture
def faulty_bsl(
    kube: KubeClient,
    op_namespace: str,
    operator: Operator,
    minio: S3Server,
    s3_bucket: str,
    proxy: FaultProxy,
) -> str:
    """The default location, reached through the proxy."""
    body = bsl_body("faulty", s3_bucket, minio, prefix=PREFIX)
    body["spec"]["config"]["s3Url"] = proxy.url
    control.create(kube, control.BSL, op_namespace, body)
    wait_phase(kube, control.BSL, op_namespace, "faulty", {"Available"}, timeout=30)
    return "faulty"


@pytest.fixture
def direct(minio: S3Server, s3_bucket: str) -> ObjectStore:
    """The same location, read around the proxy: what the checks see."""
    return make_store(minio, s3_bucket, prefix=PREFIX)


def _faulted(ledger: Row, proxy: FaultProxy, kind: str) -> None:
    """Count what the proxy did during one operation, and make the network healthy again."""
    count = proxy.injected[kind]
    ledger.faults += count
    ledger.mid_run += count
    proxy.set("pass", 0.0)
    proxy.injected.clear()


def test_backups_through_a_faulty_network_lose_nothing(
    kube: KubeClient,
    op_namespace: str,
    faulty_bsl: str,
    proxy: FaultProxy,
    direct: ObjectStore,
    minio: S3Server,
    s3_bucket: str,
    source: Source,
    tmp_path: Path,
) -> None:
    ledger = row("object-store faults during backups")
    names = []
    for i in range(runs()):
        kind = KINDS[i % len(KINDS)]
        name = f"faulty-{i}-{kind}-{uuid.uuid4().hex[:4]}"
        names.append(name)
        proxy.set(kind, PROBABILITY)
        workload.create(kube, BACKUP, op_namespace, name, source.spec())
        ledger.attempted += 1
        obj = workload.wait_terminal(kube, BACKUP, op_namespace, name, timeout=TIMEOUT)
        _faulted(ledger, proxy, kind)
        workload.judge_backup(ledger, direct, obj, source, tmp_path / name)
        if obj is not None and obj["status"]["phase"] == "Completed":
            checked = verify.run(persistence.BackupStore(direct), name)
            if not checked.ok:
                ledger.lost += 1
                ledger.note(f"backup {name} Completed but {checked.problems[:2]}")
    workload.delete_backups(ledger, kube, op_namespace, direct, names)
    uploads = minio.client().list_multipart_uploads(Bucket=s3_bucket)  # type: ignore[attr-defined]
    unfinished = uploads.get("Uploads") or []
    ledger.orphaned += len(unfinished)
    if unfinished:
        ledger.note(f"unfinished multipart uploads: {[u['Key'] for u in unfinished][:3]}")
    ledger.assert_nothing_lost()


def test_restores_through_a_faulty_network_lose_nothing(
    kube: KubeClient,
    cluster: Cluster,
    op_namespace: str,
    faulty_bsl: str,
    proxy: FaultProxy,
    direct: ObjectStore,
    source: Source,
) -> None:
    ledger = row("object-store faults during restores")
    workload.create(kube, BACKUP, op_namespace, "base", source.spec())
    base = workload.wait_terminal(kube, BACKUP, op_namespace, "base", timeout=TIMEOUT)
    assert base is not None and base["status"]["phase"] == "Completed", base
    for i in range(runs()):
        kind = KINDS[i % len(KINDS)]
        name = f"faulty-{i}-{kind}-{uuid.uuid4().hex[:4]}"
        mapping = {ns: f"{ns}-f{i}" for ns in source.namespaces}
        proxy.set(kind, PROBABILITY)
        workload.create(
            kube, RESTORE, op_namespace, name, {"backupName": "base", "namespaceMapping": mapping}
        )
        ledger.attempted += 1
        obj = workload.wait_terminal(kube, RESTORE, op_namespace, name, timeout=TIMEOUT)
        _faulted(ledger, proxy, kind)
        workload.judge_restore(ledger, cluster, direct, obj, source, mapping)
        workload.delete_namespaces(kube, mapping.values())
    ledger.assert_nothing_lost()
