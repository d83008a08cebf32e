"""Scheduled restore tests (``Schedule.spec.restoreTest``): each Completed backup of the
schedule is restored into scratch namespaces of this cluster, judged, and the scratch
namespaces deleted.

``start`` (after the backup) reads which namespaces the backup holds from its resource list,
maps each to a scratch namespace that must not exist yet (``rt-<hash of the backup>-<ns>``),
and creates a Restore of those namespaces only — mapped, no cluster-scoped objects, node ports
not kept (the originals hold them), claims and volumes left out (volumes are not tested yet) —
labelled ``ark.dev/restore-test: <schedule>``. It runs as any Restore, so its results and log
are where a user looks for them.

``judge`` (when that Restore finishes, and at each schedule look: an operator restarted
meanwhile finishes the job) passes a test whose Restore Completed — a restore is exact or
explained, so any difference made it PartiallyFailed — and fails any other. It writes the
schedule's ``status.restoreTest`` and its ``RestoreTested`` condition, and deletes the
scratch namespaces (a failed test's are kept with ``keepFailed``). Every call blocks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from ark import control
from ark.api import limits
from ark.api.restore import TERMINAL_RESTORE_PHASES, RestorePhase
from ark.api.schedule import ScheduleSpec
from ark.kube import KubeClient
from ark.operator import stores
from ark.storage import StoreError

TEST_LABEL = "ark.dev/restore-test"
CONDITION = "RestoreTested"
IN_PROGRESS, PASSED, FAILED = "InProgress", "Passed", "Failed"
SKIPPED = "Skipped"
"""Not a phase in status: a backup not tested because the previous test still runs."""
MAX_NAMESPACES = limits.NAMESPACE_MAPPINGS_MAX
"""A Restore maps at most this many namespaces."""
UNTESTED = ("persistentvolumeclaims", "persistentvolumes")


@dataclass(frozen=True)
class Outcome:
    """What a start or a judgement did, for the caller's Event and metrics."""

    schedule: str
    phase: str
    message: str
    restore: str | None = None
    seconds: float | None = None


def _digest(backup: str) -> str:
    return hashlib.sha256(backup.encode()).hexdigest()[:6]


def scratch_namespace(backup: str, source: str) -> str:
    """The namespace a test of ``backup`` restores ``source`` into (a DNS label)."""
    return f"rt-{_digest(backup)}-{source}"[:63].rstrip("-")


def restore_name(backup: str) -> str:
    return f"{backup[:48].rstrip('-')}-test-{_digest(backup)}"


def _spec(obj: dict[str, Any] | None) -> ScheduleSpec | None:
    if obj is None:
        return None
    try:
        return ScheduleSpec.model_validate(obj.get("spec") or {})
    except ValueError:
        return None


def _namespaces(resource_list: dict[str, list[str]]) -> list[str]:
    found: set[str] = set()
    for kind, names in resource_list.items():
        for name in names:
            if kind == "v1/Namespace":
                found.add(name)
            elif "/" in name:
                found.add(name.split("/", 1)[0])
    return sorted(found)


