"""The restore engine: check the whole backup, plan, then create wave after wave in parallel.

Nothing is written to the cluster before the archive has been read in full and every entry
passed its checks (paths, links, sizes, JSON, checksums, kinds). Every item gets an outcome
(created, updated, recreated, skipped and why, failed and why), uploaded as the results file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ark import archive, persistence
from ark.api.restore import RestorePhase, RestoreSpec
from ark.archive import layout
from ark.kube import ApiResource, KubeClient, KubeError, discover
from ark.kube.crds import wait_established
from ark.kube.discovery import Discovery
from ark.persistence import SnapshotRecord
from ark.report import Issues, RunLog
from ark.restore import claims, namespaces, pointintime, services, source, volumes
from ark.restore.actions import RestoreContext, RestoreItemAction, apply_actions, load_actions
from ark.restore.apply import Applied, Outcome, Writer
from ark.restore.grants import carry_over, clone_binding
from ark.restore.modifiers import ModifierFailed, Modifiers
from ark.restore.plan import NAMESPACES, Planned, RestorePlan, plan_restore
from ark.restore.refs import CRDS, ItemKey
from ark.restore.results import (
    ItemOutcome,
    Outcomes,
    ProgressCallback,
    RestoreProgress,
    RestoreResult,
    VolumeOutcome,
)
from ark.restore.volume_import import import_volume
from ark.restore.volumes import VolumeOptions
from ark.selection import select_resources
from ark.snapshot import errors as snapshot_errors
from ark.storage import ObjectNotFound, ObjectStore, StoreError

DEFAULT_WORKERS = 32
PROGRESS_INTERVAL = 0.5


class _Run:
    def __init__(
        self,
        client: KubeClient,
        *,
        name: str,
        backup_name: str,
        spec: RestoreSpec,
        actions: Sequence[RestoreItemAction],
        on_progress: ProgressCallback | None,
        workers: int,
        modifiers: Modifiers | None = None,
        uid: str | None = None,
        spool_dir: Path | None = None,
    ) -> None:
        self.client = client
        self.modifiers = modifiers
        self.name = name
        self.uid = uid
        self.spec = spec
        self.actions = list(actions)
        self.on_progress = on_progress
        self.workers = workers
        self.issues = Issues()
        self.log = RunLog(f"restore {name}")
        self.progress = RestoreProgress()
        self.outcomes = Outcomes(spool_dir=spool_dir)
        """On disk, not in memory; in ``spool_dir`` itself, not the run's temporary directory
        in it: the result keeps them after that is removed."""
        self.uids: dict[ItemKey, str] = {}
        """New uids of restored objects that other items name as owners (and only those)."""
        self.owner_keys: frozenset[ItemKey] = frozenset()
        self.kind_dirs: dict[str, str] = {}
        self.failed_namespaces: dict[str, str] = {}
        self.new_volumes: dict[str, volumes.NewVolume] = {}
        self.volume_outcomes: list[VolumeOutcome] = []
        self.volume_failures: dict[str, str] = {}
        self.claim_snapshots: dict[str, volumes.ClaimSnapshot] = {}
        self.snapshotted: frozenset[str] = frozenset()
        """In a dry run: the PersistentVolumes the restore would make from snapshots."""
        self.withheld: dict[str, str] = {}
        """PersistentVolumes not restored, and why (their claims get new volumes)."""
        self.discovery = Discovery(resources=[])
        self.writer = Writer(
            client,
            policy=spec.existing_resource_policy,
            dry_run=spec.dry_run,
            backup_name=backup_name,
            recreate_finalized=spec.recreate_finalized,
        )
        self._lock = threading.Lock()
        self._last = 0.0

    def record(
        self, planned: Planned, applied: Applied, *, modified_by: Sequence[int] = ()
    ) -> None:
        resource_dir, ns, name = planned.key
        outcome = ItemOutcome(
            resource_dir,
            ns or None,
            name,
            planned.target_namespace,
            applied.outcome.value,
            applied.message,
            tuple(applied.diff),
            tuple(modified_by),
        )
        where = {"resource": resource_dir, "namespace": planned.target_namespace, "name": name}
        if applied.outcome is Outcome.FAILED:
            self.issues.error(f"cannot restore: {applied.message}", **where)
        for warning in applied.warnings:
            self.issues.warn(warning, **where)
        for difference in applied.differences:
            self.issues.error(f"restored, but different from the backup: {difference}", **where)
        with self._lock:
            self.outcomes.append(outcome)
            if applied.uid and planned.key in self.owner_keys:
                self.uids[planned.key] = applied.uid
            self.progress.items_restored += 1
            now = time.monotonic()
            due = now - self._last >= PROGRESS_INTERVAL
            if due:
                self._last = now
                snapshot = RestoreProgress(**vars(self.progress))
        if due and self.on_progress is not None:
            self.on_progress(snapshot)


def run(
    client: KubeClient,
    store: ObjectStore | persistence.BackupStore,
    *,
    name: str,
    backup_name: str,
    spec: RestoreSpec,
    actions: Sequence[RestoreItemAction] | None = None,
    on_progress: ProgressCallback | None = None,
    workers: int = DEFAULT_WORKERS,
    spool_dir: Path | None = None,
    limits: archive.Limits | None = None,
    namespace_timeout: float = 120.0,
    volumes: VolumeOptions | None = None,
    modifiers: Modifiers | None = None,
    uid: str | None = None,
    point_in_time: pointintime.PointInTime | None = None,
) -> RestoreResult:
    """Restore backup ``backup_name`` from ``store`` (an object store, or a location's
    ``persistence.BackupStore`` with its encryption keys) into the cluster behind ``client``.

    Item problems become per-item outcomes and errors (PartiallyFailed). A backup that is
    missing, incomplete or hostile fails the restore before anything is written (Failed).
    ``modifiers`` (the rules ``spec.resourceModifier`` names, parsed by the caller) patch each
    object after ark's own rewrites; each item's outcome lists the rules that changed it.

    ``uid`` identifies this run across attempts (the Restore's ``metadata.uid``): everything
    made in the cloud is tagged with it, and a run with the same uid adopts the volumes an
    interrupted one made instead of making them again. None: nothing is adopted.

    ``point_in_time`` (a schedule, an instant): the objects as they stood then, ``backup_name``
    (``pointintime.base_backup``) with the schedule's change log written by the backup's
    cluster replayed over it; an instant the
    log cannot reach fails the restore, naming why, before anything is written.
    """
    archive.restore_name(name)
    backups = (
        store if isinstance(store, persistence.BackupStore) else persistence.BackupStore(store)
    )
    started = dt.datetime.now(dt.UTC)
    state = _Run(
        client,
        name=name,
        backup_name=backup_name,
        spec=spec,
        actions=load_actions() if actions is None else actions,
        on_progress=on_progress,
        workers=workers,
        modifiers=modifiers,
        uid=uid,
        spool_dir=spool_dir,
    )
    failure: str | None = None
    restore_plan: RestorePlan | None = None
    try:
        with (
            tempfile.TemporaryDirectory(dir=spool_dir, prefix=f"ark-restore-{name}-") as tmp,
            source.open_backup(backups, backup_name, spool_dir=Path(tmp), limits=limits) as opened,
            _at_instant(backups, opened, point_in_time, state, Path(tmp)) as chosen,
        ):
            restore_plan = _restore(
                state, chosen, store=backups, volumes=volumes, namespace_timeout=namespace_timeout
            )
    except (
        source.BackupUnavailable,
        pointintime.PointInTimeUnavailable,
        KubeError,
        StoreError,
        archive.ArchiveError,
        OSError,
    ) as exc:
        failure = f"restore {name} of backup {backup_name} failed: {exc}"
        state.log.error(failure)
    if failure is not None:
        phase = RestorePhase.FAILED
    elif state.issues.errors:
        phase = RestorePhase.PARTIALLY_FAILED
    else:
        phase = RestorePhase.COMPLETED
    result = RestoreResult(
        name=name,
        backup_name=backup_name,
        phase=phase,
        started=started,
        completed=dt.datetime.now(dt.UTC),
        progress=state.progress,
        issues=state.issues,
        failure_reason=failure,
        outcomes=state.outcomes,
        plan=restore_plan,
        volumes=state.volume_outcomes,
    )
    try:
        _upload(backups, state, result)
    except StoreError as exc:
        state.issues.warn(f"cannot upload the restore's results: {exc}")
    finally:
        state.log.close()
    if on_progress is not None:
        on_progress(state.progress)
    return result


@contextlib.contextmanager
def _at_instant(
    store: persistence.BackupStore,
    opened: source.OpenBackup,
    point_in_time: pointintime.PointInTime | None,
    state: _Run,
    spool_dir: Path,
) -> Iterator[source.OpenBackup]:
    """``opened``, or with a point in time its items replayed to that instant."""
    if point_in_time is None:
        yield opened
        return
    writer = persistence.writer_of(opened.document)
    if writer is None:
        raise pointintime.PointInTimeUnavailable(
            f"backup {opened.name} does not name the cluster that wrote it: "
            "no change log goes with it"
        )
    log = persistence.ChangeLog(store, point_in_time.schedule, cluster=writer)
    try:
        since = persistence.parse_stamp((opened.document.get("status") or {}).get("startTimestamp"))
    except ValueError:
        raise pointintime.PointInTimeUnavailable(
            f"backup {opened.name} has no start time: the change log cannot be replayed over it"
        ) from None
    index, done = pointintime.replay(
        opened.index, log, since=since, at=point_in_time.at, spool_dir=spool_dir
    )
    state.log.info(
        f"point in time {persistence.stamp(point_in_time.at)}: backup {opened.name} with "
        f"{done.applied} changes from {done.segments} change log segments of {log.title} "
        f"({len(done.resyncs)} resyncs)"
    )
    with index:
        yield source.with_index(opened, index)


def _restore(
    state: _Run,
    opened: source.OpenBackup,
    *,
    store: persistence.BackupStore,
    volumes: VolumeOptions | None,
    namespace_timeout: float,
) -> RestorePlan:
    spec = state.spec
    if not opened.verified:
        state.issues.warn(
            f"backup {opened.name} has no ark manifest (written by Velero?): "
            "item checksums could not be verified"
        )
    state.discovery = discover(state.client)
    for resource_dir in source.check_kinds(opened, state.discovery):
        state.issues.warn(
            f"{resource_dir}: not served by the target cluster and no CRD in the backup"
        )
    state.kind_dirs = {v: k for k, v in source.kinds_by_dir(opened).items()}
    state.owner_keys = _owner_keys(state, opened)
    included, excluded = _resolve_resources(state, opened)
    restore_plan = plan_restore(
        source.candidates(opened),
        spec,
        namespace_mapping=spec.namespace_mapping,
        included_resources=included,
        excluded_resources=excluded,
    )
    state.progress.total_items = restore_plan.total
    state.log.info(
        f"plan: {restore_plan.total} items in {len(restore_plan.waves)} waves, "
        f"{len(restore_plan.skipped)} skipped; namespaces "
        f"{restore_plan.target_namespaces}"
    )
    _say_existing_targets(state, restore_plan)
    restored_pvs = restore_plan.restored_volumes()
    renames = _volumes_from_snapshots(state, store, opened.name, restored_pvs, volumes)
    context = RestoreContext(
        namespace_mapping=spec.namespace_mapping or {},
        preserve_node_ports=spec.preserve_node_ports,
        storage_class_mapping=spec.storage_class_mapping or {},
        image_registry_mapping=spec.image_registry_mapping or {},
        restored_volumes=frozenset(
            renames.get(pv, pv)
            for pv in restored_pvs - {c.persistent_volume for c in state.claim_snapshots.values()}
        ),
        volume_renames=renames,
    )
    for key, reason in sorted(restore_plan.skipped.items()):
        state.outcomes.append(ItemOutcome(key[0], key[1] or None, key[2], None, "skipped", reason))
    for stage in restore_plan.stages():
        state.progress.current_wave = stage.wave
        if stage.namespaces is not None:
            namespaces.ensure(
                state,
                opened,
                stage.namespaces,
                restore_plan.target_namespaces,
                context,
                timeout=namespace_timeout,
                workers=state.workers,
            )
        _apply_wave(state, opened, stage.items, context)
        if stage.crds:
            _after_crds(state, stage.items)
    return restore_plan


def _say_existing_targets(state: _Run, restore_plan: RestorePlan) -> None:
    """A mapping onto a namespace that exists already: the restore writes beside what it holds
    (objects of the same name follow existingResourcePolicy); the plan and the results say so."""
    mapped = set((state.spec.namespace_mapping or {}).values())
    for target in sorted(mapped & set(restore_plan.target_namespaces)):
        if state.client.get_or_none(f"/api/v1/namespaces/{target}") is None:
            continue
        message = (
            f"namespace {target} (a mapping's target) exists already: the restore writes beside "
            "what it holds"
        )
        state.log.info(f"plan: {message}")
        state.issues.warn(message, resource=NAMESPACES, name=target)


def _volumes_from_snapshots(
    state: _Run,
    store: persistence.BackupStore,
    backup_name: str,
    pvs: frozenset[str],
    options: VolumeOptions | None,
) -> dict[str, str]:
    """restorePVs: new volumes from the backup's snapshots for the restored PVs. A PV whose
    name is taken in the target cluster (a clone beside the original) gets a new name."""
    if options is None or state.spec.restore_pvs is False or not pvs:
        return {}
    records = store.snapshots(backup_name)
    if state.spec.dry_run:
        state.snapshotted = frozenset(r.persistent_volume for r in records) & pvs
        return {}
    state.claim_snapshots = volumes.claim_snapshots(records, set(pvs), options)
    made, failed = volumes.create_volumes(
        records,
        set(pvs),
        options,
        restore_name=state.name,
        uid=state.uid,
        log=state.log,
        importer=_importer(store, backup_name, options, log=state.log),
    )
    state.new_volumes, state.volume_failures = made, failed
    suffix = hashlib.sha256(state.name.encode()).hexdigest()[:8]
    renames: dict[str, str] = {}
    for pv, new in made.items():
        if not new.adopted:
            state.log.info(f"persistentvolume {pv}: volume {new.volume_id} from {new.snapshot_id}")
        live = state.client.get_or_none(f"/api/v1/persistentvolumes/{pv}")
        if live is None:
            continue
        if new.adopted and _points_at(new, live):
            continue  # the interrupted attempt's own PV: kept, not cloned beside itself
        renames[pv] = f"{pv[: 253 - 9]}-{suffix}"
    by_pv = {r.persistent_volume: r for r in records}
    for pv, new in sorted(made.items()):
        record = by_pv[pv]
        state.volume_outcomes.append(
            VolumeOutcome(
                persistent_volume=renames.get(pv, pv),
                source=f"{record.provider} {record.region} {record.snapshot_id}",
                target=f"{new.snapshotter.provider} {new.snapshotter.region}".strip(),
                volume_id=new.volume_id,
                zone=new.zone,
                snapshot_id=new.snapshot_id,
                how=new.how,
                location=state.spec.volume_snapshot_location or record.location or None,
            )
        )
    return renames


def _importer(
    store: persistence.BackupStore, backup_name: str, options: VolumeOptions, *, log: RunLog
) -> volumes.Importer | None:
    """Imports a PV's exported volume into the target location (None: it cannot write
    blocks); a PV the backup did not export imports as None (its snapshot is copied)."""
    target = options.target_blocks
    if target is None:
        return None

    def one(record: SnapshotRecord, zone: str, tags: Mapping[str, str]) -> tuple[str, str] | None:
        pv = record.persistent_volume
        try:
            made = import_volume(
                store,
                backup_name,
                pv,
                target=target,
                zone=zone,
                # a type names a disk kind of its own cloud (gp3 is no Azure SKU)
                volume_type=record.volume_type if record.provider == target.provider else None,
                tags=tags,
            )
        except ObjectNotFound:
            return None
        except StoreError as exc:  # a chunk missing or altered: named in the message
            raise snapshot_errors.OperationFailed(
                "import", f"the export of volume {pv} in backup {backup_name}", str(exc)
            ) from None
        assert made.volume_id is not None  # a zone was given
        log.info(
            f"persistentvolume {pv}: imported {made.blocks} blocks exported from snapshot "
            f"{record.snapshot_id} ({record.provider} {record.region}) into snapshot "
            f"{made.snapshot_id}, volume {made.volume_id} ({target.provider} {target.region} "
            f"{zone})"
        )
        return made.snapshot_id, made.volume_id

    return one


def _points_at(new: volumes.NewVolume, live: dict[str, Any]) -> bool:
    """Whether PersistentVolume ``live`` is backed by ``new``'s volume."""
    try:
        found = new.snapshotter.volume_of(live)
    except snapshot_errors.SnapshotError:
        return False
    return found is not None and found.volume_id == new.volume_id


