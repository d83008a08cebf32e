"""Point-in-time restore through the operator and the CLI: a Schedule with ``changeLog`` on
has its changes recorded by the operator; ``ark restore create --from-schedule S --at T``
brings a namespace back exactly as it was dumped at T; the operator killed (SIGKILL) and
started again resumes the log with no gap; an instant the log does not reach is refused with
the library's reason in the Restore's status, nothing created."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from ark import control
from ark.kube import KubeClient
from ark.persistence import BackupStore, ChangeLog
from ark.storage import ObjectStore
from tests.cli.conftest import Ark
from tests.conftest import Cluster, NamespaceFactory
from tests.operator.harness import Operator, status, wait_for, wait_phase
from tests.support import compare

SCHEDULE, RESTORE = control.SCHEDULE, control.RESTORE
FAR_CRON = "0 0 1 1 *"  # no tick during the test: the backup is made by hand
_CLOCK_SLACK = dt.timedelta(seconds=1.2)  # the status's times have whole seconds


def _cm(kube: KubeClient, namespace: str, name: str, data: dict[str, str]) -> None:
    kube.request(
        "POST",
        f"/api/v1/namespaces/{namespace}/configmaps",
        body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data},
    )


def _patch_cm(kube: KubeClient, namespace: str, name: str, data: dict[str, str]) -> None:
    kube.request(
        "PATCH",
        f"/api/v1/namespaces/{namespace}/configmaps/{name}",
        body={"data": data},
        content_type="application/merge-patch+json",
    )


def _delete_cm(kube: KubeClient, namespace: str, name: str) -> None:
    kube.request("DELETE", f"/api/v1/namespaces/{namespace}/configmaps/{name}")


def _instant(cluster: Cluster, namespace: str) -> tuple[dt.datetime, dict[str, Any]]:
    """An instant between two writes (the watcher saw the last one well before it) and the
    namespace as it stood then."""
    time.sleep(1.0)
    at = dt.datetime.now(dt.UTC)
    dump = compare.restorable(compare.snapshot_namespace(cluster, namespace))
    time.sleep(1.0)
    return at, dump


def _log_status(kube: KubeClient, namespace: str, schedule: str) -> dict[str, Any]:
    return status(kube, SCHEDULE, namespace, schedule).get("changeLog") or {}


def _stored_past(kube: KubeClient, namespace: str, schedule: str, at: dt.datetime) -> None:
    """Wait until the Schedule's status says the log is stored past ``at``."""

    def past() -> bool:
        through = control.parse_time(_log_status(kube, namespace, schedule).get("storedThrough"))
        return through is not None and through > at + dt.timedelta(seconds=1)

    wait_for(past, timeout=60, what=f"schedule {schedule}'s change log stored past {at}")


def _schedule(kube: KubeClient, namespace: str, name: str, source: str, **spec: Any) -> None:
    body = {
        "schedule": FAR_CRON,
        "template": {"includedNamespaces": [source]},
        "changeLog": {"enabled": True, "flushSeconds": 1},
        **spec,
    }
    control.create(kube, SCHEDULE, namespace, {"metadata": {"name": name}, "spec": body})


def _restore_at(ark: Ark, schedule: str, at: dt.datetime, source: str, target: str) -> str:
    name = f"pitr-{uuid.uuid4().hex[:8]}"
    ark.ok(
        "restore", "create", name, "--from-schedule", schedule,
        "--at", at.isoformat().replace("+00:00", "Z"),
        "--namespace-mappings", f"{source}:{target}",
    )  # fmt: skip
    return name


@dataclass(frozen=True)
class _Pitr:
    ark: Ark
    source: str
    """The namespace the schedule backs up and logs."""
    schedule: str


@pytest.fixture
def pitr(
    cluster: Cluster, op_namespace: str, default_bsl: str, make_namespace: NamespaceFactory
) -> _Pitr:
    """The CLI on the operator's namespace (its default location Available), a source
    namespace and a schedule name."""
    return _Pitr(
        Ark(kubeconfig=cluster.kubeconfig, namespace=op_namespace),
        make_namespace("pitr-src"),
        f"pitr-{uuid.uuid4().hex[:6]}",
    )


