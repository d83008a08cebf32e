"""The backup engine: list what the plan says, stream it into the archive, upload the results.

Items flow from paginated LISTs (several resources in parallel, a bounded pool) through
``ArchiveWriter`` straight into the object store's streaming upload: nothing holds the whole
backup in memory. The backup's record is uploaded last, so a backup that failed part-way
never looks complete to a reader or to backup sync.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ark import archive, persistence, selection
from ark.api.backup import BackupPhase, BackupSpec
from ark.api.locations import ObjectLock, ObjectLockMode
from ark.api.types import parse_duration
from ark.backup import hooks, results, volume_exports
from ark.backup.actions import ActionContext, BackupItemAction, ItemRef, load_actions
from ark.backup.plan import CRDS, NAMESPACES, BackupPlan, ListTask, plan_backup
from ark.backup.results import BackupResult, Progress, ProgressCallback, SnapshotOptions
from ark.backup.volume_exports import ExportOutcome
from ark.backup.volumes import SnapshotOutcome, snapshot_volumes
from ark.kube import (
    KubeApiError,
    KubeClient,
    KubeError,
    TooDeep,
    count,
    discover,
    encode_json,
    list_pages,
)
from ark.kube.discovery import ApiResource, Discovery
from ark.kube.listing import Page, for_each_page
from ark.kube.podexec import PodExec
from ark.persistence import SnapshotRecord
from ark.report import Issues, RunLog
from ark.storage import ObjectStore, Retention, RetentionMode, StoreError

DEFAULT_WORKERS = 8
_COUNTERS = 4
PROGRESS_INTERVAL = 0.5


class _Run:
    """State of one backup run, shared by the worker threads."""

    def __init__(
        self,
        client: KubeClient,
        store: ObjectStore | persistence.BackupStore,
        *,
        name: str,
        spec: BackupSpec,
        actions: Sequence[BackupItemAction],
        on_progress: ProgressCallback | None,
        page_size: int,
        workers: int,
    ) -> None:
        self.client = client
        self.store = (
            store if isinstance(store, persistence.BackupStore) else persistence.BackupStore(store)
        )
        self.name = name
        self.spec = spec
        self.actions = actions
        self.on_progress = on_progress
        self.page_size = page_size
        self.workers = workers
        archive.backup_name(name)  # a name that cannot be stored fails the run at once
        self.issues = Issues()
        self.log = RunLog(f"backup {name}")
        self.progress = Progress()
        self.pending: list[ItemRef] = []
        self.per_resource: dict[str, int] = {}
        self.volumes: list[dict[str, Any]] = []
        self.pods: list[hooks.PodTarget] = []
        self.snapshots = SnapshotOutcome()
        self.discovery = Discovery(resources=[])
        self._actions_by_resource: dict[str, list[BackupItemAction]] = {}
        self._lock = threading.Lock()
        self._last_report = 0.0
        self.started = time.monotonic()

    # -- progress -------------------------------------------------------------------------
    def advance(self, *, items: int = 0, total: int = 0, resource: str | None = None) -> None:
        """Count ``items`` written (of ``resource``) and ``total`` more expected."""
        with self._lock:
            self.progress.items_backed_up += items
            self.progress.total_items += total
            if resource:
                self.progress.current_resource = resource
                if items:
                    self.per_resource[resource] = self.per_resource.get(resource, 0) + items
            snapshot = self._due(force=False)
        self._report(snapshot)

    def exporting(self, where: str | None) -> None:
        """Which volume is being exported and how far (None: the exports are over)."""
        with self._lock:
            self.progress.current_volume_export = where
            snapshot = self._due(force=where is None)
        self._report(snapshot)

    def _due(self, *, force: bool) -> Progress | None:
        """A copy of the progress to report, when one is due (under the lock)."""
        now = time.monotonic()
        if not force and now - self._last_report < PROGRESS_INTERVAL:
            return None
        self._last_report = now
        return Progress(**vars(self.progress))

    def _report(self, snapshot: Progress | None) -> None:
        if snapshot is not None and self.on_progress is not None:
            self.on_progress(snapshot)

    # -- items ----------------------------------------------------------------------------
    def _encode(
        self, resource: ApiResource, items: Sequence[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[tuple[str | None, str, bytes]]]:
        """The items of a page to write (excluded and terminating ones left out), each with
        its JSON; an item too deep to encode is that item's error."""
        namespaced = resource.namespaced
        keep_deleting = self.spec.include_objects_being_deleted
        kept: list[dict[str, Any]] = []
        batch: list[tuple[str | None, str, bytes]] = []  # archive.NewItem's fields
        for item in items:
            meta = item.get("metadata") or {}
            if selection.excluded_by_label(meta.get("labels")):
                continue
            namespace = meta.get("namespace") if namespaced else None
            name = meta.get("name") or ""
            if meta.get("deletionTimestamp") and not keep_deleting:
                self.log.info(
                    f"{resource.qualified} {namespace or ''}/{name}: skipped, being deleted"
                )
                continue
            try:
                data = encode_json(item)
            except TooDeep as exc:
                where = {"namespace": namespace, "name": name}
                self.issues.error(f"cannot back up: {exc}", resource=resource.qualified, **where)
                continue
            kept.append(item)
            batch.append((namespace, name, data))
        return kept, batch

    def write_items(
        self,
        writer: archive.ArchiveWriter,
        resource: ApiResource,
        items: Sequence[dict[str, Any]],
        context: ActionContext,
    ) -> int:
        """Write items of one resource (a page; those filtered out or taken already are
        skipped) and queue what they depend on. Returns how many were written; the caller
        counts them (:meth:`advance`)."""
        kept, batch = self._encode(resource, items)
        if not batch:
            return 0
        try:
            outcomes = writer.add_items(
                resource=resource.plural,
                group=resource.group,
                version=resource.version,
                kind=resource.kind,
                items=batch,
            )
        except archive.InvalidName as exc:  # the resource's own name cannot be a path
            outcomes = [exc] * len(batch)
        actions = self.actions_for(resource, context)
        written = 0
        for item, (namespace, name, _), outcome in zip(kept, batch, outcomes, strict=True):
            if isinstance(outcome, archive.DuplicateItem):
                continue  # taken already: named by another item, or listed again after a 410
            if isinstance(outcome, archive.InvalidName):
                self.issues.error(
                    f"cannot back up: {outcome}",
                    resource=resource.qualified,
                    namespace=namespace,
                    name=name,
                )
                continue
            written += 1
            if resource.qualified == "persistentvolumes":
                with self._lock:
                    self.volumes.append(item)
            elif resource.qualified == "pods":
                target = hooks.PodTarget.from_item(item)
                with self._lock:
                    self.pods.append(target)
            for action in actions:
                refs = list(action.related(item, resource=resource, context=context))
                if refs:
                    with self._lock:
                        self.pending.extend(refs)
        return written

    def actions_for(self, resource: ApiResource, context: ActionContext) -> list[BackupItemAction]:
        """The actions that apply to ``resource`` (asked once per resource, not per item)."""
        found = self._actions_by_resource.get(resource.qualified)
        if found is None:
            found = [a for a in self.actions if a.applies_to(resource, context=context)]
            self._actions_by_resource[resource.qualified] = found
        return found


