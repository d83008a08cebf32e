"""The snapshot.storage.k8s.io objects the csi snapshotter writes, and the choices it makes.

Pure functions (no cluster): the VolumeSnapshotClass for a driver, the VolumeSnapshot of a
backup, the pre-provisioned VolumeSnapshotContent and VolumeSnapshot of a restore, and the
restored claim that names them as its ``dataSource``.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Collection, Mapping
from typing import Any

from ark.api import types
from ark.kube import object_path
from ark.snapshot import errors

GROUP = "snapshot.storage.k8s.io"
VERSION = "v1"
API_VERSION = f"{GROUP}/{VERSION}"
DEFAULT_CLASS_ANNOTATION = "snapshot.storage.kubernetes.io/is-default-class"
EXCLUDE_LABELS = dict.fromkeys(types.EXCLUDE_LABELS, "true")
"""On every object ark makes here: later backups leave them out."""
RESTORED_FROM = "ark.dev/restored-from"
_PVC_BIND_ANNOTATIONS = (
    "pv.kubernetes.io/bind-completed",
    "pv.kubernetes.io/bound-by-controller",
    "volume.kubernetes.io/selected-node",
    "volume.beta.kubernetes.io/storage-provisioner",
    "volume.kubernetes.io/storage-provisioner",
)


def path(plural: str, *, namespace: str | None = None, name: str | None = None) -> str:
    return object_path(group=GROUP, version=VERSION, plural=plural, namespace=namespace, name=name)


def content_path(name: str | None = None) -> str:
    return path("volumesnapshotcontents", name=name)


def snapshot_path(namespace: str, name: str | None = None) -> str:
    return path("volumesnapshots", namespace=namespace, name=name)


def object_name(*parts: str, prefix: str) -> str:
    """A DNS-1123 name, the same for the same ``parts``: ``prefix-<digest>-<last part>``."""
    digest = hashlib.sha256("/".join(parts).encode()).hexdigest()[:10]
    return f"{prefix}-{digest}-{parts[-1]}"[:253].rstrip("-.")


def choose_class(
    classes: Mapping[str, Mapping[str, Any]], *, driver: str, named: str | None, pv: str
) -> str:
    """The VolumeSnapshotClass for ``driver``'s volumes: ``named`` when it is that driver's,
    else the driver's one default class. Raises NoSnapshotClass saying how to fix it."""
    if named:
        if named not in classes:
            raise errors.SnapshotConfigError(
                "volumeSnapshotClass", f"no VolumeSnapshotClass {named!r}"
            )
        if classes[named].get("driver") == driver:
            return named
    defaults = sorted(
        name
        for name, obj in classes.items()
        if obj.get("driver") == driver
        and ((obj.get("metadata") or {}).get("annotations") or {}).get(DEFAULT_CLASS_ANNOTATION)
        == "true"
    )
    if len(defaults) == 1:
        return defaults[0]
    found = (
        f"several default VolumeSnapshotClasses ({', '.join(defaults)})"
        if defaults
        else "no VolumeSnapshotClass"
    )
    raise errors.NoSnapshotClass(
        pv,
        f"{found} for CSI driver {driver}: annotate exactly one with "
        f"{DEFAULT_CLASS_ANNOTATION}=true, or name one in the VolumeSnapshotLocation's "
        "config volumeSnapshotClass",
    )


def backup_snapshot(
    *, namespace: str, name: str, claim: str, snapshot_class: str, tags: Mapping[str, str]
) -> dict[str, Any]:
    """The VolumeSnapshot a backup takes of ``claim``; ``tags`` become annotations."""
    return {
        "apiVersion": API_VERSION,
        "kind": "VolumeSnapshot",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": dict(EXCLUDE_LABELS),
            "annotations": dict(tags),
        },
        "spec": {
            "volumeSnapshotClassName": snapshot_class,
            "source": {"persistentVolumeClaimName": claim},
        },
    }


