"""The dashboard's pages as pure functions: values from the cluster are escaped wherever they
land, empty lists say so, a run that has not finished reloads, and the server binds loopback
addresses only."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from ark.cli.context import BadFlag
from ark.cli.dashboard import health, markup, pages, results, server

NOW = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)
HOSTILE = '<script>alert("x")</script>'
FRAME = markup.Frame(server="https://127.0.0.1:6443", namespace="ark-system")


def _backup(name: str = "b1", **status: Any) -> dict[str, Any]:
    return {
        "kind": "Backup",
        "metadata": {"name": name, "labels": {"team": HOSTILE}},
        "spec": {"includedNamespaces": [HOSTILE], "storageLocation": HOSTILE},
        "status": {
            "phase": "Completed",
            "startTimestamp": "2026-12-04T11:55:00Z",
            "completionTimestamp": "2026-12-04T11:56:00Z",
            "progress": {"totalItems": 7, "itemsBackedUp": 7},
            "failureReason": HOSTILE,
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "Completed", "message": HOSTILE},
                {"type": "Verified", "status": "False", "reason": "ManifestAltered"},
            ],
            **status,
        },
    }


def _html(page: markup.Page) -> str:
    return markup.layout(page, FRAME)


def _assert_escaped(text: str) -> None:
    assert "<script>" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text


def test_hostile_values_are_escaped_in_the_backup_list_and_page() -> None:
    listed = _html(pages.backups([_backup(HOSTILE)], now=NOW))
    page = _html(pages.backup(_backup(HOSTILE), restores=[], csrf="token", now=NOW))

    _assert_escaped(listed)
    _assert_escaped(page)
    # a name in a link is percent-encoded in the path, escaped in the text
    assert 'href="/backups/%3Cscript%3Ealert%28%22x%22%29%3C%2Fscript%3E"' in listed


def test_hostile_values_are_escaped_in_a_restores_results_and_in_the_frame() -> None:
    restore = {
        "metadata": {"name": "r1"},
        "spec": {"backupName": "b1", "namespaceMapping": {"a": HOSTILE}},
        "status": {"phase": "PartiallyFailed", "errors": 1},
    }
    document = {
        "summary": {"counts": {HOSTILE: 1}},
        "outcomes": [
            {
                "resource": "configmaps",
                "namespace": "a",
                "targetNamespace": HOSTILE,
                "name": "cm",
                "outcome": "failed",
                "message": HOSTILE,
                "diff": [f"data.x: {HOSTILE} -> 1"],
            }
        ],
        "items": {"warnings": [{"resource": "pods", "name": "p", "message": HOSTILE}]},
    }
    page = results.restore(restore, results=results.Results(document=document), now=NOW)
    text = markup.layout(page, markup.Frame(server=HOSTILE, namespace=HOSTILE, context=HOSTILE))

    _assert_escaped(text)
    assert text.count("&lt;script&gt;") >= 8


def test_empty_lists_say_there_is_nothing() -> None:
    assert "No backups in this namespace." in pages.backups([], now=NOW).body
    assert "No restores." in pages.restores([], now=NOW).body
    assert "No schedules in this namespace." in health.schedules([], now=NOW).body
    located = health.locations([], [], now=NOW).body
    assert "No backup storage locations." in located
    assert "No volume snapshot locations." in located


def test_a_failed_verification_shows_its_reason() -> None:
    cell = pages.verification(_backup())

    assert "ManifestAltered" in cell and "badge bad" in cell
    assert pages.verification({"metadata": {"name": "x"}, "status": {}}) == ""


def test_a_restore_reloads_until_it_finishes_and_then_shows_its_results() -> None:
    running = {"metadata": {"name": "r"}, "spec": {"dryRun": True}, "status": {"phase": "New"}}
    done = {**running, "status": {"phase": "Completed"}}
    plan = {"outcomes": [{"resource": "configmaps", "name": "cm", "outcome": "would-create"}]}

    waiting = results.restore(running, results=None, now=NOW)
    finished = results.restore(done, results=results.Results(document=plan), now=NOW)

    assert waiting.refresh == pages.REFRESH_SECONDS
    assert '<meta http-equiv="refresh" content="2">' in markup.layout(waiting, FRAME)
    assert waiting.title.startswith("Dry-run restore")
    assert finished.refresh is None
    assert (
        "would-create" in finished.body and "Plan (dry run: nothing was written)" in finished.body
    )


def test_without_the_bucket_a_restore_shows_the_items_its_status_keeps() -> None:
    restore = {
        "metadata": {"name": "r"},
        "spec": {"backupName": "b"},
        "status": {
            "phase": "PartiallyFailed",
            "results": [{"resource": "services", "name": "web", "outcome": "failed"}],
        },
    }
    unreadable = results.Results(unreadable="cannot read credential Secret")

    body = results.restore(restore, results=unreadable, now=NOW).body

    assert "cannot read credential Secret" in body
    assert "web" in body and "failed" in body


def test_the_recovery_point_is_the_change_logs_end_else_the_last_success() -> None:
    assert health.recovery_point({"lastSuccessfulBackup": "2026-12-04T03:00:00Z"}) == (
        "2026-12-04T03:00:00Z"
    )
    assert (
        health.recovery_point(
            {
                "lastSuccessfulBackup": "2026-12-04T03:00:00Z",
                "changeLog": {"storedThrough": "2026-12-04T11:59:50Z"},
            }
        )
        == "2026-12-04T11:59:50Z"
    )


def test_conditions_that_are_bad_when_true_are_green_when_false() -> None:
    assert "good" in markup.condition_status({"type": "Stalled", "status": "False"})
    assert "bad" in markup.condition_status({"type": "Stalled", "status": "True"})
    assert "bad" in markup.condition_status({"type": "Ready", "status": "False"})


def test_times_say_how_long_ago_or_until() -> None:
    assert "(5m ago)" in markup.when("2026-12-04T11:55:00Z", now=NOW)
    assert "(in 2h)" in markup.when("2026-12-04T14:00:00Z", now=NOW)
    assert markup.when(None, now=NOW) == ""


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_addresses_are_accepted(address: str) -> None:
    assert server.loopback(address) in {"127.0.0.1", "127.0.0.2", "::1"}


@pytest.mark.parametrize("address", ["0.0.0.0", "192.168.1.10", "::", "example.com"])  # noqa: S104
def test_other_addresses_are_refused(address: str) -> None:
    with pytest.raises(BadFlag, match="--address"):
        server.loopback(address)