def run(
    client: KubeClient,
    store: ObjectStore | persistence.BackupStore,
    *,
    name: str,
    spec: BackupSpec | None = None,
    actions: Sequence[BackupItemAction] | None = None,
    on_progress: ProgressCallback | None = None,
    workers: int = DEFAULT_WORKERS,
    page_size: int = 500,
    compress_level: int = archive.DEFAULT_COMPRESS_LEVEL,
    snapshots: SnapshotOptions | None = None,
    pod_exec: hooks.ExecTransport | None = None,
    uid: str | None = None,
    lock: ObjectLock | None = None,
) -> BackupResult:
    """Back up the cluster behind ``client`` into ``store`` as backup ``name``: an object
    store, or a location's ``persistence.BackupStore`` (with its encryption keys).

    With ``snapshots`` (and ``spec.snapshotVolumes`` not false), the cloud volumes behind the
    backed-up PersistentVolumes are snapshotted once the objects are captured: between the
    backed-up pods' pre-hooks and post-hooks (``spec.hooks`` and Velero's pod annotations, see
    ``ark.backup.hooks``), run through ``pod_exec`` (default: the API server's pods/exec).

    Never raises for problems with items or resources: they become warnings and errors in the
    result (PartiallyFailed). Problems that stop the backup (the store failing, the API server
    unreachable) give phase Failed with ``failure_reason``; nothing complete-looking is left.

    ``uid`` identifies this backup across attempts (the Backup's ``metadata.uid``): its
    snapshots are tagged with it, and a snapshot an interrupted attempt started (beyond those
    in ``snapshots.adopt``) is found by it and adopted. None: nothing is found by tag.

    ``lock`` (the location's objectLock): every object of a complete backup is locked for
    ``lock.days`` from the start, so a ttl of at least that long expires it after the lock
    ends. A store that cannot lock fails the backup (nothing complete-looking is left).
    """
    spec = spec or BackupSpec()
    started = dt.datetime.now(dt.UTC)
    state = _Run(
        client,
        store,
        name=name,
        spec=spec,
        actions=load_actions() if actions is None else actions,
        on_progress=on_progress,
        page_size=page_size,
        workers=workers,
    )
    ttl = parse_duration(spec.ttl)
    expiration = started + ttl if ttl else None
    manifest: archive.Manifest | None = None
    exports: list[ExportOutcome] = []
    hook_run: hooks.HookRun | None = None
    failure: str | None = None
    version: str | None = None
    cluster_uid = _cluster_uid(state)
    try:
        version = client.version().get("gitVersion")
        backup_plan = _plan(state)
        state.log.info(
            f"plan: {len(backup_plan.tasks)} lists, "
            f"namespaces: {_sample(backup_plan.namespaces) or 'none'}"
        )
        manifest = _write_archive(
            state, backup_plan, cluster_version=version, compress_level=compress_level
        )
        state.log.info(
            f"archive written: {manifest.total_items} items, {manifest.total_bytes} bytes "
            f"of JSON in {time.monotonic() - state.started:.1f}s since the start"
        )
        hook_run = hooks.HookRun(
            hooks.plan_hooks(state.pods, spec.hooks),
            pod_exec if pod_exec is not None else PodExec(client),
            issues=state.issues,
            log=state.log,
        )
        try:
            hook_run.pre()
            _snapshot(state, snapshots, hook_run, uid=uid)
        finally:
            hook_run.post()  # also when starting the snapshots failed: thaw what was frozen
        exports = _export(state, snapshots)
    except (KubeError, StoreError, archive.ArchiveError, OSError) as exc:
        failure = f"backup {name} failed: {exc}"
        state.log.error(failure)
    completed = dt.datetime.now(dt.UTC)
    if failure is not None:
        phase = BackupPhase.FAILED
    elif state.issues.errors:
        phase = BackupPhase.PARTIALLY_FAILED
    else:
        phase = BackupPhase.COMPLETED
    result = BackupResult(
        name=name,
        phase=phase,
        started=started,
        completed=completed,
        expiration=expiration,
        progress=state.progress,
        issues=state.issues,
        manifest=manifest,
        failure_reason=failure,
        cluster_version=version,
        cluster_uid=cluster_uid,
        per_resource=dict(sorted(state.per_resource.items())),
        volume_snapshots=state.snapshots.records,
        snapshot_skew_seconds=state.snapshots.skew_seconds,
        volume_exports=exports,
        hooks_attempted=hook_run.attempted if hook_run else 0,
        hooks_failed=hook_run.failed if hook_run else 0,
        object_lock=_retention(lock, started) if manifest is not None else None,
    )
    try:
        result.manifest_digest = results.upload(
            state.store,
            result,
            spec=state.spec,
            issues=state.issues,
            log=state.log,
        )
        result.encryption_key = state.store.encryption_key(name)
    except StoreError as exc:
        result.phase = BackupPhase.FAILED
        result.failure_reason = f"backup {name}: cannot upload results: {exc}"
        result.object_lock = None
    finally:
        state.log.close()
    if on_progress is not None:
        on_progress(state.progress)
    return result


