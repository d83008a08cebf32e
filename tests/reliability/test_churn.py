"""Churn: namespaces are created and deleted while backups run. Every object that existed for
the whole backup is in it, and every object in it is one that existed: each accounted for."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ark import control
from ark.kube import KubeClient, KubeError
from ark.storage import ObjectStore
from tests.conftest import Cluster
from tests.operator.harness import Operator
from tests.reliability import workload
from tests.reliability.ledger import row, runs
from tests.reliability.workload import BACKUP, Source
from tests.support.backups import open_backup

TIMEOUT = 300.0
LABEL = "ark.test/churn"


@pytest.fixture
def suite_id() -> str:
    return uuid.uuid4().hex[:6]


@pytest.fixture
def source(kube: KubeClient, cluster: Cluster, suite_id: str) -> Iterator[Source]:
    made = workload.make_source(kube, cluster, namespaces=2, objects=300, labels={LABEL: suite_id})
    yield made
    workload.delete_namespaces(kube, made.namespaces)


class Churner:
    """Creates a labelled namespace of objects and deletes the oldest, again and again."""

    def __init__(self, kube: KubeClient, suite_id: str, ever: set[str]) -> None:
        self.kube, self.suite_id = kube, suite_id
        self.ever = ever
        """``namespace/resource_dir/name`` of every object made (by this churner or one
        before it: their namespaces may still be terminating)."""
        self.live: list[str] = []
        self.made = self.deleted = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Churner:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(60)
        workload.delete_namespaces(self.kube, self.live)

    def _run(self) -> None:
        while not self._stop.is_set():
            name = f"churn-{self.suite_id}-{uuid.uuid4().hex[:6]}"
            # known before they are made: a creation that fails part-way leaves some
            self.ever.update(f"{name}/{k}" for k in workload.keys_of(20))
            self.ever.add(f"{name}/namespaces/{name}")
            self.live.append(name)
            try:
                workload.create_namespace(
                    self.kube, name, objects=20, labels={LABEL: self.suite_id}
                )
            except KubeError as exc:  # a busy API server: the churn goes on
                self.errors.append(f"{name}: {exc}")
            self.made += 1
            if len(self.live) > 2:
                workload.delete_namespaces(self.kube, [self.live.pop(0)])
                self.deleted += 1


def test_backups_while_namespaces_come_and_go_account_for_every_object(
    kube: KubeClient,
    op_namespace: str,
    default_bsl: str,
    operator: Operator,
    store: ObjectStore,
    source: Source,
    suite_id: str,
    tmp_path: Path,
) -> None:
    ledger = row("churn: namespaces created and deleted during backups")
    stable = {
        f"{ns}/{key}"
        for ns, dump in source.dumps.items()
        for key, obj in dump.items()
        if (obj["metadata"].get("labels") or {}).get(LABEL) == suite_id
    }
    assert stable
    spec = {"includedNamespaces": ["*"], "labelSelector": {"matchLabels": {LABEL: suite_id}}}
    ever: set[str] = set()
    for i in range(max(runs() // 5, 2)):
        name = f"churn-{i}-{uuid.uuid4().hex[:4]}"
        with Churner(kube, suite_id, ever) as churner:
            time.sleep(0.5)
            control.create(kube, BACKUP, op_namespace, {"metadata": {"name": name}, "spec": spec})
            ledger.attempted += 1
            obj = workload.wait_terminal(kube, BACKUP, op_namespace, name, timeout=TIMEOUT)
        for error in churner.errors:
            ledger.note(f"churn (not ark's): {error}")
        ledger.faults += churner.made + churner.deleted
        ledger.mid_run += churner.made + churner.deleted
        if obj is None:
            ledger.hung += 1
            continue
        if obj["status"]["phase"] != "Completed":
            ledger.failed_loudly += 1
            ledger.note(f"backup {name}: {obj['status']}")
            continue
        ledger.completed += 1
        (tmp_path / name).mkdir()
        with open_backup(store, name, tmp_path / name) as index:
            held = {
                f"{i.namespace or i.name}/{i.resource_dir}/{i.name}"
                for i in index
                if i.namespace in source.namespaces or (i.namespace or i.name).startswith("churn-")
            }
        missing = {k for k in stable if k not in held and not k.endswith("/namespaces/")}
        phantoms = {k for k in held if k.startswith("churn-") and k not in ever}
        if missing or phantoms:
            ledger.lost += len(missing) + len(phantoms)
            ledger.note(
                f"backup {name}: missing {sorted(missing)[:3]}, unknown {sorted(phantoms)[:3]}"
            )
    ledger.assert_nothing_lost()
