"""Prometheus metrics of the operator, served on ``--metrics-port`` at ``/metrics``.

Backups carry a ``schedule`` label (empty for backups no schedule made).
"""

from __future__ import annotations

import datetime as dt

from prometheus_client import Counter, Gauge, Histogram, start_http_server

_DURATIONS = (1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400)

BACKUP_ATTEMPTS = Counter("ark_backup_attempt_total", "Backups started.", ["schedule"])
BACKUP_SUCCESS = Counter("ark_backup_success_total", "Backups Completed.", ["schedule"])
BACKUP_PARTIAL = Counter(
    "ark_backup_partial_failure_total", "Backups PartiallyFailed.", ["schedule"]
)
BACKUP_FAILURE = Counter("ark_backup_failure_total", "Backups Failed.", ["schedule"])
BACKUP_VALIDATION_FAILURE = Counter(
    "ark_backup_validation_failure_total", "Backups refused (FailedValidation).", ["schedule"]
)
BACKUP_DURATION = Histogram(
    "ark_backup_duration_seconds", "Time a backup ran.", ["schedule"], buckets=_DURATIONS
)
BACKUP_ITEMS = Gauge("ark_backup_items_total", "Items in the last finished backup.", ["schedule"])
BACKUP_LAST_SUCCESS = Gauge(
    "ark_backup_last_successful_timestamp",
    "Unix time of the last Completed backup.",
    ["schedule"],
)
BACKUP_VERIFICATION = Counter(
    "ark_backup_verification_total",
    "Backups verified after they finished (Schedule spec.verify), by result: Verified or the "
    "first problem's reason (ChecksumMismatch, ManifestAltered, ...).",
    ["schedule", "result"],
)
BACKUP_VERIFICATION_DURATION = Histogram(
    "ark_backup_verification_duration_seconds",
    "Time a verification took.",
    ["schedule"],
    buckets=_DURATIONS,
)
BACKUP_LAST_VERIFIED = Gauge(
    "ark_backup_last_verified_timestamp",
    "Unix time of the last backup that passed verification.",
    ["schedule"],
)
BACKUP_DELETION_SUCCESS = Counter("ark_backup_deletion_success_total", "Backups deleted.")
BACKUP_DELETION_FAILURE = Counter(
    "ark_backup_deletion_failure_total", "Backup deletions that failed (and are retried)."
)
RESTORE_ATTEMPTS = Counter("ark_restore_attempt_total", "Restores started.")
RESTORE_SUCCESS = Counter("ark_restore_success_total", "Restores Completed.")
RESTORE_PARTIAL = Counter("ark_restore_partial_failure_total", "Restores PartiallyFailed.")
RESTORE_FAILURE = Counter("ark_restore_failure_total", "Restores Failed.")
RESTORE_VALIDATION_FAILURE = Counter(
    "ark_restore_validation_failure_total", "Restores refused (FailedValidation)."
)
RESTORE_DURATION = Histogram(
    "ark_restore_duration_seconds", "Time a restore ran.", buckets=_DURATIONS
)
RESTORE_ITEMS = Gauge("ark_restore_items_total", "Items in the last finished restore.")
SCHEDULE_RECOVERY_POINT_AGE = Gauge(
    "ark_schedule_recovery_point_age_seconds",
    "Seconds since the newest instant a point-in-time restore reaches (the end of the change "
    "log's newest stored segment): the data a restore now would lose.",
    ["schedule"],
)
SCHEDULE_RECOVERY_SPAN = Gauge(
    "ark_schedule_recovery_span_seconds",
    "Seconds from the change log's oldest stored segment to its newest stored instant (gaps "
    "within it are not reachable).",
    ["schedule"],
)


def changelog_reach(
    schedule: str, *, stored_through: dt.datetime | None, since: dt.datetime | None
) -> None:
    """The schedule's change log reaches from ``since`` to ``stored_through``; its age is
    computed when scraped."""
    if stored_through is None:
        return

    def age() -> float:
        return (dt.datetime.now(dt.UTC) - stored_through).total_seconds()

    SCHEDULE_RECOVERY_POINT_AGE.labels(schedule).set_function(age)
    if since is not None:
        SCHEDULE_RECOVERY_SPAN.labels(schedule).set((stored_through - since).total_seconds())


