"""ark's custom resources in the operator's namespace, through the raw-JSON client.

Blocking calls: handlers run them with ``asyncio.to_thread``. Status goes through the status
subresource as a JSON merge patch (lists are replaced whole, ``None`` removes a field).
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import orjson

from ark.api import kinds
from ark.api.kinds import Kind
from ark.api.types import GROUP, VERSION
from ark.kube import KubeApiError, KubeClient, object_path

SCHEDULE_LABEL = "ark.dev/schedule-name"
LOCATION_LABEL = "ark.dev/storage-location"
SYNCED_ANNOTATION = "ark.dev/synced-from"
MERGE_PATCH = "application/merge-patch+json"

Obj = dict[str, Any]


def path(kind: Kind, namespace: str, name: str | None = None) -> str:
    return object_path(
        group=GROUP, version=VERSION, plural=kind.plural, namespace=namespace, name=name
    )


def timestamp(value: dt.datetime | None = None) -> str:
    """RFC 3339 in UTC with a Z, as the API server writes times."""
    when = value or dt.datetime.now(dt.UTC)
    return when.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def get(client: KubeClient, kind: Kind, namespace: str, name: str) -> Obj | None:
    """The object, or None when it does not exist."""
    try:
        found: Obj = client.get(path(kind, namespace, name))
    except KubeApiError as exc:
        if exc.not_found:
            return None
        raise
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
    """Merge ``status`` into the object's status; False when the object is gone."""
    try:
        client.request(
            "PATCH",
            path(kind, namespace, name) + "/status",
            body={"status": status},
            content_type=MERGE_PATCH,
        )
    except KubeApiError as exc:
        if exc.not_found:
            return False
        raise
    return True


def patch(client: KubeClient, kind: Kind, namespace: str, name: str, body: Obj) -> bool:
    try:
        client.request("PATCH", path(kind, namespace, name), body=body, content_type=MERGE_PATCH)
    except KubeApiError as exc:
        if exc.not_found:
            return False
        raise
    return True


def delete(client: KubeClient, kind: Kind, namespace: str, name: str) -> bool:
    """Ask for deletion (finalizers still run); False when it was already gone."""
    try:
        client.request("DELETE", path(kind, namespace, name))
    except KubeApiError as exc:
        if exc.not_found:
            return False
        raise
    return True


def secret_data(client: KubeClient, namespace: str, name: str) -> dict[str, str]:
    """The decoded keys of a Secret. Values are never logged."""
    secret = client.get(
        object_path(group="", version="v1", plural="secrets", namespace=namespace, name=name)
    )
    return {
        key: base64.b64decode(value).decode("utf-8", "replace")
        for key, value in (secret.get("data") or {}).items()
    }


def condition(type_: str, status: bool, *, reason: str, message: str = "") -> dict[str, str]:
    return {
        "type": type_,
        "status": "True" if status else "False",
        "reason": reason,
        "message": message,
        "lastTransitionTime": timestamp(),
    }


def set_condition(conditions: list[Obj] | None, new: dict[str, str]) -> list[Obj]:
    """Conditions with ``new`` replacing one of its type (keeping the old transition time when
    the status did not change)."""
    out: list[Obj] = []
    for old in conditions or []:
        if old.get("type") == new["type"]:
            if old.get("status") == new["status"]:
                new = {**new, "lastTransitionTime": old.get("lastTransitionTime") or timestamp()}
            continue
        out.append(old)
    out.append(new)
    return out


BACKUP = kinds.BACKUP
RESTORE = kinds.RESTORE
SCHEDULE = kinds.SCHEDULE
BSL = kinds.BACKUP_STORAGE_LOCATION
VSL = kinds.VOLUME_SNAPSHOT_LOCATION
DBR = kinds.DELETE_BACKUP_REQUEST
