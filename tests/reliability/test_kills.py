"""The operator SIGKILLed at random points during N backups and N restores: each one ends
Completed and whole, or fails loudly; nothing is lost, nothing hangs, and the backups, deleted
at the end, leave nothing in the bucket."""

from __future__ import annotations

import random
import time
import uuid
from pathlib import Path

from ark.api.kinds import Kind
from ark.kube import KubeClient
from ark.storage import ObjectStore
from tests.conftest import Cluster
from tests.operator.harness import Operator, phase
from tests.reliability import workload
from tests.reliability.ledger import Row, row, runs
from tests.reliability.workload import BACKUP, RESTORE, Source

TIMEOUT = 180.0


def _kill_within(
    operator: Operator,
    ledger: Row,
    target: tuple[KubeClient, Kind, str, str],
    rng: random.Random,
    window: float,
) -> None:
    """SIGKILL the operator at a random moment of ``window`` seconds, start it again."""
    time.sleep(rng.uniform(0, window))
    kube, kind, namespace, name = target
    if phase(kube, kind, namespace, name) == "InProgress":
        ledger.mid_run += 1
    operator.kill()
    ledger.faults += 1
    operator.start()


def test_backups_killed_at_random_points_lose_nothing(
    kube: KubeClient,
    op_namespace: str,
    default_bsl: str,
    operator: Operator,
    store: ObjectStore,
    source: Source,
    rng: random.Random,
    tmp_path: Path,
) -> None:
    ledger = row("operator SIGKILLed during backups")
    # one LIST thread and small pages: a backup of these objects takes seconds, not a fraction
    # of one, so most kills strike while it runs
    operator.stop()
    operator.extra = {**operator.extra, "--backup-workers": "1", "--client-page-size": "20"}
    operator.start()
    started = time.monotonic()
    workload.create(
        kube, BACKUP, op_namespace, "calibrate", {"includedNamespaces": source.namespaces}
    )
    workload.wait_terminal(kube, BACKUP, op_namespace, "calibrate", timeout=TIMEOUT)
    window = time.monotonic() - started
    names = ["calibrate"]
    for i in range(runs()):
        name = f"killed-{i}-{uuid.uuid4().hex[:4]}"
        names.append(name)
        workload.create(kube, BACKUP, op_namespace, name, source.spec())
        ledger.attempted += 1
        _kill_within(operator, ledger, (kube, BACKUP, op_namespace, name), rng, window)
        obj = workload.wait_terminal(kube, BACKUP, op_namespace, name, timeout=TIMEOUT)
        workload.judge_backup(ledger, store, obj, source, tmp_path / name)
    workload.delete_backups(ledger, kube, op_namespace, store, names)
    ledger.assert_nothing_lost()


def test_restores_killed_at_random_points_lose_nothing(
    kube: KubeClient,
    cluster: Cluster,
    op_namespace: str,
    default_bsl: str,
    operator: Operator,
    store: ObjectStore,
    source: Source,
    rng: random.Random,
) -> None:
    ledger = row("operator SIGKILLed during restores")
    workload.create(kube, BACKUP, op_namespace, "base", source.spec())
    base = workload.wait_terminal(kube, BACKUP, op_namespace, "base", timeout=TIMEOUT)
    assert base is not None and base["status"]["phase"] == "Completed", base
    window = 0.0
    for i in range(runs()):
        name = f"killed-{i}-{uuid.uuid4().hex[:4]}"
        mapping = {ns: f"{ns}-r{i}" for ns in source.namespaces}
        started = time.monotonic()
        workload.create(
            kube, RESTORE, op_namespace, name, {"backupName": "base", "namespaceMapping": mapping}
        )
        ledger.attempted += 1
        if i == 0:  # the first runs whole: how long one takes sets the window for the kills
            obj = workload.wait_terminal(kube, RESTORE, op_namespace, name, timeout=TIMEOUT)
            window = (time.monotonic() - started) * 1.2
        else:
            _kill_within(operator, ledger, (kube, RESTORE, op_namespace, name), rng, window)
            obj = workload.wait_terminal(kube, RESTORE, op_namespace, name, timeout=TIMEOUT)
        workload.judge_restore(ledger, cluster, store, obj, source, mapping)
        workload.delete_namespaces(kube, mapping.values())
    ledger.assert_nothing_lost()