def _resolve_resources(state: _Run, opened: source.OpenBackup) -> tuple[set[str] | None, set[str]]:
    known = list(state.discovery.resources)
    served = {r.qualified for r in known}
    for resource_dir, kind in source.kinds_by_dir(opened).items():
        if resource_dir not in served:
            plural, _, group = resource_dir.partition(".")
            known.append(
                ApiResource(
                    group=group,
                    version="",
                    plural=plural,
                    kind=kind,
                    namespaced=True,
                    verbs=frozenset({"list", "get"}),
                )
            )
    included = None
    spellings = [s for s in state.spec.included_resources or () if s]
    if spellings and "*" not in spellings:
        chosen, warnings = select_resources(known, included=spellings, excluded=None)
        included = {r.qualified for r in chosen}
        for warning in warnings:
            state.issues.warn(warning)
    excluded = set()
    if state.spec.excluded_resources:
        dropped, _ = select_resources(known, included=state.spec.excluded_resources, excluded=None)
        excluded = {r.qualified for r in dropped}
    return included, excluded


def _apply_wave(
    state: _Run, opened: source.OpenBackup, wave: Sequence[Planned], context: RestoreContext
) -> None:
    if not wave:
        return
    # A bounded window of submitted items, not the whole wave: 100,000 pending futures cost
    # more memory than the restore itself.
    window: deque[Future[None]] = deque()
    with ThreadPoolExecutor(max_workers=state.workers) as pool:
        for p in wave:
            if len(window) >= state.workers * 4:
                window.popleft().result()
            window.append(pool.submit(_apply_one, state, opened, p, context))
        for future in window:
            future.result()