def start(client: KubeClient, namespace: str, schedule: str, backup: str) -> Outcome | None:
    """Create the Restore that tests ``backup`` when its schedule asks for restore tests; the
    outcome (InProgress, or Failed naming why it could not start), None when not asked."""
    obj = control.get(client, control.SCHEDULE, namespace, schedule)
    spec = _spec(obj)
    if obj is None or spec is None or spec.restore_test is None or not spec.restore_test.enabled:
        return None
    name = restore_name(backup)
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
        mapping = _mapping(client, namespace, backup)
    except _CannotTest as exc:
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
    body = {
        "metadata": {
            "name": name,
            "labels": {TEST_LABEL: schedule},
        },
        "spec": {
            "backupName": backup,
            "includedNamespaces": sorted(mapping),
            "namespaceMapping": mapping,
            "includeClusterResources": False,
            "excludedResources": list(UNTESTED),
            "preserveNodePorts": False,
        },
    }
    if control.create(client, control.RESTORE, namespace, body) is None:
        return None  # started before (a handler run again)
    message = (
        f"restoring backup {backup} into {', '.join(sorted(mapping.values()))} "
        f"(restore {name}; volumes not tested)"
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


class _CannotTest(Exception):
    pass


def _mapping(client: KubeClient, namespace: str, backup: str) -> dict[str, str]:
    """Each namespace of the backup to its scratch namespace; _CannotTest saying why not."""
    found = control.get(client, control.BACKUP, namespace, backup)
    if found is None:
        raise _CannotTest(f"backup {backup} is gone")
    try:
        bsl = control.resolve_bsl(
            client, namespace, (found.get("spec") or {}).get("storageLocation")
        )
        sources = _namespaces(stores.open_store(client, namespace, bsl).resource_list(backup))
    except (control.LocationError, StoreError) as exc:
        raise _CannotTest(f"cannot read the resource list of backup {backup}: {exc}") from None
    if not sources:
        raise _CannotTest(f"backup {backup} holds no namespaced objects to restore")
    if len(sources) > MAX_NAMESPACES:
        raise _CannotTest(
            f"backup {backup} holds {len(sources)} namespaces; a restore test maps at most "
            f"{MAX_NAMESPACES}"
        )
    mapping = {source: scratch_namespace(backup, source) for source in sources}
    taken = [t for t in mapping.values() if _exists(client, t)]
    if taken:
        raise _CannotTest(
            f"scratch namespace(s) {', '.join(taken)} exist already: a restore test writes "
            "only into namespaces it creates"
        )
    return mapping


def _exists(client: KubeClient, name: str) -> bool:
    return client.get_or_none(f"/api/v1/namespaces/{name}") is not None


def judge(client: KubeClient, namespace: str, schedule: str) -> Outcome | None:
    """Judge the schedule's restore test in progress once its Restore finished: the schedule's
    status and condition, the scratch namespaces deleted; None while there is nothing to do."""
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
    if restore is None:
        passed, why = False, f"restore {name} was deleted before it finished"
    elif phase == RestorePhase.COMPLETED:
        passed = True
        why = (
            f"backup {backup} restored exactly: {_items(status)} items in "
            f"{', '.join(scratch)} (volumes not tested)"
        )
    else:
        passed = False
        why = f"restore {name} is {phase}: {_why(status, name)}"
    spec = _spec(obj)
    test = spec.restore_test if spec is not None else None
    keep = not passed and test is not None and test.keep_failed
    if keep:
        why += f"; scratch namespaces kept: {', '.join(scratch)}"
    else:
        for target in scratch:
            client.delete_if_present(f"/api/v1/namespaces/{target}")
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
        items=_items(status) if restore is not None else None,
    )
    return Outcome(schedule, outcome.phase, why, restore=name, seconds=seconds)


def _items(status: dict[str, Any]) -> int:
    return int((status.get("progress") or {}).get("itemsRestored") or 0)


def _why(status: dict[str, Any], name: str) -> str:
    """The Restore's reason, or its first items' problems."""
    reason = status.get("failureReason") or "; ".join(status.get("validationErrors") or ())
    if reason:
        return str(reason)
    items = [
        f"{r.get('resource')} {'/'.join(x for x in (r.get('namespace'), r.get('name')) if x)}: "
        f"{r.get('message')}"
        for r in (status.get("results") or ())[:3]
    ]
    errors = int(status.get("errors") or 0)
    return ("; ".join(items) or f"{errors} errors") + f" (ark restore describe {name})"


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
) -> Outcome:
    """The schedule's ``status.restoreTest`` and ``RestoreTested`` condition (``schedule``: the
    Schedule as read, whose other conditions are kept)."""
    name = schedule["metadata"]["name"]
    conditions = (schedule.get("status") or {}).get("conditions")
    condition = control.condition(CONDITION, phase == PASSED, reason=phase, message=message)
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
            },
            "conditions": control.set_condition(conditions, condition),
        },
    )
    return Outcome(name, phase, message, restore=restore)
