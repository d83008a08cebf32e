"""Scheduled restore tests (``Schedule.spec.restoreTest``): each Completed backup of the
schedule is restored into scratch namespaces of this cluster, judged, and what the test made
deleted.

``start`` (after the backup) reads which namespaces the backup holds from its resource list,
maps each to a scratch namespace that must not exist yet (``rt-<hash of the backup>-<ns>``),
and creates a Restore of those namespaces only — mapped, node ports not kept (the originals
hold them), no cluster-scoped objects but the PersistentVolumes of the restored claims: new
volumes from the backup's snapshots, renamed beside the live ones (``restoreTest.volumes``
false leaves claims and volumes out) — labelled ``ark.dev/restore-test: <schedule>``. It runs
as any Restore, so its results and log are where a user looks for them.

``judge`` (when that Restore finishes, and at each schedule look: an operator restarted
meanwhile finishes the job) passes a test whose Restore Completed — a restore is exact or
explained, so any difference made it PartiallyFailed — and whose restored claims all bind,
and fails any other. It writes the schedule's ``status.restoreTest`` and its
``RestoreTested`` condition, and deletes the scratch namespaces, the PersistentVolumes and
the volumes the test made (``ark.operator.scratch``; a failed test's are kept with
``keepFailed``). What cannot be deleted yet is named in status (``leftBehind``) and in the
condition, and ``tidy`` tries again at later looks. Every call blocks.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

from ark import control
from ark.api.restore import TERMINAL_RESTORE_PHASES, RestorePhase
from ark.api.schedule import MAX_SCRATCH_VOLUMES, ScheduleSpec
from ark.kube import KubeClient
from ark.operator import restore_test_scope, restore_verdict
from ark.operator import scratch as scratch_volumes
from ark.snapshot.interface import RESTORE_TAG, RESTORE_UID_TAG

TEST_LABEL = "ark.dev/restore-test"
CONDITION = "RestoreTested"
IN_PROGRESS, PASSED, FAILED = "InProgress", "Passed", "Failed"
SKIPPED = "Skipped"
"""Not a phase in status: a backup not tested because the previous test still runs."""
UNTESTED = ("persistentvolumeclaims", "persistentvolumes")
"""Left out with ``restoreTest.volumes: false``."""
CLUSTER_REFERENCED = (
    "storageclasses.storage.k8s.io",
    "clusterroles.rbac.authorization.k8s.io",
    "customresourcedefinitions.apiextensions.k8s.io",
)
"""The cluster-scoped kinds restored objects refer to besides PersistentVolumes: left out, so
a test writes no cluster-scoped object but the volumes of its claims."""
BIND_WAIT = 60.0
"""How long a judged test waits for its restored claims to bind."""
CLEANUP_WAIT = 60.0
"""How long a judged test waits for its scratch namespaces to go and its volumes deleted
(the rest is left to later looks)."""
RETRY_LOOKS = 6
"""Schedule looks between two attempts at deleting what a test left behind (30 s at the
default ``--schedule-interval``)."""


@dataclass(frozen=True)
class Outcome:
    """What a start or a judgement did, for the caller's Event and metrics."""

    schedule: str
    phase: str
    message: str
    restore: str | None = None
    seconds: float | None = None
    left_behind: tuple[str, ...] = ()
    """What the test made and could not delete yet (named, with why)."""
    cleanup_errors: tuple[str, ...] = ()
    """The failures among those (a cloud that refused, a volume still in use), not waits."""
    cleaned: bool = False
    """A retry (``tidy``) that deleted the last of what a test left behind."""


def _spec(obj: dict[str, Any] | None) -> ScheduleSpec | None:
    if obj is None:
        return None
    try:
        return ScheduleSpec.model_validate(obj.get("spec") or {})
    except ValueError:
        return None