def _apply_one(
    state: _Run, opened: source.OpenBackup, planned: Planned, context: RestoreContext
) -> None:
    try:
        _restore_one(state, opened, planned, context)
    except ModifierFailed as exc:  # a rule's patch does not fit the object: nothing written
        state.record(planned, Applied(Outcome.FAILED, message=str(exc)))


def _restore_one(
    state: _Run, opened: source.OpenBackup, planned: Planned, context: RestoreContext
) -> None:
    resource_dir, ns, name = planned.key
    if planned.target_namespace in state.failed_namespaces:
        state.record(
            planned,
            Applied(Outcome.FAILED, message=state.failed_namespaces[planned.target_namespace]),
        )
        return
    item = opened.index.get(resource_dir, ns or None, name)
    res = state.discovery.by_qualified(resource_dir)
    if item is None or res is None:
        state.record(
            planned,
            Applied(Outcome.FAILED, message=f"{resource_dir} is not served by the target cluster"),
        )
        return
    try:
        obj = apply_actions(
            state.actions, opened.index.load(item), resource_dir=resource_dir, context=context
        )
    except (KeyError, TypeError, ValueError) as exc:
        state.record(planned, Applied(Outcome.FAILED, message=f"cannot transform: {exc!r}"))
        return
    _rewrite_owners(state, obj, ns)
    volume = _with_volume(state, planned, obj, context)
    if isinstance(volume, Applied):
        state.record(planned, volume)
        return
    obj, modified_by = _modify(state.modifiers, volume, resource_dir=resource_dir, namespace=ns)
    settled = _settle_claim(state, planned, obj, context)
    if isinstance(settled, Applied):
        state.record(planned, settled, modified_by=modified_by)
        return
    obj = settled.obj
    write = functools.partial(
        state.writer.apply,
        resource_dir=resource_dir,
        plural=res.plural,
        namespaced=res.namespaced,
        copy=layout.item_path(archive.ResourceDir(resource_dir), ns or None, name),
    )
    if resource_dir == "services" and state.spec.preserve_node_ports is None:
        path = res.path(namespace=obj["metadata"].get("namespace"), name=obj["metadata"]["name"])
        applied = services.apply_keeping_free_ports(state.client, obj, write, path=path)
    elif clone := clone_binding(
        resource_dir, obj, mapping=context.namespace_mapping, restore=state.name
    ):
        applied = carry_over(state.client, clone, write)  # the clone's own ClusterRoleBinding
    else:
        applied = write(obj)
    if applied.outcome is not Outcome.FAILED:
        applied.differences.extend(settled.differences)
    if resource_dir == "persistentvolumes" and applied.outcome is Outcome.SKIPPED_EXISTS:
        note = volumes.rebind_released(state.client, obj)
        if note is not None:
            applied.message = f"{applied.message}; {note}"
    state.record(planned, applied, modified_by=modified_by)