def test_restores_instants_across_an_operator_kill_exactly(
    cluster: Cluster,
    kube: KubeClient,
    op_namespace: str,
    operator: Operator,
    pitr: _Pitr,
    make_namespace: NamespaceFactory,
) -> None:
    ark, source, schedule = pitr.ark, pitr.source, pitr.schedule
    _cm(kube, source, "settings", {"mode": "blue"})
    _cm(kube, source, "doomed", {"x": "1"})
    _schedule(kube, op_namespace, schedule, source)
    wait_for(
        lambda: _log_status(kube, op_namespace, schedule).get("storedThrough"),
        timeout=60,
        what="the change log's first segment",
    )
    ark.ok("backup", "create", "--from-schedule", schedule, "--wait")

    _patch_cm(kube, source, "settings", {"mode": "green"})
    _delete_cm(kube, source, "doomed")
    _cm(kube, source, "added", {"y": "2"})
    first, first_dump = _instant(cluster, source)
    _stored_past(kube, op_namespace, schedule, first)

    # Killed: nothing stored at exit. Changes made while it is down are recorded when its
    # watches resume from the stored checkpoints (stamped then): the time no watcher ran is
    # a gap (an instant in it is refused), and an instant after the catch-up sees them all.
    operator.kill()
    _patch_cm(kube, source, "settings", {"mode": "red"})
    _delete_cm(kube, source, "added")
    _cm(kube, source, "while-down", {"z": "3"})
    down = dt.datetime.now(dt.UTC)
    time.sleep(0.5)
    operator.start()
    wait_for(
        lambda: _log_status(kube, op_namespace, schedule).get("gaps"),
        timeout=90,
        what="the restarted watcher caught up (the time none ran is a gap)",
    )
    _cm(kube, source, "after", {"w": "4"})
    second, second_dump = _instant(cluster, source)
    _stored_past(kube, op_namespace, schedule, second)

    log_status = _log_status(kube, op_namespace, schedule)
    assert log_status["watching"] is True
    (gap,) = log_status["gaps"]
    assert gap["resource"] == "*" and "no watcher ran" in gap["reason"], gap
    start, end = control.parse_time(gap["start"]), control.parse_time(gap["end"])
    assert start is not None and end is not None and start <= down < end <= second, gap
    inside = _restore_at(ark, schedule, down, source, f"pitr-never-{uuid.uuid4().hex[:6]}")
    refused = wait_phase(kube, RESTORE, op_namespace, inside, {"FailedValidation"})
    assert any("inside a gap" in e for e in refused["status"]["validationErrors"]), refused
    assert first_dump.keys() != second_dump.keys()
    for at, dump in ((first, first_dump), (second, second_dump)):
        target = make_namespace("pitr-to")
        name = _restore_at(ark, schedule, at, source, target)
        done = wait_phase(
            kube, RESTORE, op_namespace, name, {"Completed", "PartiallyFailed", "Failed",
                                                "FailedValidation"}, timeout=120
        )  # fmt: skip
        assert done["status"]["phase"] == "Completed", done["status"]
        after = compare.restorable(compare.snapshot_namespace(cluster, target))
        assert sorted(after) == sorted(dump), f"objects at {at}"
        assert compare.differences(dump, after, namespace_map={source: target}) == {}

    described = ark.ok("schedule", "describe", schedule).out
    assert "Recovery point" in described and "Restorable" in described
    assert f'ark_schedule_recovery_point_age_seconds{{schedule="{schedule}"}}' in (
        operator.metrics()
    )