def start(client: KubeClient, namespace: str, schedule: str, backup: str) -> Outcome | None:
    """Create the Restore that tests ``backup`` when its schedule asks for restore tests; the
    outcome (InProgress, or Failed naming why it could not start), None when not asked."""
    obj = control.get(client, control.SCHEDULE, namespace, schedule)
    spec = _spec(obj)
    if obj is None or spec is None or spec.restore_test is None or not spec.restore_test.enabled:
        return None
    name = restore_test_scope.restore_name(backup)
    now = control.timestamp()
    current = (obj.get("status") or {}).get("restoreTest") or {}
    if current.get("phase") == IN_PROGRESS and current.get("restore") != name:
        return Outcome(
            schedule,
            SKIPPED,
            f"backup {backup} not tested: the test of backup {current.get('backup')} "
            f"(restore {current.get('restore')}) still runs",
            restore=current.get("restore"),
        )
    try:
        mapping = restore_test_scope.scratch_mapping(client, namespace, backup)
    except restore_test_scope.CannotTest as exc:
        return _record(
            client,
            namespace,
            obj,
            backup=backup,
            restore=None,
            phase=FAILED,
            message=str(exc),
            started=now,
        )
    volumes = spec.restore_test.volumes
    restore_spec: dict[str, Any] = {
        "backupName": backup,
        "includedNamespaces": sorted(mapping),
        "namespaceMapping": mapping,
        "preserveNodePorts": False,
    }
    if volumes:  # cluster-scoped: only what the restored objects need, and of that the PVs
        restore_spec["excludedResources"] = list(CLUSTER_REFERENCED)
    else:
        restore_spec["includeClusterResources"] = False
        restore_spec["excludedResources"] = list(UNTESTED)
    body = {"metadata": {"name": name, "labels": {TEST_LABEL: schedule}}, "spec": restore_spec}
    if control.create(client, control.RESTORE, namespace, body) is None:
        return None  # started before (a handler run again)
    message = (
        f"restoring backup {backup} into {', '.join(sorted(mapping.values()))} "
        f"(restore {name}{'' if volumes else '; volumes not tested'})"
    )
    return _record(
        client,
        namespace,
        obj,
        backup=backup,
        restore=name,
        phase=IN_PROGRESS,
        message=message,
        started=now,
        scratch=sorted(mapping.values()),
    )


def judge(client: KubeClient, namespace: str, schedule: str) -> Outcome | None:
    """Judge the schedule's restore test in progress once its Restore finished: the schedule's
    status and condition, what the test made deleted; None while there is nothing to do."""
    obj = control.get(client, control.SCHEDULE, namespace, schedule)
    current = ((obj or {}).get("status") or {}).get("restoreTest") or {}
    if obj is None or current.get("phase") != IN_PROGRESS or not current.get("restore"):
        return None
    name, backup = current["restore"], current.get("backup") or ""
    restore = control.get(client, control.RESTORE, namespace, name)
    status = (restore or {}).get("status") or {}
    phase = status.get("phase")
    if restore is not None and phase not in {str(p) for p in TERMINAL_RESTORE_PHASES}:
        return None
    scratch = list(current.get("scratchNamespaces") or ())
    spec = _spec(obj)
    test = spec.restore_test if spec is not None else None
    if restore is None:
        passed, why = False, f"restore {name} was deleted before it finished"
    elif phase == RestorePhase.COMPLETED:
        claims = _claims(client, scratch, timeout=BIND_WAIT)
        bound = restore_verdict.bound(claims)
        unbound = restore_verdict.unbound(claims, timeout=BIND_WAIT)
        volumes = test is None or test.volumes
        lost = _missing(client, namespace, backup, scratch, claims) if volumes else []
        passed = not unbound and not lost
        why = (
            f"backup {backup} restored exactly: {restore_verdict.items(status)} items in "
            f"{', '.join(scratch)}{'' if volumes else ' (volumes not tested)'}"
            f"{restore_verdict.volumes_said(status)}"
            + (f"; claims bound: {', '.join(bound)}" if bound else "")
        )
        if unbound or lost:
            why = f"backup {backup} restored, but " + "; ".join(
                ([f"not its claims and volumes: {'; '.join(lost)}"] if lost else [])
                + ([f"claims did not bind: {'; '.join(unbound)}"] if unbound else [])
            )
    else:
        passed = False
        why = f"restore {name} is {phase}: {restore_verdict.why(status, name)}"
    keep = not passed and test is not None and test.keep_failed
    uid = (restore or {}).get("metadata", {}).get("uid")
    done = scratch_volumes.Cleanup()
    if keep:
        why += f"; scratch namespaces kept: {', '.join(scratch)} (and the volumes in them)"
    else:
        owner = _owner(name, uid)
        begun = scratch_volumes.begin(client, restore, scratch, owner)
        done = scratch_volumes.settle(client, namespace, begun, scratch, owner, wait=CLEANUP_WAIT)
    started = control.parse_time(current.get("started"))
    seconds = (dt.datetime.now(dt.UTC) - started).total_seconds() if started else None
    outcome = _record(
        client,
        namespace,
        obj,
        backup=backup,
        restore=name,
        phase=PASSED if passed else FAILED,
        message=why,
        started=current.get("started"),
        scratch=scratch,
        completed=control.timestamp(),
        items=restore_verdict.items(status) if restore is not None else None,
        uid=uid,
        cleanup=done,
    )
    return Outcome(
        schedule,
        outcome.phase,
        outcome.message,
        restore=name,
        seconds=seconds,
        left_behind=tuple(done.left),
        cleanup_errors=tuple(done.errors),
    )


