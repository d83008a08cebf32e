"""Which of a schedule's successful backups a retention policy deletes: a pure function.

A backup is kept when any rule keeps it. ``keepLast N`` keeps the newest N; ``keepHourly N``
keeps the newest backup of each of the N newest hours that have one (likewise daily, weekly by
ISO week, monthly). With no rule set nothing is deleted (backups then expire by their ttl).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from ark.api.schedule import RetentionPolicy


@dataclass(frozen=True)
class Candidate:
    name: str
    taken: dt.datetime
    """When the backup started (UTC)."""


Bucket = Callable[[dt.datetime], tuple[int, ...]]

_BUCKETS: dict[str, Bucket] = {
    "keep_hourly": lambda t: (t.year, t.month, t.day, t.hour),
    "keep_daily": lambda t: (t.year, t.month, t.day),
    "keep_weekly": lambda t: tuple(t.isocalendar())[:2],
    "keep_monthly": lambda t: (t.year, t.month),
}


def _newest_per_bucket(ordered: Sequence[Candidate], bucket: Bucket, count: int) -> set[str]:
    kept: set[str] = set()
    seen: set[tuple[int, ...]] = set()
    for candidate in ordered:
        key = bucket(candidate.taken.astimezone(dt.UTC))
        if key in seen:
            continue
        seen.add(key)
        kept.add(candidate.name)
        if len(seen) == count:
            break
    return kept


def to_keep(backups: Iterable[Candidate], policy: RetentionPolicy) -> set[str]:
    ordered = sorted(backups, key=lambda c: (c.taken, c.name), reverse=True)
    kept: set[str] = set()
    if policy.keep_last:
        kept.update(c.name for c in ordered[: policy.keep_last])
    for rule, bucket in _BUCKETS.items():
        count = getattr(policy, rule)
        if count:
            kept |= _newest_per_bucket(ordered, bucket, count)
    return kept


def to_delete(backups: Iterable[Candidate], policy: RetentionPolicy) -> list[str]:
    """Names to delete, oldest first; empty when the policy sets no rule."""
    candidates = list(backups)
    rules = (
        policy.keep_last,
        policy.keep_hourly,
        policy.keep_daily,
        policy.keep_weekly,
        policy.keep_monthly,
    )
    if not any(rules):
        return []
    kept = to_keep(candidates, policy)
    doomed = [c for c in candidates if c.name not in kept]
    return [c.name for c in sorted(doomed, key=lambda c: (c.taken, c.name))]