def _modify(
    modifiers: Modifiers | None, obj: dict[str, Any], *, resource_dir: str, namespace: str
) -> tuple[dict[str, Any], list[int]]:
    """``obj`` after the resource modifier rules, as Velero applies them: the rules see the
    object in the namespace it was backed up in (the one they name), and the target namespace
    is set again after them (a rule does not move an object). Raises ModifierFailed."""
    if modifiers is None:
        return obj, []
    target = obj["metadata"].get("namespace")
    if namespace:
        obj["metadata"]["namespace"] = namespace
    obj, changed = modifiers.apply(obj, resource=resource_dir, namespace=namespace)
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    if not isinstance(meta, dict) or not meta.get("name"):
        rules = ", ".join(map(str, changed))
        raise ModifierFailed(f"resource modifier rule(s) {rules} left no object with a name")
    if target is not None:
        meta["namespace"] = target
    return obj, changed


def _with_volume(
    state: _Run, planned: Planned, obj: dict[str, Any], context: RestoreContext
) -> dict[str, Any] | Applied:
    """A claim or volume as restored from the backup's snapshots (a claim from its CSI
    snapshot, a PersistentVolume on its new disk), or what to record instead of writing it."""
    resource_dir, ns, name = planned.key
    if resource_dir == "persistentvolumeclaims" and f"{ns}/{name}" in state.claim_snapshots:
        claim = state.claim_snapshots[f"{ns}/{name}"]
        tags = volumes.restore_tags(state.name, claim.persistent_volume, uid=state.uid)
        try:
            return claim.restore_claim(obj, tags=tags)
        except snapshot_errors.SnapshotError as exc:
            return Applied(Outcome.FAILED, message=str(exc))
    if resource_dir == "persistentvolumes":
        csi = [c for c in state.claim_snapshots.values() if c.persistent_volume == name]
        if csi:
            message = f"provisioned anew by its CSI driver from snapshot {csi[0].snapshot_id}"
            return Applied(Outcome.SKIPPED, message=message)
        if name in state.volume_failures:
            return Applied(Outcome.FAILED, message=state.volume_failures[name])
        if withheld := _withheld(state, obj):
            state.withheld[name] = withheld
            return Applied(Outcome.SKIPPED, message=f"not restored: {withheld}")
        if name in state.new_volumes:
            new = state.new_volumes[name]
            obj = new.snapshotter.set_volume_id(obj, volume_id=new.volume_id, zone=new.zone)
            obj["metadata"]["name"] = context.volume_renames.get(name, name)
    return obj


