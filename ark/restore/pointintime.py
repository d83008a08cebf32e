"""Restoring to an instant: a schedule's newest Completed backup before it, with the schedule's
change log replayed over the backup's items up to it.

    base = pointintime.base_backup(store, "nightly", at)      # name, start, writing cluster
    restore.run(..., backup_name=base.name, point_in_time=PointInTime("nightly", at))

The replay is a seam under the restore, not a second restore: the backup's spooled index is
rebuilt (``archive.rebuild``) as the objects stood at ``at`` — changes from the backup's start
on applied in order (each change is the whole object, so applying one the backup already had
changes nothing), deletions honoured, a resync block deleting what it did not list — and the
restore plans, maps, modifies and dry-runs that index as any other. Memory: a small record per
changed object; the changed objects' bytes go to a spool file.

Refused, before anything is written, naming why: an instant before the log starts or after
the newest change it stored, inside a gap (a time no watcher ran is one), while a restarted
watcher catches up, or where a segment is missing.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ark import archive, persistence
from ark.persistence import ChangeLog, Record, parse_stamp, stamp

_SCHEDULED = re.compile(r"^(.+)-\d{14}$")
SCHEDULE_LABELS = ("ark.dev/schedule-name", "velero.io/schedule-name")


class PointInTimeUnavailable(Exception):
    """The instant cannot be restored; the message says why."""


@dataclass(frozen=True)
class PointInTime:
    schedule: str
    at: dt.datetime


@dataclass(frozen=True)
class BaseBackup:
    name: str
    started: dt.datetime
    completed: dt.datetime
    cluster: str
    """The cluster that wrote it, whose change log of the schedule a replay reads."""


def _schedule_of(name: str, document: dict[str, Any]) -> str | None:
    labels = (document.get("metadata") or {}).get("labels") or {}
    for label in SCHEDULE_LABELS:
        if labels.get(label):
            return str(labels[label])
    found = _SCHEDULED.match(name)
    return found[1] if found else None


def base_backup(
    store: persistence.BackupStore,
    schedule: str,
    at: dt.datetime,
    *,
    cluster: str | None = None,
) -> BaseBackup:
    """The schedule's newest Completed backup that completed at or before ``at``, written by
    ``cluster`` (a cluster uid). Without ``cluster``: by the one cluster that wrote the
    schedule's backups to this location; PointInTimeUnavailable naming each when clusters
    sharing the bucket have a schedule of this name (and for a backup that names no writer:
    no change log goes with it)."""
    newest: dict[str, BaseBackup] = {}
    for name in store.backup_names():
        if not name.startswith(f"{schedule}-"):
            continue
        document = store.complete_record(name)
        if document is None or _schedule_of(name, document) != schedule:
            continue
        status = document.get("status") or {}
        writer = persistence.writer_of(document)
        if status.get("phase") != "Completed" or writer is None:
            continue
        if cluster is not None and writer != cluster:
            continue
        try:
            started = parse_stamp(status.get("startTimestamp"))
            completed = parse_stamp(status.get("completionTimestamp"))
        except ValueError:
            continue
        best = newest.get(writer)
        if completed <= at and (best is None or completed > best.completed):
            newest[writer] = BaseBackup(name, started, completed, writer)
    if len(newest) > 1:
        each = ", ".join(f"{c} (backup {b.name})" for c, b in sorted(newest.items()))
        raise PointInTimeUnavailable(
            f"more than one cluster wrote backups of schedule {schedule} to this location: "
            f"{each}; name the cluster whose schedule to restore (pointInTimeCluster)"
        )
    if not newest:
        whose = "" if cluster is None else f" written by cluster {cluster}"
        raise PointInTimeUnavailable(
            f"schedule {schedule} has no Completed backup{whose} finished by {stamp(at)}"
        )
    return next(iter(newest.values()))


@dataclass
class _Entry:
    """A changed object as of the instant: deleted, or its bytes at ``offset`` in the spool
    (``size`` -1: the backup's own copy), and the resync epoch of its resource it was seen in."""

    deleted: bool
    offset: int
    size: int
    epoch: int


@dataclass
class Replayed:
    """What a replay did, for the restore's log."""

    segments: int = 0
    applied: int = 0
    resyncs: list[str] = field(default_factory=list)
    reached: dt.datetime | None = None


class _Replay:
    def __init__(self, index: archive.ArchiveIndex, spool: Any, *, since: dt.datetime) -> None:
        self.index = index
        self.spool = spool
        self.since = since
        self.state: dict[tuple[str, str, str], _Entry] = {}
        self.epoch: dict[str, int] = {}
        """Resyncs begun per resource; a change is seen in the latest."""
        self.floor: dict[str, int] = {}
        """Per resource, the epoch of its latest complete resync: an object last seen in an
        earlier one was not listed by it, so it is gone."""
        self.done = Replayed()
        self._offset = 0

    def apply(self, record: dict[str, Any], when: dt.datetime) -> None:
        kind, resource = record["type"], str(record.get("resource") or "")
        if kind == Record.RESYNC_BEGIN:
            self.epoch[resource] = self.epoch.get(resource, 0) + 1
            return
        if kind == Record.RESYNC_END:
            if when >= self.since and resource in self.epoch:
                self.floor[resource] = self.epoch[resource]
                self.done.resyncs.append(resource)
            return
        if kind not in _CHANGES:
            return  # a gap: refused through the log's gap list, before replaying
        obj = record.get("object")
        meta = obj.get("metadata") if isinstance(obj, dict) else None
        if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
            raise PointInTimeUnavailable(f"a change log record of {resource} names no object")
        key = (resource, str(meta.get("namespace") or ""), meta["name"])
        epoch = self.epoch.get(resource, 0)
        if when < self.since:
            # Before the backup began: the backup has the object's state. A relist that began
            # then still says the object was listed (its end may fall after the start).
            if kind == Record.LISTED:
                self._mark(key, epoch)
            return
        self.done.applied += 1
        if kind == Record.DELETED:
            self.state[key] = _Entry(True, 0, 0, epoch)
            return
        data = orjson.dumps(obj)
        self.spool.write(data)
        self.state[key] = _Entry(False, self._offset, len(data), epoch)
        self._offset += len(data)

    def _mark(self, key: tuple[str, str, str], epoch: int) -> None:
        found = self.state.get(key)
        if found is not None:
            found.epoch = epoch
        elif self.index.get(key[0], key[1] or None, key[2]) is not None:
            self.state[key] = _Entry(False, 0, -1, epoch)

    def objects(self) -> Iterator[tuple[str, str | None, str, bytes]]:
        """The objects as of the instant: the backup's, changed, less the deleted, plus the
        created."""
        self.spool.flush()
        fd = self.spool.fileno()
        for item in self.index:
            key = item.key
            entry = self.state.pop(key, None)
            if entry is None:
                if self.floor.get(key[0], 0) == 0:
                    yield key[0], item.namespace, key[2], self.index.read(item)
                continue
            if entry.deleted or entry.epoch < self.floor.get(key[0], 0):
                continue
            data = (
                self.index.read(item) if entry.size < 0 else os.pread(fd, entry.size, entry.offset)
            )
            yield key[0], item.namespace, key[2], data
        for (resource, namespace, name), entry in self.state.items():
            if not entry.deleted and entry.epoch >= self.floor.get(resource, 0) and entry.size >= 0:
                yield resource, namespace or None, name, os.pread(fd, entry.size, entry.offset)


_CHANGES = frozenset({Record.ADDED, Record.MODIFIED, Record.DELETED, Record.LISTED})


def check_reachable(
    log: ChangeLog, *, since: dt.datetime, at: dt.datetime
) -> list[persistence.SegmentName]:
    """The segments to replay from ``since`` to ``at``; PointInTimeUnavailable naming why the
    instant cannot be reached."""
    names = log.segments()
    if not names:
        raise PointInTimeUnavailable(f"{log.title} has no change log")
    if at < names[0].start:
        raise PointInTimeUnavailable(
            f"{stamp(at)} is before the change log of {log.title} starts ({stamp(names[0].start)})"
        )
    for gap in log.gaps():
        if gap.covers(at):
            raise PointInTimeUnavailable(
                f"{stamp(at)} is inside a gap of the change log of {log.title}: {gap.describe()}"
            )
    trailer = log.read(names[-1]).trailer
    if trailer.unwatched_since is not None and at >= trailer.unwatched_since:
        raise PointInTimeUnavailable(
            f"{stamp(at)} is not reached yet by the change log of {log.title}: no watcher ran "
            f"from {stamp(trailer.unwatched_since)}, and the one started again is catching up"
        )
    newest = trailer.end
    if at > newest:
        raise PointInTimeUnavailable(
            f"{stamp(at)} is after the newest change stored for {log.title} "
            f"(it reaches {stamp(newest)})"
        )
    chosen = [
        n
        for n, following in zip(names, [*names[1:], None], strict=True)
        if n.start <= at and (following is None or following.start > since)
    ]
    for before, after in itertools.pairwise(chosen):
        if after.seq != before.seq + 1:
            raise PointInTimeUnavailable(
                f"change log of {log.title}: segment {before.seq + 1} is missing "
                f"(between {stamp(before.start)} and {stamp(after.start)})"
            )
    return chosen


def replay(
    index: archive.ArchiveIndex,
    log: ChangeLog,
    *,
    since: dt.datetime,
    at: dt.datetime,
    spool_dir: str | os.PathLike[str],
) -> tuple[archive.ArchiveIndex, Replayed]:
    """The objects of ``index`` (a backup that started at ``since``) as they stood at ``at``,
    as a new index. PointInTimeUnavailable when ``at`` cannot be reached; StoredFileError
    (a StoreError) for a segment that cannot be read."""
    chosen = check_reachable(log, since=since, at=at)
    fd, path = tempfile.mkstemp(prefix="ark-replay-", suffix=".objects", dir=spool_dir)
    Path(path).unlink()
    with os.fdopen(fd, "w+b", buffering=1 << 20) as spool:
        state = _Replay(index, spool, since=since)
        for name in chosen:
            segment = log.read(name)
            state.done.segments += 1
            for record in segment.records:
                when = parse_stamp(record["t"])
                if when > at:
                    break
                state.apply(record, when)
                state.done.reached = when
        rebuilt = archive.rebuild(
            state.objects(), spool_dir=spool_dir, format_version=index.format_version
        )
    return rebuilt, state.done