def _retention(lock: ObjectLock | None, started: dt.datetime) -> Retention | None:
    if lock is None:
        return None
    mode: RetentionMode = "Governance" if lock.mode == ObjectLockMode.GOVERNANCE else "Compliance"
    # Whole seconds, as stores keep it and status shows it; never after started + ttl.
    return Retention(mode=mode, until=(started + lock.duration).replace(microsecond=0))


def _cluster_uid(state: _Run) -> str | None:
    """The backed-up cluster's identity, recorded as the backup's writer: only ark in this
    cluster expires the backup's data (another cluster sharing the bucket never does)."""
    try:
        return state.client.cluster_uid()
    except KubeError as exc:
        state.log.warning(
            f"cannot read the cluster's identity (namespace kube-system): {exc}; the backup "
            "names no writing cluster, and only its Backup in this cluster expires it"
        )
        return None


def _may_hold_wanted(spec: BackupSpec, group_version: str, found: Discovery) -> bool:
    """Whether a group that failed discovery may serve resources the backup asks for: always,
    unless the backup names its resources and each name is another group's or was found."""
    names = [n for n in spec.included_resources or () if n]
    if not names or "*" in names:
        return True
    group = group_version.rpartition("/")[0]
    return not group or any(
        n.endswith(f".{group}") or ("." not in n and not found.find(n)) for n in names
    )


