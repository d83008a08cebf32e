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
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest

from tests.operator.conftest import default_bsl, op_namespace, operator, store  # noqa: F401


@dataclass
class Row:
    scenario: str
    faults: int = 0
    mid_run: int = 0
    """Faults that struck while an operation was InProgress (the rest before or after)."""
    attempted: int = 0
    completed: int = 0
    failed_loudly: int = 0
    lost: int = 0
    orphaned: int = 0
    hung: int = 0
    notes: list[str] = field(default_factory=list)

    def note(self, line: str) -> None:
        if len(self.notes) < 20:
            self.notes.append(line)

    def assert_nothing_lost(self) -> None:
        assert (self.lost, self.orphaned, self.hung) == (0, 0, 0), self.notes
        assert self.completed + self.failed_loudly == self.attempted, self.notes


LEDGER: dict[str, Row] = {}


def runs() -> int:
    return int(os.environ.get("ARK_RELIABILITY_RUNS", "10"))


def seed() -> int:
    return int(os.environ.get("ARK_RELIABILITY_SEED", "20261204"))


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> random.Random:
    """One generator per test, from the suite's seed and the test's name: reproducible."""
    return random.Random(f"{seed()}:{request.node.name}")  # noqa: S311 - faults, not keys


def row(scenario: str) -> Row:
    return LEDGER.setdefault(scenario, Row(scenario))


def table() -> str:
    head = ("scenario", "faults", "attempted", "completed", "failed loudly", "lost", "orphaned",
            "hung")  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in LEDGER.values():
        faults = f"{r.faults} ({r.mid_run} mid-run)" if r.mid_run else str(r.faults)
        cells = (r.scenario, faults, r.attempted, r.completed, r.failed_loudly, r.lost,
                 r.orphaned, r.hung)  # fmt: skip
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


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
