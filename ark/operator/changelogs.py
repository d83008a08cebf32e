"""Schedules' change logs: one ``ChangeWatcher`` per Schedule whose ``spec.changeLog`` is
enabled, running while the schedule is valid and not paused, stopped when it is deleted,
paused or disabled and when the operator stops (the open segment stored).

The watcher records what the schedule's backups take (the template's filters) into the
template's storage location, with that location's keys. A watcher started again — after a
restart, or a changed template — resumes from the checkpoints the log stored, so the operator
being down leaves no gap (unless the API server compacted past a checkpoint: then the library
records one). Every call here blocks: the handlers run them in threads.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ark import control, persistence
from ark.api.schedule import ScheduleSpec
from ark.backup.changelog import ChangeWatcher, WatchOptions
from ark.kube import KubeClient, KubeError
from ark.operator import metrics, stores
from ark.storage import StoreError

_log = logging.getLogger("ark.operator")
SPAN_REFRESH_SECONDS = 30.0
"""How often the log's first segment and gaps are listed again (retention deletes them)."""
MAX_GAPS = 20


@dataclass
class _Running:
    watcher: ChangeWatcher
    client: KubeClient
    """The watcher's own: its long-lived watches take none of the handlers' connections."""
    key: str
    """What it was started from (template, flushSeconds): another key restarts it."""
    since: dt.datetime | None = None
    gaps: list[persistence.Gap] = field(default_factory=list)
    """The log's gaps as last listed (the watcher's own are added to them)."""
    listed: float = 0.0
    """When ``since`` and ``gaps`` were last listed (monotonic)."""


def _wanted(obj: dict[str, Any]) -> tuple[ScheduleSpec, str] | None:
    """The spec and its key when the schedule's change log should be recorded now."""
    status = obj.get("status") or {}
    if obj["metadata"].get("deletionTimestamp") or status.get("phase") == "FailedValidation":
        return None
    try:
        spec = ScheduleSpec.model_validate(obj.get("spec") or {})
    except ValueError:
        return None
    if spec.paused or spec.change_log is None or not spec.change_log.enabled:
        return None
    key = json.dumps(
        [spec.template.model_dump(mode="json"), spec.change_log.flush_seconds], sort_keys=True
    )
    return spec, key