def tidy(
    client: KubeClient, namespace: str, schedule: str, *, retry_seconds: float
) -> Outcome | None:
    """Try again to delete what the schedule's judged restore test left behind (at most every
    ``retry_seconds``); None when nothing is left or it is not time yet."""
    obj = control.get(client, control.SCHEDULE, namespace, schedule)
    current = ((obj or {}).get("status") or {}).get("restoreTest") or {}
    if obj is None or current.get("phase") not in (PASSED, FAILED):
        return None
    if not current.get("leftBehind") and not current.get("cleanup"):
        return None
    tried = control.parse_time(current.get("cleanupAttempted"))
    now = dt.datetime.now(dt.UTC)
    if tried is not None and (now - tried).total_seconds() < retry_seconds:
        return None
    name = str(current.get("restore") or "")
    scratch = list(current.get("scratchNamespaces") or ())
    done = scratch_volumes.finish(
        client,
        namespace,
        list(current.get("cleanup") or ()),
        scratch,
        _owner(name, current.get("restoreUid")),
    )
    message = str(current.get("message") or "").split("; left behind: ", 1)[0]
    _record(
        client,
        namespace,
        obj,
        backup=str(current.get("backup") or ""),
        restore=name,
        phase=str(current["phase"]),
        message=message,
        started=current.get("started"),
        scratch=scratch,
        completed=current.get("completed"),
        items=current.get("itemsRestored"),
        uid=current.get("restoreUid"),
        cleanup=done,
    )
    return Outcome(
        schedule,
        str(current["phase"]),
        message,
        restore=name,
        left_behind=tuple(done.left),
        cleanup_errors=tuple(done.errors),
        cleaned=done.done,
    )


def _owner(restore: str, uid: str | None) -> dict[str, str]:
    """The tags the test's Restore put on what it made (``volumes.restore_tags``)."""
    return {RESTORE_TAG: restore, **({RESTORE_UID_TAG: uid} if uid else {})}


def _claims(client: KubeClient, scratch: list[str], *, timeout: float) -> list[dict[str, Any]]:
    """The claims in ``scratch`` once all are Bound, or after at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = [
            c
            for target in scratch
            for c in client.get(f"/api/v1/namespaces/{target}/persistentvolumeclaims").get("items")
            or ()
        ]
        if (
            all(restore_verdict.claim_phase(c) == "Bound" for c in found)
            or time.monotonic() >= deadline
        ):
            return found
        time.sleep(1.0)


def _missing(
    client: KubeClient,
    namespace: str,
    backup: str,
    scratch: list[str],
    claims: list[dict[str, Any]],
) -> list[str]:
    """The claims and PersistentVolumes the backup held in the tested namespaces that the
    scratch restore did not make (``restore_verdict``)."""
    try:
        held, mapping = restore_test_scope.held(client, namespace, backup, scratch)
    except restore_test_scope.CannotTest as exc:
        return [f"its claims cannot be compared: {exc}"]
    return restore_verdict.missing(held, mapping, restore_verdict.restored(claims))


def _record(
    client: KubeClient,
    namespace: str,
    schedule: dict[str, Any],
    *,
    backup: str,
    restore: str | None,
    phase: str,
    message: str,
    started: str | None,
    scratch: list[str] | None = None,
    completed: str | None = None,
    items: int | None = None,
    uid: str | None = None,
    cleanup: scratch_volumes.Cleanup | None = None,
) -> Outcome:
    """The schedule's ``status.restoreTest`` and ``RestoreTested`` condition (``schedule``: the
    Schedule as read, whose other conditions are kept)."""
    name = schedule["metadata"]["name"]
    conditions = (schedule.get("status") or {}).get("conditions")
    left = list(cleanup.left) if cleanup is not None else []
    if left:
        message += f"; left behind: {'; '.join(left)}"
    reason = "CleanupIncomplete" if left else phase
    condition = control.condition(CONDITION, phase == PASSED, reason=reason, message=message)
    if phase == IN_PROGRESS:
        condition["status"] = "Unknown"
    control.patch_status(
        client,
        control.SCHEDULE,
        namespace,
        name,
        {
            "restoreTest": {
                "backup": backup,
                "restore": restore,
                "phase": phase,
                "started": started,
                "completed": completed,
                "itemsRestored": items,
                "scratchNamespaces": scratch or None,
                "message": message,
                "restoreUid": uid,
                "cleanup": (cleanup.pending[:MAX_SCRATCH_VOLUMES] or None) if cleanup else None,
                "leftBehind": left[:MAX_SCRATCH_VOLUMES] or None,
                "cleanupAttempted": control.timestamp() if cleanup is not None else None,
            },
            "conditions": control.set_condition(conditions, condition),
        },
    )
    return Outcome(name, phase, message, restore=restore)