def _withheld(state: _Run, pv: dict[str, Any]) -> str | None:
    """Why a backed-up PersistentVolume is not written, or None. One that deletes its disk with
    its claim (reclaim policy Delete) and comes back from no snapshot would point at the
    original's disk: in another cluster, deleting the claim there would delete the original's
    data. As Velero does, its claim gets a new volume instead."""
    name = pv["metadata"]["name"]
    if (pv.get("spec") or {}).get("persistentVolumeReclaimPolicy") != "Delete":
        return None
    if name in state.new_volumes or name in state.snapshotted:
        return None
    return (
        "its reclaim policy is Delete and the restore makes no volume for it from a snapshot "
        "(restored, it would point at the original's disk, and deleting its claim would "
        "delete that disk)"
    )


def _settle_claim(
    state: _Run, planned: Planned, obj: dict[str, Any], context: RestoreContext
) -> claims.Settled | Applied:
    """A claim as it can bind here (after the modifiers: they may change its class); other
    objects, and claims made from a CSI snapshot, as they are."""
    resource_dir, ns, name = planned.key
    if resource_dir != "persistentvolumeclaims" or f"{ns}/{name}" in state.claim_snapshots:
        return claims.Settled(obj)
    return claims.settle(
        state.client,
        obj,
        restored=context.restored_volumes - set(state.withheld),
        withheld=state.withheld,
        dry_run=state.spec.dry_run,
    )