def changelog_forget(schedule: str) -> None:
    """The schedule's change log is no longer recorded: its series go."""
    for gauge in (SCHEDULE_RECOVERY_POINT_AGE, SCHEDULE_RECOVERY_SPAN):
        try:
            gauge.remove(schedule)
        except KeyError:
            continue


def backup_finished(
    *, schedule: str, phase: str, seconds: float, items: int, completed: dt.datetime
) -> None:
    {
        "Completed": BACKUP_SUCCESS,
        "PartiallyFailed": BACKUP_PARTIAL,
    }.get(phase, BACKUP_FAILURE).labels(schedule).inc()
    BACKUP_DURATION.labels(schedule).observe(seconds)
    BACKUP_ITEMS.labels(schedule).set(items)
    if phase == "Completed":
        BACKUP_LAST_SUCCESS.labels(schedule).set(completed.timestamp())


def schedule_seen(*, schedule: str, last_success: dt.datetime | None) -> None:
    """A schedule's newest Completed backup as its status records it: the gauge survives an
    operator restart (else it would be missing until the next success, and an alert on its
    age could not fire when it matters)."""
    if last_success is not None:
        BACKUP_LAST_SUCCESS.labels(schedule).set(last_success.timestamp())


def backup_verified(*, schedule: str, result: str, seconds: float, when: dt.datetime) -> None:
    BACKUP_VERIFICATION.labels(schedule, result).inc()
    BACKUP_VERIFICATION_DURATION.labels(schedule).observe(seconds)
    if result == "Verified":
        BACKUP_LAST_VERIFIED.labels(schedule).set(when.timestamp())


SCHEDULE_RESTORE_TEST_SUCCESS = Gauge(
    "ark_schedule_restore_test_success",
    "1 when the schedule's newest restore test passed, 0 when it failed.",
    ["schedule"],
)
SCHEDULE_RESTORE_TEST_DURATION = Gauge(
    "ark_schedule_restore_test_duration_seconds",
    "How long the schedule's newest judged restore test took (its recovery time).",
    ["schedule"],
)
SCHEDULE_RESTORE_TEST_FAILURES = Counter(
    "ark_schedule_restore_test_failure_total", "Restore tests that failed.", ["schedule"]
)


SCHEDULE_RESTORE_TEST_LEFT_BEHIND = Gauge(
    "ark_schedule_restore_test_left_behind",
    "What the schedule's newest restore test made and could not delete yet (scratch "
    "namespaces, PersistentVolumes, cloud volumes): 0 once all is deleted.",
    ["schedule"],
)
SCHEDULE_RESTORE_TEST_CLEANUP_FAILURES = Counter(
    "ark_schedule_restore_test_cleanup_failure_total",
    "Attempts at deleting what a restore test made that left something behind.",
    ["schedule"],
)


def restore_test_cleanup(*, schedule: str, left: int) -> None:
    SCHEDULE_RESTORE_TEST_LEFT_BEHIND.labels(schedule).set(left)
    if left:
        SCHEDULE_RESTORE_TEST_CLEANUP_FAILURES.labels(schedule).inc()


def restore_tested(*, schedule: str, passed: bool, seconds: float | None) -> None:
    SCHEDULE_RESTORE_TEST_SUCCESS.labels(schedule).set(1 if passed else 0)
    if seconds is not None:
        SCHEDULE_RESTORE_TEST_DURATION.labels(schedule).set(seconds)
    if not passed:
        SCHEDULE_RESTORE_TEST_FAILURES.labels(schedule).inc()


def restore_finished(*, phase: str, seconds: float, items: int) -> None:
    {"Completed": RESTORE_SUCCESS, "PartiallyFailed": RESTORE_PARTIAL}.get(
        phase, RESTORE_FAILURE
    ).inc()
    RESTORE_DURATION.observe(seconds)
    RESTORE_ITEMS.set(items)


def serve(*, address: str, port: int) -> None:
    """Start the /metrics server in a daemon thread (port 0: no server)."""
    if port:
        start_http_server(port, addr=address)