def _sample(names: Sequence[str], *, shown: int = 5) -> str:
    """``a, b, c, d, e and 995 more``: a plan's namespaces, readable in a log of any size."""
    if len(names) <= shown:
        return ", ".join(names)
    return f"{', '.join(names[:shown])} and {len(names) - shown} more ({len(names)} in all)"


def _snapshot(
    state: _Run, options: SnapshotOptions | None, hook_run: hooks.HookRun, *, uid: str | None
) -> None:
    """Snapshot the backed-up volumes; post-hooks run as soon as every snapshot has started.
    Volumes of pods whose pre-hooks failed (onError Fail) are not snapshotted."""
    if options is None or state.spec.snapshot_volumes is False or not state.volumes:
        return
    blocked = hook_run.blocked_claims()
    volumes: list[dict[str, Any]] = []
    for pv in state.volumes:
        claim = (pv.get("spec") or {}).get("claimRef") or {}
        pod = blocked.get((claim.get("namespace") or "", claim.get("name") or ""))
        if pod is None:
            volumes.append(pv)
            continue
        state.issues.error(
            f"not snapshotted: the pre hooks of pod {pod.ref}, which mounts claim "
            f"{claim.get('name')}, failed",
            resource="persistentvolumes",
            name=pv["metadata"]["name"],
        )

    def started(records: list[SnapshotRecord]) -> None:
        hook_run.post()
        if options.on_started is not None:
            options.on_started(records)

    state.snapshots = snapshot_volumes(
        volumes,
        backup_name=state.name,
        locations=options.locations,
        issues=state.issues,
        log=state.log,
        adopt=options.adopt,
        on_started=started,
        timeout=options.timeout,
        uid=uid,
    )


def _export(state: _Run, options: SnapshotOptions | None) -> list[ExportOutcome]:
    """With ``spec.exportVolumes``, copy each completed snapshot's blocks into the location
    (before the record is written: a failed export makes the backup PartiallyFailed)."""
    if options is None or not state.spec.export_volumes or not state.snapshots.records:
        return []
    sources = {loc.name: loc.blocks for loc in options.locations if loc.blocks is not None}
    outcomes = volume_exports.export_snapshots(
        state.store,
        state.name,
        state.snapshots.records,
        sources=sources,
        log=state.log,
        on_progress=state.exporting,
    )
    state.exporting(None)
    for outcome in outcomes:
        if outcome.phase != volume_exports.COMPLETED:
            state.issues.error(
                f"volume export: {outcome.message}",
                resource="persistentvolumes",
                name=outcome.persistent_volume,
            )
    return outcomes