def restored_objects(
    source: Mapping[str, Any], *, name: str, namespace: str, tags: Mapping[str, str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A pre-provisioned VolumeSnapshotContent over ``source``'s snapshotHandle and the
    VolumeSnapshot bound to it in ``namespace``, both named ``name``. The content is Retain:
    deleting the restored namespace must not delete the backup's snapshot."""
    snapshot_id = str((source.get("metadata") or {}).get("name") or "")
    handle = (source.get("status") or {}).get("snapshotHandle")
    if not handle:
        raise errors.OperationFailed(
            "restore from", f"VolumeSnapshotContent {snapshot_id}", "it has no snapshotHandle yet"
        )
    spec = source.get("spec") or {}
    annotations = {**tags, RESTORED_FROM: snapshot_id}
    snapshot_class = (
        {"volumeSnapshotClassName": spec["volumeSnapshotClassName"]}
        if spec.get("volumeSnapshotClassName")
        else {}
    )
    mode = {"sourceVolumeMode": spec["sourceVolumeMode"]} if spec.get("sourceVolumeMode") else {}
    metadata = {"name": name, "labels": dict(EXCLUDE_LABELS), "annotations": annotations}
    content = {
        "apiVersion": API_VERSION,
        "kind": "VolumeSnapshotContent",
        "metadata": metadata,
        "spec": {
            "deletionPolicy": "Retain",
            "driver": spec["driver"],
            "source": {"snapshotHandle": handle},
            "volumeSnapshotRef": {"namespace": namespace, "name": name},
            **snapshot_class,
            **mode,
        },
    }
    snapshot = {
        "apiVersion": API_VERSION,
        "kind": "VolumeSnapshot",
        "metadata": {**copy.deepcopy(metadata), "namespace": namespace},
        "spec": {"source": {"volumeSnapshotContentName": name}, **snapshot_class},
    }
    return content, snapshot


SOURCE_KEYS = ("driver", "snapshotHandle", "volumeSnapshotClassName", "sourceVolumeMode")
"""What a ready content records for restores elsewhere (``SnapshotStatus.source``)."""


def source_of(content: Mapping[str, Any]) -> dict[str, str]:
    """A ready VolumeSnapshotContent's driver, snapshotHandle, class and volume mode: enough to
    pre-provision a content over the same snapshot in any cluster of the same storage."""
    spec, status = content.get("spec") or {}, content.get("status") or {}
    found = {
        **{k: spec.get(k) for k in SOURCE_KEYS},
        "snapshotHandle": status.get("snapshotHandle"),
    }
    return {k: str(v) for k, v in found.items() if v}


def content_from_source(
    snapshot_id: str, source: Mapping[str, str], *, classes: Collection[str]
) -> dict[str, Any]:
    """The backup's VolumeSnapshotContent ``snapshot_id`` as ``source`` recorded it, for
    ``restored_objects`` in a cluster where it does not exist; its class is kept only when the
    cluster has one of that name (a pre-provisioned content needs none)."""
    if not source.get("driver") or not source.get("snapshotHandle"):
        raise errors.OperationFailed(
            "restore from",
            f"VolumeSnapshotContent {snapshot_id}",
            "the backup recorded no driver and snapshotHandle for it",
        )
    spec = {"driver": source["driver"]}
    if source.get("volumeSnapshotClassName") in classes:
        spec["volumeSnapshotClassName"] = source["volumeSnapshotClassName"]
    if source.get("sourceVolumeMode"):
        spec["sourceVolumeMode"] = source["sourceVolumeMode"]
    return {
        "metadata": {"name": snapshot_id},
        "spec": spec,
        "status": {"snapshotHandle": source["snapshotHandle"]},
    }


def claim_from(claim: Mapping[str, Any], *, snapshot: str) -> dict[str, Any]:
    """A copy of ``claim`` provisioned from VolumeSnapshot ``snapshot``: ``dataSource`` set,
    no ``volumeName`` and no binding annotations, so the driver makes a new volume."""
    out: dict[str, Any] = copy.deepcopy(dict(claim))
    spec = out.setdefault("spec", {})
    spec.pop("volumeName", None)
    spec.pop("dataSourceRef", None)  # the API server derives it from dataSource
    spec["dataSource"] = {"apiGroup": GROUP, "kind": "VolumeSnapshot", "name": snapshot}
    annotations = (out.get("metadata") or {}).get("annotations") or {}
    for key in _PVC_BIND_ANNOTATIONS:
        annotations.pop(key, None)
    return out
