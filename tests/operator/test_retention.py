"""Retention policies, as a pure function of backup times."""

from __future__ import annotations

import datetime as dt

from ark.api.schedule import RetentionPolicy
from ark.operator.retention import Candidate, to_delete, to_keep

T0 = dt.datetime(2026, 3, 2, 0, 0, tzinfo=dt.UTC)  # a Monday


def every(hours: float, count: int) -> list[Candidate]:
    return [Candidate(f"b{i:03d}", T0 + dt.timedelta(hours=hours * i)) for i in range(count)]


def test_no_rule_deletes_nothing() -> None:
    assert to_delete(every(1, 10), RetentionPolicy()) == []


def test_keep_last_keeps_the_newest() -> None:
    doomed = to_delete(every(1, 5), RetentionPolicy(keep_last=2))
    assert doomed == ["b000", "b001", "b002"]


def test_keep_hourly_keeps_the_newest_of_each_hour() -> None:
    backups = every(0.25, 12)  # four per hour, three hours
    assert to_keep(backups, RetentionPolicy(keep_hourly=2)) == {"b011", "b007"}


def test_keep_daily_and_weekly_combine() -> None:
    backups = every(24, 15)  # one a day for 15 days, Mon 2 March .. Mon 16 March
    kept = to_keep(backups, RetentionPolicy(keep_daily=3, keep_weekly=3))
    # Days: the newest three. Weeks: the newest backup of each ISO week (Sun 8, Sun 15, Mon 16).
    assert kept == {"b014", "b013", "b012", "b006"}


def test_keep_monthly() -> None:
    backups = [
        Candidate(f"m{m}", dt.datetime(2026, m, 1 + d, tzinfo=dt.UTC))
        for m in (1, 2, 3)
        for d in (0, 10)
    ]
    assert to_keep(backups, RetentionPolicy(keep_monthly=2)) == {"m3", "m2"}
    assert {c.name for c in backups} - to_keep(backups, RetentionPolicy(keep_monthly=2))


def test_rules_union_and_deletion_order_is_oldest_first() -> None:
    backups = every(1, 6)
    doomed = to_delete(backups, RetentionPolicy(keep_last=1, keep_daily=1))
    assert doomed == ["b000", "b001", "b002", "b003", "b004"]
    assert to_delete(backups[::-1], RetentionPolicy(keep_last=3)) == ["b000", "b001", "b002"]
