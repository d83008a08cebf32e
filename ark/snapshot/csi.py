"""Snapshots of any CSI driver's volumes through ``snapshot.storage.k8s.io/v1``.

Unlike the cloud plugins this one works in the cluster: it needs a KubeClient (``kube=``), and
the cluster's snapshot-controller and the driver's csi-snapshotter and csi-provisioner sidecars
do the work.

- **Backup**: a VolumeSnapshot of the PV's claim, with the VolumeSnapshotClass of the PV's driver
  (the one named by the ``volumeSnapshotClass`` config key, else the driver's class annotated
  ``snapshot.storage.kubernetes.io/is-default-class``). Its VolumeSnapshotContent is set to
  ``deletionPolicy: Retain`` at once, so the snapshot survives the namespace's deletion, the way
  Velero's CSI plugin keeps it. The snapshot id is the content's name (cluster-scoped). The
  VolumeSnapshot stays in the namespace, labelled to be left out of later backups.
- **Restore**: no volume is made here (``create_volume_from_snapshot`` refuses). The restored
  claim gets ``dataSource`` pointing at a VolumeSnapshot made in its namespace over a
  pre-provisioned VolumeSnapshotContent (the backup's ``snapshotHandle``, Retain), and the
  driver's provisioner makes the new volume; the PersistentVolume itself is not restored.
- **Delete a restored volume** (``delete_volume``, a restore test's cleanup): never here; the
  PV whose handle it is gets reclaim policy Delete and its claim is deleted, so the driver
  deletes the volume, once the claim is shown provisioned from a VolumeSnapshot carrying the
  restore's tags.
- **Delete**: the contents restores made over the snapshot are removed with their
  VolumeSnapshots, then the backup's content is switched to ``deletionPolicy: Delete`` and
  removed with its VolumeSnapshot; the driver deletes the snapshot, and the call waits until the
  content is gone.

Once ready, the content's driver and ``snapshotHandle`` are the snapshot's ``source``
(recorded with the backup), so a snapshot restores into any cluster whose driver reaches the
same storage, and after its content was deleted; a record without them (an older backup)
restores only where the content exists.

Config keys: ``volumeSnapshotClass`` (a class name, used for its driver's volumes), ``drivers``
(comma-separated CSI drivers to handle; default every driver except those the cloud plugins
snapshot through their own APIs: ``ebs.csi.aws.com``, ``disk.csi.azure.com``,
``pd.csi.storage.gke.io``), ``region`` (recorded with the snapshots), ``bindTimeout`` (how long
to wait for the snapshot-controller to create the content, default 60s), ``deleteTimeout``
(how long to wait for the driver to delete a snapshot, default 120s). No credentials.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from ark.kube import KubeApiError, KubeClient, KubeError
from ark.snapshot import config as settings
from ark.snapshot import csi_objects as objects
from ark.snapshot import errors, pvs
from ark.snapshot.interface import (
    BACKUP_TAG,
    MULTI_ZONE_DELIMITER,
    ClaimRestorer,
    PersistentVolume,
    SnapshotPhase,
    SnapshotStatus,
    VolumeRef,
    VolumeSnapshotter,
    check_owner,
    check_volume_owner,
    has_tags,
)

PROVIDER = "csi"
CLOUD_DRIVERS = frozenset({"ebs.csi.aws.com", "disk.csi.azure.com", "pd.csi.storage.gke.io"})
"""Drivers whose volumes the cloud plugins snapshot; handled here only when named in ``drivers``."""
CONFIG_KEYS = frozenset(
    {"region", "volumeSnapshotClass", "drivers", "bindTimeout", "deleteTimeout"}
)
DEFAULT_CLASS_ANNOTATION = objects.DEFAULT_CLASS_ANNOTATION
POLL_INTERVAL = 0.25

_T = TypeVar("_T")


@dataclass(frozen=True)
class CsiVolume(VolumeRef):
    """A CSI volume and what snapshotting it through its claim needs."""

    driver: str = ""
    claim_namespace: str = ""
    claim_name: str = ""
    snapshot_class: str = ""


class CsiSnapshotter(VolumeSnapshotter, ClaimRestorer):
    """VolumeSnapshots of one cluster's CSI volumes (see the module docstring)."""

    def __init__(
        self,
        kube: KubeClient,
        *,
        region: str,
        snapshot_class: str | None,
        drivers: frozenset[str] | None,
        bind_timeout: float,
        delete_timeout: float,
    ) -> None:
        self._kube = kube
        self._region = region
        self._snapshot_class = snapshot_class
        self._drivers = drivers
        self._bind_timeout = bind_timeout
        self._delete_timeout = delete_timeout

    @property
    def provider(self) -> str:
        return PROVIDER

    @property
    def region(self) -> str:
        return self._region

    @property
    def _where(self) -> str:
        return f"the VolumeSnapshotContents of {self._kube.server}"

    def handles(self, driver: str) -> bool:
        return driver in self._drivers if self._drivers is not None else driver not in CLOUD_DRIVERS

    # -- backup ----------------------------------------------------------------------------
    def volume_of(self, pv: PersistentVolume) -> VolumeRef | None:
        csi = (pv.get("spec") or {}).get("csi")
        if not isinstance(csi, Mapping) or not self.handles(str(csi.get("driver") or "")):
            return None
        driver = str(csi["driver"])
        handle = pvs.csi_handle(pv, driver)
        assert handle is not None
        name = pvs.name_of(pv)
        claim = (pv.get("spec") or {}).get("claimRef") or {}
        if not claim.get("name") or not claim.get("namespace"):
            raise errors.InvalidVolume(
                name, f"CSI driver {driver} snapshots claims, and this volume is bound to none"
            )
        zones = pvs.zones_of(pv)
        return CsiVolume(
            volume_id=handle,
            region=self._region,
            zone=MULTI_ZONE_DELIMITER.join(zones) or None,
            pv_name=name,
            driver=driver,
            claim_namespace=str(claim["namespace"]),
            claim_name=str(claim["name"]),
            snapshot_class=self._class_for(driver, pv=name),
        )

    def _class_for(self, driver: str, *, pv: str) -> str:
        classes = self._call("list VolumeSnapshotClasses", f"PersistentVolume {pv}", self._classes)
        return objects.choose_class(classes, driver=driver, named=self._snapshot_class, pv=pv)

    def _classes(self) -> dict[str, dict[str, Any]]:
        items = self._kube.get(objects.path("volumesnapshotclasses")).get("items") or []
        return {str(o["metadata"]["name"]): o for o in items}

    def create_snapshot(self, volume: VolumeRef, *, tags: Mapping[str, str]) -> str:
        """Create the claim's VolumeSnapshot, wait until its content exists, make the content
        Retain, and return the content's name. An existing VolumeSnapshot of this backup (an
        earlier attempt) is adopted."""
        if not isinstance(volume, CsiVolume):
            raise errors.OperationFailed(
                "snapshot", f"volume {volume.volume_id}", "not a CSI volume found by this provider"
            )
        namespace = volume.claim_namespace
        backup = tags.get(BACKUP_TAG, "")
        name = objects.object_name(backup, volume.claim_name, prefix="ark")
        subject = f"VolumeSnapshot {namespace}/{name} of claim {volume.claim_name}"
        body = objects.backup_snapshot(
            namespace=namespace,
            name=name,
            claim=volume.claim_name,
            snapshot_class=volume.snapshot_class,
            tags=tags,
        )
        self._call("create", subject, lambda: self._create(objects.snapshot_path(namespace), body))
        content = self._wait_bound(namespace, name, subject=subject)
        patch = {"metadata": {"annotations": dict(tags)}, "spec": {"deletionPolicy": "Retain"}}
        self._call(
            "retain", f"VolumeSnapshotContent {content}", lambda: self._patch(content, patch)
        )
        return content

    def _patch(self, content: str, body: Mapping[str, Any]) -> None:
        self._kube.request(
            "PATCH",
            objects.content_path(content),
            body=body,
            content_type="application/merge-patch+json",
        )

    def _wait_bound(self, namespace: str, name: str, *, subject: str) -> str:
        deadline = time.monotonic() + self._bind_timeout
        while True:
            snap = self._call(
                "read", subject, lambda: self._kube.get(objects.snapshot_path(namespace, name))
            )
            status = snap.get("status") or {}
            if status.get("boundVolumeSnapshotContentName"):
                return str(status["boundVolumeSnapshotContentName"])
            if time.monotonic() > deadline:
                error = (status.get("error") or {}).get("message")
                raise errors.OperationFailed(
                    "snapshot",
                    subject,
                    f"no VolumeSnapshotContent after {self._bind_timeout:.0f}s: "
                    + (str(error) if error else "is the snapshot-controller running?"),
                )
            time.sleep(POLL_INTERVAL)

    def snapshot_status(self, snapshot_id: str) -> SnapshotStatus:
        content = self._content(snapshot_id, action="read")
        status = content.get("status") or {}
        if status.get("readyToUse") is True:
            return SnapshotStatus(
                SnapshotPhase.COMPLETED, progress=100, source=objects.source_of(content)
            )
        error = (status.get("error") or {}).get("message")
        if error:
            return SnapshotStatus(SnapshotPhase.FAILED, message=f"{snapshot_id}: {error}")
        return SnapshotStatus(SnapshotPhase.PENDING)

    def _content(self, snapshot_id: str, *, action: str) -> dict[str, Any]:
        try:
            found: dict[str, Any] = self._kube.get(objects.content_path(snapshot_id))
        except KubeApiError as exc:
            if exc.not_found:
                raise errors.SnapshotNotFound(snapshot_id, self._where) from exc
            raise errors.OperationFailed(
                action, f"VolumeSnapshotContent {snapshot_id}", exc.message
            ) from exc
        except KubeError as exc:
            raise errors.OperationFailed(
                action, f"VolumeSnapshotContent {snapshot_id}", str(exc)
            ) from exc
        return found

    # -- restore ---------------------------------------------------------------------------
    def claim_from_snapshot(
        self,
        claim: Mapping[str, Any],
        *,
        snapshot_id: str,
        tags: Mapping[str, str],
        source: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Make snapshot ``snapshot_id`` available in the claim's namespace (a pre-provisioned
        VolumeSnapshotContent, Retain, and a VolumeSnapshot bound to it) and return a copy of
        ``claim`` whose ``dataSource`` names it, with no volumeName: the driver provisions a
        new volume from the snapshot. Where content ``snapshot_id`` does not exist (another
        cluster, or it was deleted) the snapshot is found through ``source``, the driver and
        snapshotHandle the backup recorded. Idempotent for the same restore
        (``ark.dev/restore``)."""
        from_record = False
        try:
            content = self._content(snapshot_id, action="restore from")
        except errors.SnapshotNotFound as exc:
            if not source or not source.get("snapshotHandle"):
                raise errors.SnapshotNotFound(
                    snapshot_id,
                    f"{self._where}, and the backup recorded no snapshotHandle for it "
                    "(taken before ark recorded them: restore into the cluster that took it)",
                ) from exc
            classes = self._call("list VolumeSnapshotClasses", snapshot_id, self._classes)
            content = objects.content_from_source(snapshot_id, source, classes=classes)
            from_record = True
        metadata = claim.get("metadata") or {}
        namespace, claim_name = str(metadata["namespace"]), str(metadata["name"])
        restore = tags.get("ark.dev/restore", "")
        # One name for both: the VolumeSnapshot (namespaced) and its content (cluster-scoped).
        name = objects.object_name(restore, snapshot_id, namespace, claim_name, prefix="ark")
        restored, snapshot = objects.restored_objects(
            content, name=name, namespace=namespace, tags=tags
        )
        subject = f"claim {namespace}/{claim_name}"
        self._call("restore", subject, lambda: self._create(objects.content_path(), restored))
        self._call(
            "restore", subject, lambda: self._create(objects.snapshot_path(namespace), snapshot)
        )
        if from_record:  # the driver's own content is not here: does the driver know it?
            self._wait_provisioned(restored, snapshot_id=snapshot_id, subject=subject)
        return objects.claim_from(claim, snapshot=name)

    def _wait_provisioned(
        self, content: Mapping[str, Any], *, snapshot_id: str, subject: str
    ) -> None:
        """Wait until the driver has found pre-provisioned ``content``'s snapshotHandle; when it
        reports an error, remove the content and its VolumeSnapshot (Retain: the storage is not
        touched) and raise, so the claim fails naming the snapshot rather than stay Pending."""
        name = str(content["metadata"]["name"])
        driver, handle = content["spec"]["driver"], content["spec"]["source"]["snapshotHandle"]
        deadline = time.monotonic() + self._bind_timeout
        while True:
            status = self._content(name, action="restore from").get("status") or {}
            if status.get("readyToUse") is True:
                return
            error = (status.get("error") or {}).get("message")
            if error or time.monotonic() > deadline:
                self._remove(content, subject=subject)
                cause = (
                    f"CSI driver {driver} refused its snapshotHandle {handle} (is this cluster "
                    f"on the storage that took it?): {error}"
                    if error
                    else f"CSI driver {driver} did not find its snapshotHandle {handle} in "
                    f"{self._bind_timeout:.0f}s (is the driver's csi-snapshotter running?)"
                )
                raise errors.OperationFailed("restore from", f"snapshot {snapshot_id}", cause)
            time.sleep(POLL_INTERVAL)

    def _create(self, path: str, body: Mapping[str, Any]) -> None:
        try:
            self._kube.request("POST", path, body=body)
        except KubeApiError as exc:
            if not exc.already_exists:
                raise

    def create_volume_from_snapshot(
        self,
        snapshot_id: str,
        *,
        zone: str | None,
        volume_type: str | None = None,
        iops: int | None = None,
        tags: Mapping[str, str],
    ) -> str:
        raise errors.OperationFailed(
            "create a volume from",
            f"snapshot {snapshot_id}",
            "CSI volumes are provisioned by their driver from a restored claim",
        )

    def copy_snapshot(self, snapshot_id: str, *, to_region: str, tags: Mapping[str, str]) -> str:
        raise errors.OperationFailed(
            "copy",
            f"snapshot {snapshot_id}",
            f"CSI snapshots are not copied between regions (to {to_region})",
        )

    def set_volume_id(
        self, pv: PersistentVolume, *, volume_id: str, zone: str | None
    ) -> dict[str, Any]:
        raise errors.InvalidVolume(
            pvs.name_of(pv), "a CSI volume restored from a snapshot gets a new PersistentVolume"
        )

    # -- adoption --------------------------------------------------------------------------
    def volumes_tagged(self, tags: Mapping[str, str]) -> list[VolumeRef]:
        """None: CSI volumes come back through their claims (the driver provisions them)."""
        del tags
        return []

    def snapshots_tagged(self, tags: Mapping[str, str]) -> list[str]:
        """VolumeSnapshotContents whose annotations carry ``tags``: ``create_snapshot``
        annotates a content in the same patch that makes it Retain, so one found here is kept
        (a VolumeSnapshot whose content was not annotated yet is adopted by
        ``create_snapshot`` itself, by name). Contents being deleted or in error are left."""
        listed = self._call(
            "list",
            f"VolumeSnapshotContents tagged {dict(tags)}",
            lambda: self._kube.get(objects.content_path()),
        )
        found: list[str] = []
        for content in listed.get("items") or []:
            metadata = content.get("metadata") or {}
            if metadata.get("deletionTimestamp") or ((content.get("status") or {}).get("error")):
                continue
            if has_tags(metadata.get("annotations") or {}, tags):
                found.append(str(metadata["name"]))
        return sorted(found)

    # -- delete ----------------------------------------------------------------------------
    def delete_snapshot(
        self, snapshot_id: str, *, owner_tags: Mapping[str, str] | None = None
    ) -> None:
        """Delete the content and, through its driver, the snapshot; wait until it is gone.
        The contents restores made over the same snapshot (Retain, so the snapshot is left to
        this call) go first, with their VolumeSnapshots. The tags are the content's
        annotations."""
        subject = f"VolumeSnapshotContent {snapshot_id}"
        if owner_tags is not None:
            try:
                found = self._content(snapshot_id, action="delete")
            except errors.SnapshotNotFound:
                return
            annotations = (found.get("metadata") or {}).get("annotations") or {}
            check_owner(snapshot_id, annotations, owner_tags)
        listed = self._call("delete", subject, lambda: self._kube.get(objects.content_path()))
        for other in listed.get("items") or []:
            annotations = (other.get("metadata") or {}).get("annotations") or {}
            if annotations.get(objects.RESTORED_FROM) == snapshot_id:
                self._remove(other, subject=subject)
        try:
            content = self._content(snapshot_id, action="delete")
        except errors.SnapshotNotFound:
            return
        self._call(
            "delete",
            subject,
            lambda: self._patch(snapshot_id, {"spec": {"deletionPolicy": "Delete"}}),
        )
        self._remove(content, subject=subject)
        deadline = time.monotonic() + self._delete_timeout
        while True:
            try:
                left = self._content(snapshot_id, action="delete")
            except errors.SnapshotNotFound:
                return
            if time.monotonic() > deadline:
                error = ((left.get("status") or {}).get("error") or {}).get("message")
                raise errors.OperationFailed(
                    "delete",
                    subject,
                    f"still there after {self._delete_timeout:.0f}s"
                    + (f": {error}" if error else " (is the driver's csi-snapshotter running?)"),
                )
            time.sleep(POLL_INTERVAL)

    def delete_volume(self, volume_id: str, *, owner_tags: Mapping[str, str]) -> None:
        """A CSI volume is deleted by its driver, never here: the PersistentVolume whose handle
        is ``volume_id`` is set to reclaim policy Delete and its claim deleted, so the driver
        deletes the volume (and the PV) once the claim is gone; the PV's absence shows it done.
        Owned means: the PV's claim (the one its claimRef names, same uid) was provisioned from
        a VolumeSnapshot (``dataSource``) annotated with every one of ``owner_tags``, as
        ``claim_from_snapshot`` makes it. A PV whose claim or snapshot is gone cannot be shown
        owned (NotOwned), unless it is set to Delete already (on its way)."""
        listed = self._call(
            "list", "PersistentVolumes", lambda: self._kube.get("/api/v1/persistentvolumes")
        )
        pv = next(
            (
                p
                for p in listed.get("items") or []
                if ((p.get("spec") or {}).get("csi") or {}).get("volumeHandle") == volume_id
            ),
            None,
        )
        if pv is None or pv["metadata"].get("deletionTimestamp"):
            return
        name, spec = str(pv["metadata"]["name"]), pv.get("spec") or {}
        subject = f"PersistentVolume {name} (volume {volume_id})"
        claim = self._claim_of(spec.get("claimRef") or {}, subject=subject)
        if claim is None:
            if spec.get("persistentVolumeReclaimPolicy") == "Delete" and owner_tags:
                return
            raise errors.NotOwned(volume_id, owner_tags, {}, what="volume", every=True)
        source = (claim.get("spec") or {}).get("dataSource") or {}
        found: Mapping[str, str] = {}
        namespace = str(claim["metadata"]["namespace"])
        if source.get("kind") == "VolumeSnapshot" and source.get("apiGroup") == objects.GROUP:
            path = objects.snapshot_path(namespace, str(source.get("name")))
            snap = self._call("read", subject, lambda: self._kube.get_or_none(path))
            found = ((snap or {}).get("metadata") or {}).get("annotations") or {}
        check_volume_owner(volume_id, found, owner_tags)
        if spec.get("persistentVolumeReclaimPolicy") != "Delete":
            self._call(
                "delete",
                subject,
                lambda: self._kube.request(
                    "PATCH",
                    f"/api/v1/persistentvolumes/{name}",
                    body={"spec": {"persistentVolumeReclaimPolicy": "Delete"}},
                    content_type="application/merge-patch+json",
                ),
            )
        where = f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/{claim['metadata']['name']}"
        self._call("delete", subject, lambda: self._delete(where, uid=claim["metadata"]["uid"]))

    def _claim_of(self, ref: Mapping[str, Any], *, subject: str) -> dict[str, Any] | None:
        """The claim ``ref`` (a PV's claimRef) names, if it exists and is that one (its uid)."""
        if not ref.get("namespace") or not ref.get("name"):
            return None
        path = f"/api/v1/namespaces/{ref['namespace']}/persistentvolumeclaims/{ref['name']}"
        claim: dict[str, Any] | None = self._call(
            "read", subject, lambda: self._kube.get_or_none(path)
        )
        if claim is None or (ref.get("uid") and claim["metadata"].get("uid") != ref["uid"]):
            return None
        return claim

    def _remove(self, content: Mapping[str, Any], *, subject: str) -> None:
        """Delete ``content`` and the VolumeSnapshot bound to it (if it is still that one)."""
        ref = (content.get("spec") or {}).get("volumeSnapshotRef") or {}
        if ref.get("namespace") and ref.get("name"):
            where = objects.snapshot_path(ref["namespace"], ref["name"])
            self._call("delete", subject, lambda: self._delete(where, uid=ref.get("uid")))
        name = str(content["metadata"]["name"])
        self._call("delete", subject, lambda: self._delete(objects.content_path(name)))

    def _delete(self, path: str, *, uid: str | None = None) -> None:
        body = {"preconditions": {"uid": uid}} if uid else None
        try:
            self._kube.request("DELETE", path, body=body)
        except KubeApiError as exc:
            # 404: already gone; 409 with a uid precondition: a newer object of the same name.
            if not (exc.not_found or (uid and exc.conflict)):
                raise

    def _call(self, action: str, subject: str, call: Callable[[], _T]) -> _T:
        try:
            return call()
        except KubeApiError as exc:
            if exc.status in (401, 403):
                raise errors.AccessDenied(
                    action, subject, exc.message, code=str(exc.status)
                ) from exc
            raise errors.OperationFailed(action, subject, exc.message, code=exc.reason) from exc
        except KubeError as exc:
            raise errors.OperationFailed(action, subject, str(exc)) from exc


def open_snapshotter(
    *,
    region: str,
    config: Mapping[str, str],
    credentials: Mapping[str, str],
    kube: KubeClient | None = None,
) -> CsiSnapshotter:
    settings.check_keys(config, CONFIG_KEYS, provider=PROVIDER)
    if credentials:
        raise errors.SnapshotConfigError(
            "credential", "csi snapshots need no credentials: the cluster's own access is used"
        )
    if kube is None:
        raise errors.SnapshotConfigError(
            "provider", "csi snapshots are taken through a cluster: open it with kube=KubeClient"
        )
    drivers = frozenset(d.strip() for d in config.get("drivers", "").split(",") if d.strip())
    return CsiSnapshotter(
        kube,
        region=config.get("region") or region,
        snapshot_class=config.get("volumeSnapshotClass", "").strip() or None,
        drivers=drivers or None,
        bind_timeout=settings.seconds(config, "bindTimeout", default=60.0),
        delete_timeout=settings.seconds(config, "deleteTimeout", default=120.0),
    )
