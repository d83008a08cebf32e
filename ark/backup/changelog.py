"""The change log's writer: between a schedule's backups, every change to the objects its
backups include, as the API server reports it, into segments (``persistence.ChangeLog``).

    watcher = changelog.ChangeWatcher(client, persistence.ChangeLog(store, "nightly"), spec)
    watcher.start()          # threads: discovery, one watch per resource, the flusher
    ...
    watcher.stop()           # the open segment is stored, the watches end

Which objects: the backup plan's resources (``plan.plan_backup``: the same filters,
``NEVER_BACKED_UP`` left out), the namespaced ones in the wanted namespaces, cluster-scoped
ones only when the backup takes them all (``includeClusterResources`` true, or the whole
cluster; in ``auto`` the base backup's copies are restored), labels matched here (one watch
per resource, not per selector: an object that stops matching is recorded as deleted).
Discovery runs again every ``rediscover_seconds``, so a new CRD's objects are watched within
seconds (their first relist records those made meanwhile).

Memory stays flat in the cluster's size: no copy of the cluster is kept. A resource's watch
starts from its checkpoint (the resourceVersion the log stored last), or from a relist
recorded as a resync block (ResyncBegin, LISTED objects, ResyncEnd: the resource's whole
state; a replay deletes what the block does not list). A watch whose resourceVersion was
compacted away (410 Gone) relists the same way and records a Gap from its checkpoint to the
relist: what happened in between is known only by its result.

A watcher started on a log another watcher wrote (after a restart, a pause, a SIGKILL) resumes
every watch from its checkpoint: the changes made while none ran arrive first, stamped when
seen. A resumed watch has caught up at its first bookmark (its first watch ends within
``catch_up_seconds``, and the API server sends a bookmark 2 s before a watch's end): then the
time from the log's last stored end to the catch-up is recorded as a gap of every resource
(``*``), and until then each trailer says ``unwatchedSince`` (a restore is refused from
there). ``wait_ready`` waits for the catch-up.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ark import persistence, selection
from ark.api.backup import BackupSpec
from ark.backup.plan import NAMESPACES, ClusterScope, plan_backup
from ark.kube import ApiResource, KubeApiError, KubeClient, KubeError, TooDeep, discover, list_pages
from ark.kube.watching import BOOKMARK, WatchStream
from ark.persistence import Checkpoint, Gap, Record, SegmentBuilder, SegmentName, Trailer
from ark.storage import StoreError

_log = logging.getLogger("ark.changelog")
Clock = Callable[[], dt.datetime]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class WatchOptions:
    flush_seconds: float = 10.0
    """A segment with changes is stored this long after it was opened."""
    heartbeat_seconds: float = 60.0
    """A segment without changes is stored this often: the log says how far it knows."""
    segment_bytes: int = persistence.SEGMENT_BYTES
    rediscover_seconds: float = 5.0
    watch_timeout: int = 300
    """The server ends each watch after this; it is opened again from where it was."""
    catch_up_seconds: int = 12
    """A resumed watch's first watch ends after this: the API server's bookmark 2 s before
    its end says every change up to then was sent (its watch cache sends none earlier on a
    watch shorter than about 10 s)."""
    clock: Clock = _utcnow


@dataclass
class _Scope:
    """Which objects of the watched resources the log keeps (the backup plan's filters)."""

    spec: BackupSpec
    namespaces: selection.NamespaceFilter

    def keeps(self, resource: ApiResource, obj: Mapping[str, Any]) -> bool | None:
        """True: kept; False: not kept (a record of it says deleted); None: never of interest
        (another namespace: an object never changes namespace)."""
        meta = obj.get("metadata") or {}
        if resource.qualified == NAMESPACES:
            if not self.namespaces.matches(str(meta.get("name") or "")):
                return None
        elif resource.namespaced and not self.namespaces.matches(str(meta.get("namespace") or "")):
            return None
        labels = meta.get("labels") or {}
        if selection.excluded_by_label(labels):
            return False
        if meta.get("deletionTimestamp") and not self.spec.include_objects_being_deleted:
            return False
        if resource.qualified == NAMESPACES:
            return True  # as the backup: a wanted namespace whatever the selectors say
        selectors = self.spec.or_label_selectors or (
            [self.spec.label_selector] if self.spec.label_selector else []
        )
        return not selectors or any(selection.selector_matches(s, labels) for s in selectors)


def watched_resources(available: list[ApiResource], spec: BackupSpec) -> list[ApiResource]:
    """The resources a schedule's change log watches (pure: the backup plan's choice)."""
    plan = plan_backup(available, spec, namespaces=[])
    return [
        r
        for r in plan.resources
        if "watch" in r.verbs
        and (r.namespaced or r.qualified == NAMESPACES or plan.cluster_scope is ClusterScope.ALL)
    ]


_CHANGES = frozenset({"ADDED", "MODIFIED", "DELETED"})


def _stub(obj: Mapping[str, Any]) -> dict[str, Any]:
    """What a deletion record keeps of an object the log no longer includes: its identity."""
    meta = obj.get("metadata") or {}
    ident = {k: meta[k] for k in ("name", "namespace") if meta.get(k)}
    return {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "metadata": ident}


class _Recorder:
    """The sink all watches append to, in the order observed; segments are rotated by the
    flusher. Thread-safe. Each record's time is the clock's, never earlier than the one
    before, so a log's records are in time order."""

    def __init__(self, log: persistence.ChangeLog, options: WatchOptions) -> None:
        self.log = log
        self.options = options
        self._lock = threading.Lock()
        resume = log.resume()
        self._seq = 0 if resume is None else resume.next_seq
        self.checkpoints: dict[str, Checkpoint] = (
            {} if resume is None else dict(resume.trailer.checkpoints)
        )
        self.newest_change = None if resume is None else resume.trailer.newest_change
        self.stored_through = None if resume is None else resume.trailer.end
        self.unwatched_since: dt.datetime | None = None
        """From when no watcher ran, until the resumed watches caught up (None: they did)."""
        if resume is not None:
            self.unwatched_since = resume.trailer.unwatched_since or resume.trailer.end
        self._last = self.stored_through or options.clock()
        self._gaps: list[Gap] = []
        self._builder = self._open()
        self.wake = threading.Event()
        """Set when the open segment is full: the flusher stores it at once."""

    def _now(self) -> dt.datetime:
        self._last = max(self._last, self.options.clock())
        return self._last

    def _open(self) -> SegmentBuilder:
        name = SegmentName(start=self._now(), seq=self._seq)
        self._seq += 1
        return self.log.builder(name)

    def checkpoint(self, resource: str) -> Checkpoint | None:
        with self._lock:
            return self.checkpoints.get(resource)

    def append(
        self, kind: Record, resource: ApiResource, *, rv: str, obj: Mapping[str, Any] | None = None
    ) -> None:
        with self._lock:
            now = self._now()
            record: dict[str, Any] = {
                "type": kind.value,
                "t": persistence.stamp(now),
                "resource": resource.qualified,
                "rv": rv,
            }
            if obj is not None:
                record["object"] = obj
            try:
                self._builder.add(record)
            except TooDeep as exc:  # the object cannot be stored: its changes are a gap
                self._add_gap(Gap(resource.qualified, now, now, f"an object not storable: {exc}"))
                return
            if kind in (Record.ADDED, Record.MODIFIED, Record.DELETED, Record.LISTED):
                self.newest_change = now
            if kind in (Record.ADDED, Record.MODIFIED, Record.DELETED, Record.RESYNC_END):
                self.checkpoints[resource.qualified] = Checkpoint(rv, now)
            if self._builder.size >= self.options.segment_bytes:
                self.wake.set()

    def bookmark(self, resource: ApiResource, rv: str) -> None:
        """The resource's watch is at ``rv`` (nothing of interest since its last record)."""
        with self._lock:
            self.checkpoints[resource.qualified] = Checkpoint(rv, self._now())

    def gap(self, resource: str, start: dt.datetime, reason: str) -> Gap:
        with self._lock:
            found = Gap(resource, start, self._now(), reason)
            self._add_gap(found)
            return found

    def caught_up(self) -> Gap | None:
        """Every resumed watch has caught up: the time no watcher ran becomes a gap of every
        resource (None when there was none to close)."""
        with self._lock:
            if self.unwatched_since is None:
                return None
            found = Gap(
                "*",
                self.unwatched_since,
                self._now(),
                "no watcher ran (the operator or the schedule was stopped): the changes made "
                "then are known only by their result",
            )
            self.unwatched_since = None
            self._add_gap(found)
            return found

    def _add_gap(self, found: Gap) -> None:
        self._builder.add(
            {"type": Record.GAP.value, "t": persistence.stamp(found.end), **found.to_json()}
        )
        self._gaps.append(found)

    def due(self) -> bool:
        with self._lock:
            age = (self.options.clock() - self._builder.name.start).total_seconds()
            if self._builder.size >= self.options.segment_bytes:
                return True
            if self._builder.records:
                return age >= self.options.flush_seconds
            return age >= self.options.heartbeat_seconds

    def rotate(self) -> tuple[SegmentBuilder, Trailer]:
        """The open segment with its trailer, a new one opened in its place."""
        with self._lock:
            builder = self._builder
            trailer = Trailer(
                end=self._now(),
                records=builder.records,
                counts=dict(builder.counts),
                checkpoints=dict(self.checkpoints),
                gaps=tuple(self._gaps),
                newest_change=self.newest_change,
                unwatched_since=self.unwatched_since,
            )
            self._gaps = []
            self._builder = self._open()
            self.wake.clear()
            return builder, trailer


@dataclass
class WatcherStatus:
    newest_change: dt.datetime | None
    """The observed time of the newest change stored or waiting to be."""
    stored_through: dt.datetime | None
    """The end of the newest stored segment: a restore reaches this far."""
    resources: list[str] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    """Gaps this watcher recorded."""


class ChangeWatcher:
    """Writes a schedule's change log while started. Blocking work only in its own threads."""

    def __init__(
        self,
        client: KubeClient,
        log: persistence.ChangeLog,
        spec: BackupSpec,
        *,
        options: WatchOptions | None = None,
        on_stored: Callable[[WatcherStatus], None] | None = None,
    ) -> None:
        """``on_stored`` is told, in the flush thread, each time a segment was stored: how
        far the log now reaches (its errors are logged, never the watcher's)."""
        self.client = client
        self.log = log
        self.spec = spec
        self.options = options or WatchOptions()
        self._on_stored = on_stored
        self._scope = _Scope(
            spec, selection.NamespaceFilter(spec.included_namespaces, spec.excluded_namespaces)
        )
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._watches: dict[str, _ResourceWatch] = {}
        self._recorder: _Recorder | None = None
        self._gaps: list[Gap] = []
        self._discovered = threading.Event()
        self._put_lock = threading.Lock()
        self._ready_lock = threading.Lock()
        self._caught_up = threading.Event()
        """Set once the time no watcher ran is closed (at once when there is none)."""

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        """Resume from the log (StoreError when it cannot be read) and start the threads."""
        self._recorder = _Recorder(self.log, self.options)
        if self._recorder.unwatched_since is None:
            self._caught_up.set()
        for target, name in ((self._discover_loop, "discover"), (self._flush_loop, "flush")):
            thread = threading.Thread(target=target, name=f"ark-changelog-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """Whether every resource found by the first discovery is watched within ``timeout``:
        its relist recorded if it needed one, caught up if it resumed from a checkpoint."""
        deadline = time.monotonic() + timeout
        if not self._discovered.wait(timeout):
            return False
        for watch in list(self._watches.values()):
            if not watch.ready.wait(max(deadline - time.monotonic(), 0)):
                return False
        return self._caught_up.wait(max(deadline - time.monotonic(), 0))

    def flush(self) -> None:
        """Store the open segment now (with its changes so far)."""
        self._store(*self._rec.rotate())

    def stop(self, *, timeout: float = 30.0) -> None:
        """End the watches and store the open segment."""
        self._stop.set()
        for watch in list(self._watches.values()):
            watch.stop()
        for thread in [*self._threads, *(w.thread for w in self._watches.values())]:
            thread.join(timeout)
        if self._recorder is not None:
            self.flush()

    def __enter__(self) -> ChangeWatcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def status(self) -> WatcherStatus:
        rec = self._rec
        return WatcherStatus(
            newest_change=rec.newest_change,
            stored_through=rec.stored_through,
            resources=sorted(self._watches),
            gaps=list(self._gaps),
        )

    @property
    def _rec(self) -> _Recorder:
        if self._recorder is None:
            raise RuntimeError("the watcher was not started")
        return self._recorder

    # -- threads ----------------------------------------------------------------------------
    def _discover_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._rediscover()
                self._discovered.set()
                self._check_caught_up()
            except KubeError as exc:
                _log.warning("change log %s: discovery failed: %s", self.log.schedule, exc)
            self._stop.wait(self.options.rediscover_seconds)

    def _rediscover(self) -> None:
        wanted = {
            r.qualified: r for r in watched_resources(discover(self.client).resources, self.spec)
        }
        for qualified, resource in wanted.items():
            running = self._watches.get(qualified)
            if running is None or not running.thread.is_alive():
                watch = _ResourceWatch(self, resource)
                self._watches[qualified] = watch
                watch.thread.start()
        for qualified in set(self._watches) - set(wanted):
            self._watches.pop(qualified).stop()  # no longer served or included

    def _flush_loop(self) -> None:
        rec = self._rec
        while not self._stop.is_set():
            rec.wake.wait(min(0.25, self.options.flush_seconds / 4))
            if not self._stop.is_set() and rec.due():
                self._store(*rec.rotate())

    def _store(self, builder: SegmentBuilder, trailer: Trailer) -> None:
        """Put a segment, again until it is stored (segments go in order: one at a time)."""
        attempt = 0
        with self._put_lock:
            while True:
                try:
                    self.log.put(builder, trailer)
                    self._rec.stored_through = trailer.end
                    break
                except StoreError as exc:
                    attempt += 1
                    _log.warning(
                        "change log %s: segment %d not stored (attempt %d): %s",
                        self.log.schedule,
                        builder.name.seq,
                        attempt,
                        exc,
                    )
                    if self._stop.is_set() and attempt >= 3:
                        raise
                    time.sleep(min(0.5 * 2**attempt, 10.0))
        if self._on_stored is not None:
            try:
                self._on_stored(self.status)
            except Exception:  # the log goes on whatever its reader does
                _log.exception("change log %s: telling the segment stored", self.log.schedule)

    def _check_caught_up(self) -> None:
        """Once every watch is ready, close the time no watcher ran (a gap, once)."""
        if not self._discovered.is_set():
            return
        with self._ready_lock:
            if self._rec.unwatched_since is None:
                return
            if not all(w.ready.is_set() for w in list(self._watches.values())):
                return
            found = self._rec.caught_up()
            if found is not None:
                self._gaps.append(found)
            self._caught_up.set()
        if found is not None:
            _log.info("change log %s: caught up; gap %s", self.log.schedule, found.describe())

    def record_gap(self, resource: str, start: dt.datetime, reason: str) -> None:
        found = self._rec.gap(resource, start, reason)
        self._gaps.append(found)
        _log.warning("change log %s: gap %s", self.log.schedule, found.describe())


class _ResourceWatch:
    """One resource's watch, in its own thread: relist when there is no checkpoint (or it was
    compacted), then watch from the last resourceVersion, again and again until stopped."""

    def __init__(self, owner: ChangeWatcher, resource: ApiResource) -> None:
        self.owner = owner
        self.resource = resource
        self.ready = threading.Event()
        self._stopped = threading.Event()
        self._stream: WatchStream | None = None
        self.thread = threading.Thread(
            target=self._run, name=f"ark-watch-{resource.qualified}", daemon=True
        )

    def stop(self) -> None:
        self._stopped.set()
        stream = self._stream
        if stream is not None:
            stream.close()

    @property
    def _stopping(self) -> bool:
        return self._stopped.is_set() or self.owner._stop.is_set()

    def _ready(self) -> None:
        if not self.ready.is_set():
            self.ready.set()
            self.owner._check_caught_up()

    def _run(self) -> None:
        rec = self.owner._rec
        qualified = self.resource.qualified
        found = rec.checkpoint(qualified)
        rv = found.resource_version if found is not None else None
        attempt = 0
        while not self._stopping:
            try:
                if rv is None:
                    rv = self._relist()
                    self._ready()
                rv = self._watch(rv)
                attempt = 0
            except KubeApiError as exc:
                if exc.gone:
                    since = rec.checkpoint(qualified)
                    rv = None
                    rv = self._relist()
                    self.owner.record_gap(
                        qualified,
                        since.at if since is not None else self.owner.options.clock(),
                        "its resourceVersion was compacted (410 Gone): relisted, the changes in "
                        "between are known only by their result",
                    )
                    continue
                if exc.not_found:
                    self._ready()  # nothing left to catch up with
                    return  # no longer served (a CRD deleted): discovery drops it
                attempt += 1
                self._pause(exc, attempt)
            except KubeError as exc:
                attempt += 1
                self._pause(exc, attempt)

    def _pause(self, exc: Exception, attempt: int) -> None:
        _log.warning("change log: watch of %s: %s", self.resource.qualified, exc)
        self._stopped.wait(min(0.2 * 2**attempt, 10.0))

    def _relist(self) -> str:
        """Record the resource's whole state as a resync block; returns the list's
        resourceVersion (the first page's: every page is of that one state)."""
        rec, scope, res = self.owner._rec, self.owner._scope, self.resource
        rec.append(Record.RESYNC_BEGIN, res, rv="")
        list_rv = ""
        for page in list_pages(self.owner.client, res):
            list_rv = list_rv or page.resource_version
            for item in page.items:
                if scope.keeps(res, item):
                    rv = str((item.get("metadata") or {}).get("resourceVersion") or "")
                    rec.append(Record.LISTED, res, rv=rv, obj=item)
        rec.append(Record.RESYNC_END, res, rv=list_rv)
        return list_rv

    def _watch(self, rv: str) -> str:
        """Watch from ``rv`` until the server ends it. Until the watch is ready (it resumed
        from a checkpoint), a short one whose bookmark says it caught up; one that ends
        without a bookmark (a resource the API server does not cache) caught up by its end."""
        rec, scope, res = self.owner._rec, self.owner._scope, self.resource
        options = self.owner.options
        catching_up = not self.ready.is_set()
        stream = WatchStream(
            self.owner.client,
            res,
            resource_version=rv,
            timeout_seconds=options.catch_up_seconds if catching_up else options.watch_timeout,
        )
        self._stream = stream
        try:
            if self._stopping:
                return rv
            for event in stream.events():
                rv = event.resource_version or rv
                if event.type == BOOKMARK:
                    rec.bookmark(res, rv)
                    self._ready()
                    continue
                if event.type not in _CHANGES:
                    raise KubeError(f"WATCH {res.qualified}: an event of type {event.type!r}")
                kept = scope.keeps(res, event.object)
                if kept is None or (not kept and event.type == "ADDED"):
                    rec.bookmark(res, rv)
                elif kept:
                    rec.append(Record(event.type), res, rv=rv, obj=event.object)
                else:
                    rec.append(Record.DELETED, res, rv=rv, obj=_stub(event.object))
        finally:
            self._stream = None
            stream.close()
        if catching_up and not self._stopping:
            self._ready()
        return rv