def _plan(state: _Run) -> BackupPlan:
    found: Discovery = discover(state.client)
    for group_version, reason in sorted(found.failures.items()):
        message = f"API group {group_version} did not answer discovery, not backed up: {reason}"
        if _may_hold_wanted(state.spec, group_version, found):
            state.issues.error(message)  # what it serves may be in the backup's scope
        else:
            state.issues.warn(message)
    ns_resource = found.by_qualified(NAMESPACES)
    namespaces: list[str] = []
    if ns_resource is not None:
        for page in list_pages(state.client, ns_resource, limit=state.page_size):
            namespaces.extend(i["metadata"]["name"] for i in page.items)
    crd_resources: set[str] = set()
    crd_resource = found.by_qualified(CRDS)
    if crd_resource is not None:
        for page in list_pages(state.client, crd_resource, limit=state.page_size):
            for crd in page.items:
                spec = crd.get("spec") or {}
                crd_resources.add(f"{spec['names']['plural']}.{spec['group']}")
    backup_plan = plan_backup(
        found.resources, state.spec, namespaces=namespaces, crd_resources=frozenset(crd_resources)
    )
    for warning in backup_plan.warnings:
        state.issues.warn(warning)
    state.discovery = found
    return backup_plan


class _Expected:
    """How many items a list task expects, from whichever answers first: the count made while
    the backup starts (one small LIST), or the task's own first page. It goes into the
    progress's total before any of the task's items are written."""

    __slots__ = ("_lock", "value")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value: int | None = None

    def claim(self, state: _Run, count: int) -> int:
        """Add ``count`` to the total, unless the other answered first; the value kept."""
        with self._lock:
            if self.value is None:
                self.value = count
                state.advance(total=count)
            return self.value


def _first_page_count(page: Page, task: ListTask) -> int:
    """What a task's first page says about its size: everything when it is the only page,
    else what the server counts (it cannot with a label selector: 0, grown as listed)."""
    if not page.more:
        return len(page.items)
    if page.remaining is not None and not task.label_selector:
        return len(page.items) + page.remaining
    return 0


def _count(state: _Run, task: ListTask, expected: _Expected) -> None:
    """Count a task that has not started yet (tasks wait for a worker): one small LIST. A
    cluster-wide LIST filtered to some namespaces counts at most all of them; label-selected
    LISTs are counted as they are listed; every count is corrected to what was written when
    its task ends."""
    if expected.value is not None or task.label_selector:
        return
    try:
        found = count(state.client, task.resource, namespace=task.namespace)
    except KubeError:
        return  # the LIST itself will report the problem
    expected.claim(state, found)


def _write_archive(
    state: _Run,
    backup_plan: BackupPlan,
    *,
    cluster_version: str | None,
    compress_level: int,
) -> archive.Manifest:
    context = ActionContext(crd_resources=backup_plan.crd_resources)
    with state.store.open_archive_write(state.name) as sink:
        writer = archive.ArchiveWriter(
            sink,
            backup_name=state.name,
            cluster_version=cluster_version,
            compress_level=compress_level,
        )
        with writer:
            _run_lists(state, writer, backup_plan, context)
            _take_related(state, writer, backup_plan, context)
            manifest = writer.close()
    return manifest


def _run_lists(
    state: _Run, writer: archive.ArchiveWriter, backup_plan: BackupPlan, context: ActionContext
) -> None:
    """The plan's LISTs on the bounded pool, and meanwhile the counts of those still waiting
    for a worker, so the progress's total is whole early on."""
    expected = {task: _Expected() for task in backup_plan.tasks}
    for task in backup_plan.tasks:  # the plan knows how many namespaces it takes
        if task.resource.qualified == NAMESPACES:
            expected[task].claim(state, len(backup_plan.namespaces))
    with (
        ThreadPoolExecutor(max_workers=state.workers, thread_name_prefix="ark-lists") as pool,
        ThreadPoolExecutor(max_workers=_COUNTERS, thread_name_prefix="ark-count") as counters,
    ):
        # The tasks that start last are counted first; each counts itself when it starts.
        for task in reversed(backup_plan.tasks):
            counters.submit(_count, state, task, expected[task])
        futures = [
            pool.submit(
                _list_task,
                state,
                writer,
                task,
                backup_plan=backup_plan,
                context=context,
                expected=expected[task],
            )
            for task in backup_plan.tasks
        ]
        try:
            for future in futures:
                future.result()
        finally:
            counters.shutdown(cancel_futures=True)