def _owner_keys(state: _Run, opened: source.OpenBackup) -> frozenset[ItemKey]:
    """Every key ``_rewrite_owners`` may look an owner up by: only these objects' new uids are
    kept (a uid for each of 100,000 restored items would cost more than the plan)."""
    keys: set[ItemKey] = set()
    for item in opened.index.with_owners():
        for ref in item.owners:
            resource_dir = state.kind_dirs.get(ref.kind)
            if resource_dir is not None:
                keys.add((resource_dir, item.namespace or "", ref.name))
                keys.add((resource_dir, "", ref.name))
    return frozenset(keys)


def _rewrite_owners(state: _Run, obj: dict[str, Any], ns: str) -> None:
    """Owner references carry the owner's uid, which is new after a restore: point them at the
    restored owners, and drop those whose owner is not restored (the garbage collector would
    otherwise delete the object at once)."""
    refs = (obj.get("metadata") or {}).get("ownerReferences")
    if not refs:
        return
    kept = []
    for ref in refs:
        resource_dir = state.kind_dirs.get(ref.get("kind", ""))
        uid = None
        if resource_dir is not None:
            uid = state.uids.get((resource_dir, ns, ref.get("name", ""))) or state.uids.get(
                (resource_dir, "", ref.get("name", ""))
            )
        if uid:
            kept.append({**ref, "uid": uid})
    if kept:
        obj["metadata"]["ownerReferences"] = kept
    else:
        obj["metadata"].pop("ownerReferences", None)


def _after_crds(state: _Run, wave: Sequence[Planned], *, timeout: float = 60.0) -> None:
    """Wait until the restored CRDs are Established and their resources discoverable."""
    if state.spec.dry_run:
        return
    names = [p.key[2] for p in wave]
    deadline = time.monotonic() + timeout
    pending = wait_established(state.client, names, timeout=timeout)
    for crd in sorted(pending):
        state.issues.error(
            f"not Established after {timeout:.0f}s; its resources will fail",
            resource=CRDS,
            name=crd,
        )
    while time.monotonic() < deadline:
        state.discovery = discover(state.client)
        if all(state.discovery.by_qualified(n) is not None for n in names if n not in pending):
            return
        time.sleep(0.2)


def _upload(store: persistence.BackupStore, state: _Run, result: RestoreResult) -> None:
    document = state.issues.results_document()
    document["summary"] = {
        "backup": result.backup_name,
        "phase": result.phase.value,
        "dryRun": state.spec.dry_run,
        "counts": result.counts,
        "waves": [len(w) for w in result.plan.waves] if result.plan else [],
    }
    store.put_restore(result.name, results=document, log=state.log, outcomes=result.outcomes.json())
