"""The fault suite's ledger and its table.

Each scenario counts, in one row: faults injected, operations attempted, completed, failed
loudly (a Failed or PartiallyFailed phase whose results name what went wrong), objects lost
(in the source, missing or different in a result that says it is whole), orphaned (objects
left in the bucket by backups that were deleted, unfinished multipart uploads) and hung
(neither finished nor failed in time). Lost, orphaned and hung must be 0. The table is printed
at the end of the session and written as JSON to ``$ARK_RELIABILITY_REPORT`` when set.

``$ARK_RELIABILITY_RUNS`` sets N (10 by default: the short run ``make test`` does;
``hack/reliability`` runs 100), ``$ARK_RELIABILITY_SEED`` the random seed.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import pytest

from ark.kube import KubeClient
from tests.conftest import Cluster
from tests.operator.conftest import default_bsl, op_namespace, operator, store  # noqa: F401
from tests.reliability import workload
from tests.reliability.ledger import LEDGER, runs, seed, table
from tests.reliability.workload import Source


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> random.Random:
    """One generator per test, from the suite's seed and the test's name: reproducible."""
    return random.Random(f"{seed()}:{request.node.name}")  # noqa: S311 - faults, not keys


@pytest.fixture(autouse=True)
def _report() -> Iterator[None]:
    """The rows so far, after each test: a long run stopped part-way keeps what it measured."""
    yield
    if path := os.environ.get("ARK_RELIABILITY_REPORT"):
        with Path(path).open("w", encoding="utf-8") as out:
            json.dump([asdict(r) for r in LEDGER.values()], out, indent=1)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not LEDGER:
        return
    terminalreporter.section(f"fault suite (N={runs()}, seed {seed()})")
    terminalreporter.write_line(table())
    for r in LEDGER.values():
        for line in r.notes:
            terminalreporter.write_line(f"  {r.scenario}: {line}")


@pytest.fixture
def source(kube: KubeClient, cluster: Cluster) -> Iterator[Source]:
    """Two namespaces of 300 ConfigMaps, 30 Secrets and some RBAC, a Service: what the
    scenarios back up and restore."""
    made = workload.make_source(kube, cluster, namespaces=2, objects=300)
    yield made
    workload.delete_namespaces(kube, made.namespaces)
