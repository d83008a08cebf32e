"""``velero-backup.json``: the Backup object stored next to the archive.

It is a ``velero.io/v1`` Backup, so Velero (and tools built for it) can read ark's backups;
ark's own spec is kept whole in an annotation, so backup sync in another cluster recreates the
ark Backup exactly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from ark.api.backup import BackupPhase, BackupSpec
from ark.archive import layout
from ark.storage import Retention

SPEC_ANNOTATION = "ark.dev/backup-spec"
STATUS_ANNOTATION = "ark.dev/backup-status"
WRITER_ANNOTATION = "ark.dev/written-by-cluster"
"""The uid of the kube-system namespace of the cluster whose ark wrote the backup."""
MANIFEST_DIGEST_ANNOTATION = "ark.dev/manifest-sha256"
"""The SHA-256 (hex) of ark's manifest file as stored next to the archive: tamper evidence."""

_VELERO_SPEC_FIELDS = (
    "includedNamespaces",
    "excludedNamespaces",
    "includedResources",
    "excludedResources",
    "includeClusterResources",
    "labelSelector",
    "orLabelSelectors",
    "snapshotVolumes",
    "ttl",
    "storageLocation",
    "volumeSnapshotLocations",
    "hooks",
)


@dataclass(frozen=True)
class RecordStatus:
    """What the record says about how a backup ran."""

    phase: BackupPhase
    started: dt.datetime
    completed: dt.datetime
    expiration: dt.datetime | None
    total_items: int
    items_backed_up: int
    warnings: int
    errors: int
    hooks_attempted: int = 0
    hooks_failed: int = 0
    cluster_version: str | None = None
    cluster_uid: str | None = None
    """The uid of the backed-up cluster's kube-system namespace: who wrote the backup."""
    lock: Retention | None = None
    """The retention set on every object of the backup."""


def lock_status(lock: Retention) -> dict[str, str]:
    """A lock as a Backup's ``status.objectLock`` (and the record's status annotation)."""
    until = lock.until.astimezone(dt.UTC).isoformat(timespec="seconds")
    return {"mode": lock.mode, "until": until.replace("+00:00", "Z")}


def _ts(value: dt.datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def backup_record(name: str, spec: BackupSpec, result: RecordStatus) -> dict[str, Any]:
    """The ``velero.io/v1`` Backup kept as ``velero-backup.json``."""
    wire = spec.model_dump(mode="json", by_alias=True, exclude_none=True)
    status = {
        "phase": result.phase,
        "version": 1,
        "formatVersion": layout.FORMAT_VERSION,
        "startTimestamp": _ts(result.started),
        "completionTimestamp": _ts(result.completed),
        "expiration": _ts(result.expiration),
        "progress": {
            "totalItems": result.total_items,
            "itemsBackedUp": result.items_backed_up,
        },
        "warnings": result.warnings,
        "errors": result.errors,
        "hookStatus": {
            "hooksAttempted": result.hooks_attempted,
            "hooksFailed": result.hooks_failed,
        }
        if result.hooks_attempted
        else None,
        # Not Velero's (it ignores the field); backup sync carries it into the Backup's status.
        "objectLock": lock_status(result.lock) if result.lock else None,
    }
    annotations = {
        SPEC_ANNOTATION: orjson.dumps(wire).decode(),
        STATUS_ANNOTATION: orjson.dumps(
            {**status, "clusterVersion": result.cluster_version}
        ).decode(),
    }
    if result.cluster_uid:
        annotations[WRITER_ANNOTATION] = result.cluster_uid
    return {
        "apiVersion": "velero.io/v1",
        "kind": "Backup",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {k: wire[k] for k in _VELERO_SPEC_FIELDS if k in wire},
        "status": {k: v for k, v in status.items() if v is not None},
    }


def spec_from_document(document: dict[str, Any]) -> BackupSpec:
    """The ark BackupSpec of a stored backup (ark's annotation, else Velero's spec fields)."""
    annotations = (document.get("metadata") or {}).get("annotations") or {}
    if SPEC_ANNOTATION in annotations:
        return BackupSpec.model_validate(orjson.loads(annotations[SPEC_ANNOTATION]))
    velero = document.get("spec") or {}
    return BackupSpec.model_validate({k: velero[k] for k in _VELERO_SPEC_FIELDS if k in velero})


def writer_of(document: dict[str, Any]) -> str | None:
    """The cluster uid of the ark that wrote a stored backup; None when the record does not
    say (a Velero-written backup, or one written before ark recorded it)."""
    metadata = document.get("metadata") or {}
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    cluster = annotations.get(WRITER_ANNOTATION) if isinstance(annotations, dict) else None
    return cluster if isinstance(cluster, str) else None


def with_manifest_digest(document: Mapping[str, Any], digest: str) -> dict[str, Any]:
    """A copy of a record that keeps the stored manifest's SHA-256."""
    metadata = dict(document.get("metadata") or {})
    metadata["annotations"] = {
        **(metadata.get("annotations") or {}),
        MANIFEST_DIGEST_ANNOTATION: digest,
    }
    return {**document, "metadata": metadata}


def _annotations(document: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = document.get("metadata") or {}
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    return annotations if isinstance(annotations, dict) else {}


def manifest_digest_of(document: Mapping[str, Any]) -> str | None:
    """The manifest SHA-256 a record keeps; None in a record without one (Velero's, or ark's
    from before it kept one)."""
    digest = _annotations(document).get(MANIFEST_DIGEST_ANNOTATION)
    return digest if isinstance(digest, str) else None


def written_by_ark(document: Mapping[str, Any]) -> bool:
    """Whether ark wrote the record (its spec annotation or manifest digest is there): such a
    backup always has a manifest."""
    annotations = _annotations(document)
    return SPEC_ANNOTATION in annotations or MANIFEST_DIGEST_ANNOTATION in annotations
