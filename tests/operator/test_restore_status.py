"""What a finished Restore's status says about its items: pure functions, no cluster."""

from __future__ import annotations

import datetime as dt

from ark.api.restore import RestorePhase
from ark.operator import restores
from ark.report import Issues
from ark.restore import ItemOutcome, Outcomes, RestoreProgress, RestoreResult


def _result(outcomes: list[ItemOutcome], issues: Issues) -> RestoreResult:
    at = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    return RestoreResult(
        name="r1",
        backup_name="b1",
        phase=RestorePhase.PARTIALLY_FAILED,
        started=at,
        completed=at,
        progress=RestoreProgress(),
        issues=issues,
        outcomes=Outcomes(outcomes),
    )


def test_results_name_failed_items_items_with_a_message_and_errors_on_the_others() -> None:
    issues = Issues()
    issues.error("cannot restore: forbidden", resource="secrets", namespace="copy", name="db")
    issues.error("restored, but different", resource="configmaps", namespace="copy", name="cm")
    result = _result(
        [
            ItemOutcome("configmaps", "shop", "quiet", "copy", "created"),
            ItemOutcome("configmaps", "shop", "cm", "copy", "updated"),
            ItemOutcome("secrets", "shop", "db", "copy", "failed", "forbidden"),
            ItemOutcome("pods", "shop", "web-1", None, "skipped", "owned by a controller"),
        ],
        issues,
    )

    results = restores.final_status(result)["results"]

    assert results == [
        {
            "resource": "secrets",
            "namespace": "shop",
            "name": "db",
            "outcome": "failed",
            "message": "forbidden",
        },
        {
            "resource": "pods",
            "namespace": "shop",
            "name": "web-1",
            "outcome": "warning",
            "message": "owned by a controller",
        },
        # The failed secret's error is its failure above; the configmap's is news.
        {
            "resource": "configmaps",
            "namespace": "copy",
            "name": "cm",
            "outcome": "error",
            "message": "restored, but different",
        },
    ]


def test_results_stop_at_their_limit_in_the_order_found() -> None:
    issues = Issues()
    issues.error("restored, but different", resource="configmaps", namespace="copy", name="x")
    failed = [
        ItemOutcome("configmaps", "shop", f"cm-{i:04}", "copy", "failed", "refused")
        for i in range(restores.MAX_RESULTS + 50)
    ]

    results = restores.final_status(_result(failed, issues))["results"]

    assert [r["name"] for r in results] == [o.name for o in failed[: restores.MAX_RESULTS]]


def test_a_restore_without_noteworthy_items_has_no_results() -> None:
    quiet = [ItemOutcome("configmaps", "shop", "cm", "shop", "created")]

    assert restores.final_status(_result(quiet, Issues()))["results"] is None