def _list_task(
    state: _Run,
    writer: archive.ArchiveWriter,
    task: ListTask,
    *,
    backup_plan: BackupPlan,
    context: ActionContext,
    expected: _Expected,
) -> None:
    res = task.resource
    state.advance(resource=res.qualified)
    started = time.monotonic()
    written_total = 0
    accounted: int | None = None  # what this task has added to the total so far

    def handle(page: Page) -> None:
        nonlocal written_total, accounted
        if accounted is None:
            accounted = expected.claim(state, _first_page_count(page, task))
        if page.restarted:
            state.issues.warn(
                f"list of {task.describe} restarted: continue token expired (410 Gone)",
                resource=res.qualified,
            )
        items = page.items
        if res.qualified == NAMESPACES:
            items = [i for i in items if backup_plan.wants_namespace(i["metadata"]["name"])]
        elif task.filter_namespaces:
            items = [
                i
                for i in items
                if backup_plan.wants_namespace(i["metadata"].get("namespace") or "")
            ]
        written = state.write_items(writer, res, items, context)
        written_total += written
        grow = max(0, written_total - accounted)  # never let done exceed the total
        accounted += grow
        state.advance(items=written, total=grow, resource=res.qualified)

    try:
        for_each_page(
            state.client,
            res,
            handle,
            namespace=task.namespace,
            label_selector=task.label_selector,
            limit=state.page_size,
        )
    except KubeApiError as exc:
        where = f" in namespace {task.namespace}" if task.namespace else ""
        if exc.not_found:  # the type went away since discovery (its CRD was deleted, say)
            state.issues.warn(
                f"no longer served{where}, nothing to back up", resource=res.qualified
            )
            return
        state.issues.error(
            f"cannot list{where}: {exc.message} ({exc.status})", resource=res.qualified
        )
    finally:
        if accounted is None:  # no page came: the count, if any, was of nothing written
            accounted = expected.claim(state, 0)
        state.advance(total=written_total - accounted)  # the estimate becomes the real count
        if written_total:
            elapsed = time.monotonic() - started
            state.log.info(f"{task.describe}: {written_total} items in {elapsed:.1f}s")


def _take_related(
    state: _Run,
    writer: archive.ArchiveWriter,
    backup_plan: BackupPlan,
    context: ActionContext,
) -> None:
    """Add the objects items depend on (a Pod's PVCs, a PVC's PV, a CR's CRD, ...) that the
    LISTs did not take, until nothing new is named."""
    discovery = state.discovery
    while True:
        with state._lock:
            refs, state.pending = state.pending, []
        if not refs:
            return
        for ref in dict.fromkeys(refs):
            res = discovery.by_qualified(ref.qualified)
            if res is None or writer.has_item(
                resource=res.plural,
                group=res.group,
                namespace=ref.namespace if res.namespaced else None,
                name=ref.name,
            ):
                continue
            if not backup_plan.allows_related(res, ref.namespace):
                continue
            try:
                item = state.client.get(res.path(namespace=ref.namespace, name=ref.name))
            except KubeApiError as exc:
                if exc.not_found:
                    state.issues.warn(
                        "referenced but not found (deleted during the backup?)",
                        resource=ref.qualified,
                        namespace=ref.namespace,
                        name=ref.name,
                    )
                    continue
                state.issues.error(
                    f"cannot get: {exc.message}",
                    resource=ref.qualified,
                    namespace=ref.namespace,
                    name=ref.name,
                )
                continue
            item["apiVersion"], item["kind"] = res.group_version, res.kind
            if state.write_items(writer, res, [item], context):
                state.advance(items=1, total=1, resource=res.qualified)