class Watchers:
    """The running watchers of one operator, by schedule name. Thread-safe. ``connect``
    makes each watcher's cluster client."""

    def __init__(
        self, client: KubeClient, namespace: str, *, connect: Callable[[], KubeClient]
    ) -> None:
        self.client = client
        self.namespace = namespace
        self.connect = connect
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()

    def reconcile(self, obj: dict[str, Any]) -> dict[str, Any] | None:
        """Start, restart or stop the schedule's watcher as its spec wants; its
        ``status.changeLog`` (None when the schedule does not ask for one)."""
        name = obj["metadata"]["name"]
        wanted = _wanted(obj)
        with self._lock:
            running = self._running.get(name)
            if running is not None and (wanted is None or wanted[1] != running.key):
                self._stop(name)
                running = None
            if wanted is None:
                return _idle(obj)
            if running is None:
                try:
                    running = self._start(name, *wanted)
                except (control.LocationError, StoreError) as exc:
                    _log.warning("schedule %s: change log not recorded: %s", name, exc)
                    return {"watching": False, "message": str(exc)}
            return self._status(name, running)

    def stop(self, name: str) -> None:
        with self._lock:
            self._stop(name)

    def stop_all(self) -> None:
        with self._lock:
            for name in list(self._running):
                self._stop(name)

    def _start(self, name: str, spec: ScheduleSpec, key: str) -> _Running:
        assert spec.change_log is not None
        bsl = control.resolve_bsl(self.client, self.namespace, spec.template.storage_location)
        store = stores.open_store(self.client, self.namespace, bsl)
        log = persistence.ChangeLog(store, name, cluster=self.client.cluster_uid())
        client = self.connect()
        watcher = ChangeWatcher(
            client,
            log,
            spec.template,
            options=WatchOptions(flush_seconds=spec.change_log.flush_seconds),
            on_stored=lambda _: self._push(name),
        )
        try:
            watcher.start()  # reads the log's newest segment: resumes from its checkpoints
        except StoreError:
            client.close()
            raise
        running = _Running(watcher, client, key)
        self._running[name] = running
        _log.info("schedule %s: recording its change log in location %s", name, bsl.name)
        return running

    def _stop(self, name: str) -> None:
        running = self._running.pop(name, None)
        metrics.changelog_forget(name)
        if running is None:
            return
        try:
            running.watcher.stop()
        except StoreError as exc:  # its last segment: the next start resumes before it
            _log.warning("schedule %s: change log's last segment not stored: %s", name, exc)
        finally:
            running.client.close()
        _log.info("schedule %s: change log stopped", name)

    def _push(self, name: str) -> None:
        """A segment was stored (the watcher's flush thread): the recovery point in the
        Schedule's status and metrics at once, not at the schedule's next look. Takes no
        lock: a stop waits for this thread while holding it (a stopping watcher's entry is
        gone first, so its last segment pushes nothing)."""
        running = self._running.get(name)
        if running is None:
            return
        log_status = self._status(name, running)
        try:
            control.patch_status(
                self.client, control.SCHEDULE, self.namespace, name, {"changeLog": log_status}
            )
        except KubeError as exc:  # the next push or schedule look writes it
            _log.warning("schedule %s: change log status not written: %s", name, exc)

    def _status(self, name: str, running: _Running) -> dict[str, Any]:
        watcher = running.watcher
        if running.since is None or time.monotonic() - running.listed > SPAN_REFRESH_SECONDS:
            try:
                segments = watcher.log.segments()
                gaps = watcher.log.gaps()
            except StoreError as exc:
                _log.warning("schedule %s: change log not listed: %s", name, exc)
            else:
                running.since = segments[0].start if segments else None
                running.gaps = gaps
                running.listed = time.monotonic()
        now = watcher.status
        gaps = sorted(set(running.gaps).union(now.gaps), key=lambda g: (g.start, g.end))
        metrics.changelog_reach(name, stored_through=now.stored_through, since=running.since)
        return {
            "watching": True,
            "since": _stamp(running.since),
            "storedThrough": _stamp(now.stored_through),
            "newestChange": _stamp(now.newest_change),
            "resources": len(now.resources),
            "gaps": [_gap(g) for g in gaps[-MAX_GAPS:]] or None,
            "message": None,
        }


def _idle(obj: dict[str, Any]) -> dict[str, Any] | None:
    """A stopped log's status: what was last known of it, no longer watched."""
    before = (obj.get("status") or {}).get("changeLog")
    if not before:
        return None
    return {**before, "watching": False, "resources": 0, "message": None}


def _gap(found: persistence.Gap) -> dict[str, Any]:
    return {
        "resource": found.resource,
        "start": control.timestamp(found.start),
        "end": control.timestamp(found.end),
        "reason": found.reason,
    }


def _stamp(when: dt.datetime | None) -> str | None:
    return None if when is None else control.timestamp(when)


def schedule_store(client: KubeClient, namespace: str, schedule: str) -> persistence.BackupStore:
    """Where the schedule's backups and change logs are: its template's storage location (the
    default location when the Schedule is gone). LocationError when it cannot be opened."""
    obj = control.get(client, control.SCHEDULE, namespace, schedule)
    template = ((obj or {}).get("spec") or {}).get("template") or {}
    bsl = control.resolve_bsl(client, namespace, template.get("storageLocation"))
    return stores.open_store(client, namespace, bsl)


def trim(client: KubeClient, namespace: str, schedule: str, *, oldest_kept: dt.datetime) -> int:
    """Retention: delete the segments (and gaps) of this cluster's change log of the schedule
    that no kept backup needs — those before ``oldest_kept``, the oldest kept backup's start.
    Another cluster's log of a schedule of the same name is never touched. Returns how many."""
    store = schedule_store(client, namespace, schedule)
    log = persistence.ChangeLog(store, schedule, cluster=client.cluster_uid())
    return log.delete_before(oldest_kept)
