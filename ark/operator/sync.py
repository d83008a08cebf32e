"""Backup sync: make the cluster's Backups match a storage location's bucket.

A backup found in the bucket (its record present) with no Backup in the cluster
appears as a Backup, already finished, with the status the bucket records: that is how another
cluster restores it. A finished Backup whose data vanished from the bucket gets the condition
``InStorage=False``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from ark import control, persistence
from ark.api.backup import BackupStatus
from ark.kube import KubeClient
from ark.operator import stores
from ark.persistence import manifest_digest_of, spec_from_document

_log = logging.getLogger("ark.operator")

IN_STORAGE = "InStorage"
FINISHED = ("Completed", "PartiallyFailed")
SYNCED_PHASES = (*FINISHED, "Failed")
"""A record in another phase is not shown as a Backup: it is unfinished (still running
elsewhere, or cut short) or not a phase at all, and never becomes Completed by being synced."""
_STATUS_FIELDS = set(BackupStatus.model_fields) | {
    f.alias for f in BackupStatus.model_fields.values() if f.alias
}


@dataclass
class SyncOutcome:
    created: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def status_from_document(document: dict[str, Any], *, location: str) -> dict[str, Any]:
    stored = document.get("status") or {}
    status = {k: v for k, v in stored.items() if k in _STATUS_FIELDS and k != "conditions"}
    progress = stored.get("progress") or {}
    status["progress"] = {
        "totalItems": int(progress.get("totalItems") or 0),
        "itemsBackedUp": int(progress.get("itemsBackedUp") or 0),
    }
    status["storageLocation"] = location
    status["phase"] = stored.get("phase")
    status["manifestDigest"] = manifest_digest_of(document)
    try:
        sealed = persistence.sealed_of(document)
    except ValueError:
        sealed = None  # a restore or verify says what is wrong with it
    status["encryptionKey"] = sealed.key_id if sealed is not None else None
    status["conditions"] = [
        control.condition(IN_STORAGE, True, reason="Synced", message=f"found in {location}")
    ]
    return status


def adopt(client: KubeClient, namespace: str, backup: dict[str, Any]) -> bool:
    """Set a synced Backup's status from the bucket; False when its data is not there."""
    name = backup["metadata"]["name"]
    bsl = control.get_bsl(
        client, namespace, backup["metadata"]["annotations"][control.SYNCED_ANNOTATION]
    )
    store = stores.open_store(client, namespace, bsl)
    document = store.complete_record(name)
    if document is None or (document.get("status") or {}).get("phase") not in SYNCED_PHASES:
        return False
    control.patch_status(
        client, control.BACKUP, namespace, name, status_from_document(document, location=bsl.name)
    )
    return True


def _create_from_bucket(
    client: KubeClient, namespace: str, bsl: str, name: str, document: dict[str, Any]
) -> bool:
    spec = spec_from_document(document).model_copy(update={"storage_location": bsl})
    body = {
        "metadata": {
            "name": name,
            "labels": {control.LOCATION_LABEL: bsl},
            "annotations": {control.SYNCED_ANNOTATION: bsl},
        },
        "spec": spec.model_dump(mode="json", by_alias=True, exclude_none=True),
    }
    if control.create(client, control.BACKUP, namespace, body) is None:
        return False
    control.patch_status(
        client, control.BACKUP, namespace, name, status_from_document(document, location=bsl)
    )
    return True


def _mark(
    client: KubeClient, namespace: str, backup: dict[str, Any], *, present: bool, location: str
) -> bool:
    """Update the InStorage condition; True when it changed."""
    status = backup.get("status") or {}
    current = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    wanted = "True" if present else "False"
    if current.get(IN_STORAGE, "True" if present else None) == wanted:
        return False
    message = (
        f"found in {location}"
        if present
        else f"{persistence.RECORD_FILE} of this backup is not in BackupStorageLocation {location}"
    )
    new = control.condition(
        IN_STORAGE, present, reason="Found" if present else "NotFoundInStorage", message=message
    )
    return control.patch_status(
        client,
        control.BACKUP,
        namespace,
        backup["metadata"]["name"],
        {"conditions": control.set_condition(status.get("conditions"), new)},
    )


def sync_location(client: KubeClient, namespace: str, bsl: control.StorageLocation) -> SyncOutcome:
    """One sync pass over one location. Raises StoreError/KubeError when it cannot start."""
    out = SyncOutcome()
    store = stores.open_store(client, namespace, bsl)
    in_bucket = store.backup_names()
    in_cluster = {
        b["metadata"]["name"]: b for b in control.list_objects(client, control.BACKUP, namespace)
    }
    for name in sorted(in_bucket - set(in_cluster)):
        document = store.complete_record(name)
        if document is None:
            continue  # no completion marker: in progress elsewhere, or half deleted
        phase = (document.get("status") or {}).get("phase")
        if phase not in SYNCED_PHASES:
            _log.info(
                "backup %s in %s: not synced: its record's phase is %r", name, bsl.name, phase
            )
            continue
        try:
            if _create_from_bucket(client, namespace, bsl.name, name, document):
                out.created.append(name)
        except (ValueError, KeyError) as exc:
            out.errors.append(f"backup {name} in {bsl.name}: cannot sync: {exc}")
    for name, backup in sorted(in_cluster.items()):
        status = backup.get("status") or {}
        if status.get("storageLocation") != bsl.name or status.get("phase") not in FINISHED:
            continue
        if backup["metadata"].get("deletionTimestamp"):
            continue
        present = name in in_bucket and store.complete_record(name) is not None
        if _mark(client, namespace, backup, present=present, location=bsl.name) and not present:
            out.missing.append(name)
    return out