def test_the_recovery_point_is_pushed_as_each_segment_is_stored(
    kube: KubeClient, op_namespace: str, operator: Operator, pitr: _Pitr
) -> None:
    """The Schedule's status and the recovery-point metric follow the stored log, not the
    schedule's looks: with an hour between looks, a change shows within flushSeconds + 2 s."""
    operator.stop()
    operator.extra = {**operator.extra, "--schedule-interval": "3600"}
    operator.start()  # one look when the Schedule appears (the watcher starts), then none
    _schedule(kube, op_namespace, pitr.schedule, pitr.source)
    wait_for(
        lambda: _log_status(kube, op_namespace, pitr.schedule).get("storedThrough"),
        timeout=60,
        what="the change log's first segment",
    )
    for round_ in range(3):
        time.sleep(2 * _CLOCK_SLACK.total_seconds())  # the last round's change is older
        _cm(kube, pitr.source, f"change-{round_}", {"n": str(round_)})
        changed = dt.datetime.now(dt.UTC)

        def shown(changed: dt.datetime = changed) -> bool:
            now = _log_status(kube, op_namespace, pitr.schedule)
            through = control.parse_time(now.get("storedThrough"))
            newest = control.parse_time(now.get("newestChange"))
            return bool(through and newest and through >= newest >= changed - _CLOCK_SLACK)

        # flushSeconds (1) + 2 s, and a second for the status patch and this poll
        wait_for(shown, timeout=1 + 2 + 1, what=f"change {round_} shown as stored")
    [age] = [
        float(line.rsplit(" ", 1)[1])
        for line in operator.metrics().splitlines()
        if line.startswith(f'ark_schedule_recovery_point_age_seconds{{schedule="{pitr.schedule}"}}')
    ]
    assert 0 <= age < 5, age


def test_an_instant_the_log_does_not_reach_is_refused_naming_why(
    kube: KubeClient, op_namespace: str, pitr: _Pitr
) -> None:
    ark, source, schedule = pitr.ark, pitr.source, pitr.schedule
    _cm(kube, source, "settings", {"mode": "blue"})
    _schedule(kube, op_namespace, schedule, source)
    ark.ok("backup", "create", "--from-schedule", schedule, "--wait")
    target = f"pitr-never-{uuid.uuid4().hex[:6]}"
    cases = {
        dt.datetime.now(dt.UTC) + dt.timedelta(hours=1): "after the newest change stored",
        dt.datetime.now(dt.UTC) - dt.timedelta(days=1): "has no Completed backup finished by",
    }
    for at, reason in cases.items():
        name = _restore_at(ark, schedule, at, source, target)
        refused = wait_phase(kube, RESTORE, op_namespace, name, {"FailedValidation"})
        errors = refused["status"]["validationErrors"]
        assert any(reason in e for e in errors), errors
    namespaces = {n["metadata"]["name"] for n in kube.get("/api/v1/namespaces")["items"]}
    assert target not in namespaces

    # Without a schedule the CLI refuses before anything is created.
    refused_cli = ark("restore", "create", "--from-backup", "x", "--at", "2026-12-03T10:42:00Z")
    assert refused_cli.code == 2 and "--at" in refused_cli.err


def test_retention_deletes_the_log_no_kept_backup_needs(
    kube: KubeClient,
    op_namespace: str,
    pitr: _Pitr,
    store: ObjectStore,
) -> None:
    ark, source, schedule = pitr.ark, pitr.source, pitr.schedule
    _schedule(kube, op_namespace, schedule, source, retention={"keepLast": 1})
    ark.ok("backup", "create", "--from-schedule", schedule, "--wait")
    for n in range(3):  # segments between the two backups
        _cm(kube, source, f"cm-{n}", {"n": str(n)})
        time.sleep(1.5)
    log = ChangeLog(BackupStore(store), schedule, cluster=kube.cluster_uid())
    assert len(log.segments()) >= 3
    ark.ok("backup", "create", "--from-schedule", schedule, "--wait")
    kept_start = _newest_start(kube, op_namespace, schedule)

    def trimmed() -> bool:
        names = log.segments()
        # The oldest segment left holds the kept backup's start; none before it is left.
        return names[0].start <= kept_start and all(n.start > kept_start for n in names[1:])

    wait_for(trimmed, timeout=60, what="the segments before the kept backup deleted")
    assert control.parse_time(_log_status(kube, op_namespace, schedule).get("since") or "")


def _newest_start(kube: KubeClient, namespace: str, schedule: str) -> dt.datetime:
    """The start of the schedule's newest backup: with keepLast 1, the one kept."""
    starts = [
        control.parse_time((b.get("status") or {}).get("startTimestamp"))
        for b in control.list_objects(
            kube, control.BACKUP, namespace, label_selector=f"{control.SCHEDULE_LABEL}={schedule}"
        )
    ]
    return max(s for s in starts if s is not None)
