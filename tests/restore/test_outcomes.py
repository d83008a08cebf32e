"""A restore's per-item outcomes live in a temporary file, not in memory: what goes in comes
back out, in order, as often as asked, and the file leaves nothing behind. No cluster."""

from __future__ import annotations

import datetime as dt
import gc
from pathlib import Path

import pytest

from ark.api.restore import RestorePhase
from ark.report import Issues
from ark.restore import ItemOutcome, Outcomes, RestoreProgress, RestoreResult

CLUSTER_SCOPED = ItemOutcome("persistentvolumes", None, "pv-1", None, "created")
SAME_NAMESPACE = ItemOutcome("configmaps", "shop", "settings", "shop", "updated")
MAPPED = ItemOutcome(
    "deployments.apps",
    "shop",
    "web",
    "shop-copy",
    "recreated",
    "deleted and created again (its selector changed)",
    ("- spec.replicas: 2", "+ spec.replicas: 3"),
    (0, 2),
)
SKIPPED = ItemOutcome("pods", "shop", "web-1", None, "skipped", "owned by a controller")
FAILED = ItemOutcome("secrets", "shop", "db", "shop", "failed", "forbidden")
EVERY_KIND = [CLUSTER_SCOPED, SAME_NAMESPACE, MAPPED, SKIPPED, FAILED]
FDS = Path("/proc/self/fd")


@pytest.mark.parametrize("outcome", EVERY_KIND, ids=lambda o: f"{o.resource}-{o.outcome}")
def test_from_json_gives_back_what_to_json_was_given(outcome: ItemOutcome) -> None:
    assert ItemOutcome.from_json(outcome.to_json()) == outcome


def test_to_json_leaves_out_what_goes_without_saying() -> None:
    assert CLUSTER_SCOPED.to_json() == {
        "resource": "persistentvolumes",
        "name": "pv-1",
        "outcome": "created",
    }
    assert SAME_NAMESPACE.to_json() == {
        "resource": "configmaps",
        "name": "settings",
        "outcome": "updated",
        "namespace": "shop",
    }
    assert MAPPED.to_json()["targetNamespace"] == "shop-copy"
    assert MAPPED.to_json()["modifiedBy"] == [0, 2]
    # Skipped: written nowhere, which is not the same as into its own namespace.
    assert SKIPPED.to_json()["targetNamespace"] is None


def test_outcomes_come_back_in_order_every_time(tmp_path: Path) -> None:
    outcomes = Outcomes(spool_dir=tmp_path)
    for outcome in EVERY_KIND:
        outcomes.append(outcome)

    assert list(outcomes) == EVERY_KIND
    assert list(outcomes) == EVERY_KIND
    assert list(outcomes.json()) == [o.to_json() for o in EVERY_KIND]
    assert len(outcomes) == len(EVERY_KIND)
    outcomes.close()


def test_iterations_at_once_each_keep_their_place(tmp_path: Path) -> None:
    outcomes = Outcomes(EVERY_KIND, spool_dir=tmp_path)

    pairs = [(a.name, b.name) for a in outcomes for b in outcomes]

    assert pairs == [(a.name, b.name) for a in EVERY_KIND for b in EVERY_KIND]
    outcomes.close()


def test_many_outcomes_span_reads_and_come_back_whole(tmp_path: Path) -> None:
    made = [
        ItemOutcome("configmaps", "bench", f"cm-{i:07}", "bench-copy", "created")
        for i in range(20_000)
    ]
    outcomes = Outcomes(made, spool_dir=tmp_path)

    assert list(outcomes) == made
    assert outcomes.counts == {"created": 20_000}
    outcomes.close()


def test_counts_are_kept_as_outcomes_are_appended() -> None:
    outcomes = Outcomes([SAME_NAMESPACE, FAILED, SKIPPED, FAILED, MAPPED])

    assert outcomes.counts == {"updated": 1, "failed": 2, "skipped": 1, "recreated": 1}
    assert len(outcomes) == 5
    outcomes.close()
    assert outcomes.counts == {"updated": 1, "failed": 2, "skipped": 1, "recreated": 1}


def test_a_result_counts_its_outcomes_and_starts_with_none() -> None:
    empty = _result()
    assert list(empty.outcomes) == []
    assert len(empty.outcomes) == 0
    assert empty.counts == {}

    result = _result(Outcomes([SAME_NAMESPACE, FAILED, FAILED]))
    assert result.counts == {"updated": 1, "failed": 2}


def test_the_file_leaves_nothing_in_its_directory(tmp_path: Path) -> None:
    outcomes = Outcomes(EVERY_KIND, spool_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []  # unlinked from the start

    outcomes.close()

    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="closed"):
        list(outcomes)
    with pytest.raises(ValueError, match="closed"):
        outcomes.append(FAILED)


@pytest.mark.skipif(not FDS.is_dir(), reason=f"needs {FDS}")
def test_outcomes_nobody_closed_close_their_file_when_dropped(tmp_path: Path) -> None:
    before = _open_files()
    outcomes = Outcomes(EVERY_KIND, spool_dir=tmp_path)
    assert len(_open_files()) == len(before) + 1

    del outcomes
    gc.collect()

    assert _open_files() == before


def _open_files() -> set[str]:
    """This process's open file descriptors (listing them opens one, the same each time)."""
    return {p.name for p in FDS.iterdir()}


def _result(outcomes: Outcomes | None = None) -> RestoreResult:
    at = dt.datetime.now(dt.UTC)
    result = RestoreResult(
        name="r1",
        backup_name="b1",
        phase=RestorePhase.COMPLETED,
        started=at,
        completed=at,
        progress=RestoreProgress(),
        issues=Issues(),
    )
    if outcomes is not None:
        result.outcomes = outcomes
    return result
