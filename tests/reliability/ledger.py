"""The fault suite's ledger: one row per scenario (see conftest.py for what each column
counts), N and the seed from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


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
