"""ark's custom resources in one namespace, through the raw-JSON client: create, get, list,
patch and delete them, and the labels and annotations ark sets on them.

Every call blocks; the operator's handlers run them with ``asyncio.to_thread``. Status goes
through the status subresource as a JSON merge patch (lists are replaced whole, ``None``
removes a field).
"""

from __future__ import annotations

from typing import Any

import orjson

from ark.api import kinds, readiness
from ark.api.kinds import Kind
from ark.api.types import GROUP, VERSION
from ark.control._status import condition, set_condition
from ark.kube import KubeApiError, KubeClient, object_path

SCHEDULE_LABEL = "ark.dev/schedule-name"
"""On a Backup a Schedule made: the schedule's name."""
LOCATION_LABEL = "ark.dev/storage-location"
"""On a Backup backup sync made: the BackupStorageLocation it was found in."""
SYNCED_ANNOTATION = "ark.dev/synced-from"
"""On a Backup backup sync made: the location it came from (such a Backup is adopted, not run)."""
_MERGE_PATCH = "application/merge-patch+json"

Obj = dict[str, Any]

BACKUP = kinds.BACKUP
RESTORE = kinds.RESTORE
SCHEDULE = kinds.SCHEDULE
BSL = kinds.BACKUP_STORAGE_LOCATION
VSL = kinds.VOLUME_SNAPSHOT_LOCATION
DBR = kinds.DELETE_BACKUP_REQUEST


def path(kind: Kind, namespace: str, name: str | None = None) -> str:
    return object_path(
        group=GROUP, version=VERSION, plural=kind.plural, namespace=namespace, name=name
    )


def get(client: KubeClient, kind: Kind, namespace: str, name: str) -> Obj | None:
    """The object, or None when it does not exist."""
    found: Obj | None = client.get_or_none(path(kind, namespace, name))
    return found


def list_objects(
    client: KubeClient, kind: Kind, namespace: str, *, label_selector: str | None = None
) -> list[Obj]:
    query: dict[str, str | int | bool] = {"limit": 500}
    if label_selector:
        query["labelSelector"] = label_selector
    items: list[Obj] = []
    while True:
        page = client.get(path(kind, namespace), query=query)
        items.extend(page.get("items") or [])
        token = (page.get("metadata") or {}).get("continue")
        if not token:
            return items
        query["continue"] = token


def create(client: KubeClient, kind: Kind, namespace: str, obj: Obj) -> Obj | None:
    """Create; None when an object of that name already exists."""
    body = {"apiVersion": kind.api_version, "kind": kind.kind, **obj}
    try:
        created: Obj = orjson.loads(client.request("POST", path(kind, namespace), body=body))
    except KubeApiError as exc:
        if exc.already_exists:
            return None
        raise
    return created


def patch_status(client: KubeClient, kind: Kind, namespace: str, name: str, status: Obj) -> bool:
    """Merge ``status`` into the object's status; False when the object is gone. A patch that
    sets the phase also sets the conditions it stands for (``Ready``, ``Reconciling``,
    ``Stalled``: ``ark.api.readiness``), merged with the object's others."""
    phase = status.get("phase")
    if isinstance(phase, str) and readiness.readiness(kind.kind, phase) is not None:
        return _patch_phase(client, kind, namespace, name, status, phase=phase)
    return _patch(client, path(kind, namespace, name) + "/status", {"status": status})


def _patch(client: KubeClient, where: str, body: Obj) -> bool:
    try:
        client.request("PATCH", where, body=body, content_type=_MERGE_PATCH)
    except KubeApiError as exc:
        if exc.not_found:
            return False
        raise
    return True


_CONFLICT_RETRIES = 5


def _patch_phase(
    client: KubeClient, kind: Kind, namespace: str, name: str, status: Obj, *, phase: str
) -> bool:
    """The patch with the phase's conditions, against the conditions it read (retried when
    another writer changed the object in between: the resourceVersion is the precondition)."""
    where = path(kind, namespace, name)
    for attempt in range(_CONFLICT_RETRIES):
        current = get(client, kind, namespace, name)
        if current is None:
            return False
        old = current.get("status") or {}
        listed = status.get("errors", old.get("errors"))
        ready = readiness.readiness(
            kind.kind, phase, errors=isinstance(listed, list) and bool(listed)
        )
        assert ready is not None
        why = _why(status, phase)
        conditions = status.get("conditions", old.get("conditions"))
        for type_, on in (
            (readiness.READY, ready.ready),
            (readiness.RECONCILING, ready.reconciling),
            (readiness.STALLED, ready.stalled),
        ):
            conditions = set_condition(conditions, condition(type_, on, reason=phase, message=why))
        body = {
            "metadata": {"resourceVersion": current["metadata"]["resourceVersion"]},
            "status": {**status, "conditions": conditions},
        }
        try:
            return _patch(client, where + "/status", body)
        except KubeApiError as exc:
            if not exc.conflict or attempt == _CONFLICT_RETRIES - 1:
                raise
    return False  # pragma: no cover - the loop returns or raises


def _why(status: Obj, phase: str) -> str:
    """The message the phase's conditions carry: the reason it gave, if any."""
    for key in ("failureReason", "message"):
        if isinstance(status.get(key), str) and status[key]:
            return str(status[key])
    errors = status.get("validationErrors") or status.get("errors")
    if isinstance(errors, list) and errors:
        return "; ".join(str(e) for e in errors)
    return phase


def patch(client: KubeClient, kind: Kind, namespace: str, name: str, body: Obj) -> bool:
    try:
        client.request("PATCH", path(kind, namespace, name), body=body, content_type=_MERGE_PATCH)
    except KubeApiError as exc:
        if exc.not_found:
            return False
        raise
    return True


def delete(client: KubeClient, kind: Kind, namespace: str, name: str) -> bool:
    """Ask for deletion (finalizers still run); False when it was already gone."""
    return client.delete_if_present(path(kind, namespace, name))
