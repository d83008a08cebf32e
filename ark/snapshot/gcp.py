"""GCE persistent-disk snapshots through the Compute Engine API (google-cloud-compute, REST).

Snapshots are global resources in GCE: ``copy_snapshot`` returns the same id, and a disk can be
created from a snapshot in any zone. Regional PDs are supported; their zone is written in
Kubernetes' multi-zone form ``us-central1-a__us-central1-b``.

Config keys: ``project`` (where snapshots go and in-tree disks live; default: the credentials'
project), ``snapshotLocation`` (a storage location such as ``us``), ``computeUrl`` (an API
endpoint override, e.g. a local fake; without credentials it is called anonymously),
``pollingInterval`` and ``apiTimeout`` (waiting for deletes), and for imports
(``ark.snapshot.gce_images``) ``imageBucket`` (a Cloud Storage bucket for raw disk images) and
``storageUrl`` (its endpoint override). Credential key: ``cloud`` (a
service-account JSON key, as Velero's Secret holds it); none means Application Default
Credentials.

Tags become GCE labels, lower-cased and with other characters replaced by ``-`` (GCE's label
rules); the original tags are kept verbatim, as JSON, in the snapshot's description.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from google.api_core import exceptions as google_errors

from ark.snapshot import config as settings
from ark.snapshot import errors, gcp_clients, pvs
from ark.snapshot.interface import (
    MULTI_ZONE_DELIMITER,
    PersistentVolume,
    SnapshotPhase,
    SnapshotStatus,
    VolumeRef,
    VolumeSnapshotter,
    check_owner,
    check_volume_owner,
    has_tags,
)

PROVIDER = "gcp"
CSI_DRIVER = "pd.csi.storage.gke.io"
CSI_ZONE_KEY = "topology.gke.io/zone"
IN_TREE = "gcePersistentDisk"
CONFIG_KEYS = frozenset(
    {
        "project",
        "snapshotLocation",
        "computeUrl",
        "pollingInterval",
        "apiTimeout",
        "imageBucket",
        "storageUrl",
    }
)
IOPS_TYPES = frozenset({"pd-extreme", "hyperdisk-balanced", "hyperdisk-extreme"})
_DISK_PATH = re.compile(
    r"^projects/(?P<project>[^/]+)/(?P<scope>zones|regions)/(?P<where>[^/]+)/disks/(?P<name>[^/]+)$"
)
_SNAPSHOT_PATH = re.compile(r"^projects/(?P<project>[^/]+)/global/snapshots/(?P<name>[^/]+)$")
_LABEL_BAD = re.compile(r"[^a-z0-9_-]")
_GONE_STATES = frozenset({"DELETING", "FAILED"})


def region_of(zone: str) -> str:
    """``us-central1-a`` (or ``us-central1-a__us-central1-b``) → ``us-central1``."""
    return zone.split(MULTI_ZONE_DELIMITER, maxsplit=1)[0].rsplit("-", 1)[0]


def labels(tags: Mapping[str, str]) -> dict[str, str]:
    """Tags made into valid GCE labels."""
    out: dict[str, str] = {}
    for key, value in tags.items():
        k = _LABEL_BAD.sub("-", key.lower())[:63]
        if not k[:1].isalpha():
            k = f"k-{k}"[:63]
        out[k] = _LABEL_BAD.sub("-", value.lower())[:63]
    return out


def label_filter(tags: Mapping[str, str]) -> str:
    """A list ``filter`` matching resources whose labels are ``labels(tags)``:
    ``(labels.k = "v") AND (labels.k2 = "v2")`` (label keys and values need no escaping)."""
    return " AND ".join(f'(labels.{k} = "{v}")' for k, v in sorted(labels(tags).items()))


def resource_name(base: str) -> str:
    """A valid GCE name (RFC 1035, at most 63 characters) made unique with a random suffix."""
    stem = re.sub(r"[^a-z0-9-]", "-", base.lower()).strip("-")[:50] or "ark"
    if not stem[0].isalpha():
        stem = f"ark-{stem}"[:50]
    return f"{stem.rstrip('-')}-{uuid.uuid4().hex[:12]}"


def _reason(exc: google_errors.GoogleAPICallError) -> tuple[str, str]:
    """GCE's own reason (``resourceNotReady``) and message, rather than the HTTP status."""
    for detail in exc.errors or []:
        if isinstance(detail, Mapping) and detail.get("reason"):
            return str(detail["reason"]), str(detail.get("message") or exc.message)
    return exc.reason or str(exc.code), str(exc.message)


@contextmanager
def calling(action: str, subject: str) -> Iterator[None]:
    """GCE's errors as ark's, naming what was being done to what."""
    try:
        yield
    except (google_errors.Unauthenticated, google_errors.PermissionDenied) as exc:
        raise errors.AccessDenied(action, subject, exc.message, code=str(exc.code)) from exc
    except google_errors.GoogleAPICallError as exc:
        reason, message = _reason(exc)
        raise errors.OperationFailed(action, subject, f"{reason}: {message}", code=reason) from exc
    except google_errors.GoogleAPIError as exc:
        raise errors.OperationFailed(action, subject, f"GCE unreachable: {exc}") from exc


def wait_op(
    op: Any,
    *,
    action: str,
    subject: str,
    read: Callable[[str], Any],
    timeout: float,
    interval: float,
) -> None:
    """Polls a GCE operation with ``read(name)`` until it is done (at most ``timeout``); an
    operation that ended with an error raises it, naming ``subject``."""
    deadline = time.monotonic() + timeout
    while not gcp_clients.done(op):
        if time.monotonic() > deadline:
            raise errors.OperationFailed(action, subject, f"not done after {timeout:g}s")
        time.sleep(interval)
        with calling(action, subject):
            op = read(op.name)
    if op.error.errors:
        first = op.error.errors[0]
        raise errors.OperationFailed(
            action, subject, f"{first.code}: {first.message}", code=first.code
        )


def _tail(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


class GcePdSnapshotter(VolumeSnapshotter):
    def __init__(
        self,
        *,
        region: str,
        project: str,
        snapshot_location: str | None,
        clients: gcp_clients.Clients,
        polling_interval: float,
        timeout: float,
    ) -> None:
        self._region = region
        self._project = project
        self._location = snapshot_location
        self._clients = clients
        self._interval = polling_interval
        self._timeout = timeout

    @property
    def provider(self) -> str:
        return PROVIDER

    @property
    def region(self) -> str:
        return self._region

    @contextmanager
    def _calling(self, action: str, subject: str) -> Iterator[None]:
        with calling(action, subject):
            try:
                yield
            except google_errors.NotFound as exc:
                if "snapshot" in subject:
                    raise errors.SnapshotNotFound(subject.removeprefix("snapshot "), "GCE") from exc
                raise errors.VolumeNotFound(subject.removeprefix("disk "), "GCE") from exc

    def _snapshot_ref(self, snapshot_id: str) -> tuple[str, str]:
        match = _SNAPSHOT_PATH.match(snapshot_id)
        return (match["project"], match["name"]) if match else (self._project, snapshot_id)

    def _snapshot_id(self, project: str, name: str) -> str:
        return name if project == self._project else f"projects/{project}/global/snapshots/{name}"

    def volume_of(self, pv: PersistentVolume) -> VolumeRef | None:
        source = pvs.in_tree_source(pv, IN_TREE)
        if source is not None:
            name = pvs.required_field(pv, source, "pdName", IN_TREE)
            zones = pvs.zones_of(pv)
            if len(zones) == 1:
                path = f"projects/{self._project}/zones/{zones[0]}/disks/{name}"
            elif len(zones) == 2:
                path = f"projects/{self._project}/regions/{region_of(zones[0])}/disks/{name}"
            else:
                raise errors.InvalidVolume(
                    pvs.name_of(pv), f"GCE disk {name}: zone labels give {zones or 'no zone'}"
                )
        else:
            handle = pvs.csi_handle(pv, CSI_DRIVER)
            if handle is None:
                return None
            path = handle
        match = _DISK_PATH.match(path)
        if match is None:
            raise errors.InvalidVolume(pvs.name_of(pv), f"{path!r} is not a GCE disk path")
        try:
            with self._calling("read", f"disk {path}"):
                disk = self._clients.get_disk(
                    project=match["project"],
                    scope=match["scope"],
                    where=match["where"],
                    name=match["name"],
                )
        except errors.VolumeNotFound:
            raise errors.VolumeNotFound(path, "GCE", pv=pvs.name_of(pv)) from None
        if match["scope"] == "zones":
            zone, region = match["where"], region_of(match["where"])
        else:
            zone = MULTI_ZONE_DELIMITER.join(sorted(_tail(z) for z in disk.replica_zones))
            region = match["where"]
        return VolumeRef(
            volume_id=path,
            region=region,
            zone=zone,
            pv_name=pvs.name_of(pv),
            volume_type=_tail(disk.type_) or None,
            iops=disk.provisioned_iops or None,
            size_gib=disk.size_gb or None,
            encrypted=True,  # GCE encrypts every disk at rest
            kms_key_id=disk.disk_encryption_key.kms_key_name or None,
        )

    def create_snapshot(self, volume: VolumeRef, *, tags: Mapping[str, str]) -> str:
        match = _DISK_PATH.match(volume.volume_id)
        subject = f"disk {volume.volume_id}" + (f" (PV {volume.pv_name})" if volume.pv_name else "")
        if match is None:
            raise errors.OperationFailed("snapshot", subject, "not a GCE disk path")
        name = resource_name(match["name"])
        description = json.dumps(
            {"ark": f"snapshot of {volume.pv_name or volume.volume_id}", "tags": dict(tags)},
            sort_keys=True,
        )
        with self._calling("snapshot", subject):
            self._clients.create_snapshot(
                project=match["project"],
                scope=match["scope"],
                where=match["where"],
                disk=match["name"],
                name=name,
                labels=labels(tags),
                description=description,
                location=self._location,
            )
        return self._snapshot_id(match["project"], name)

    def snapshot_status(self, snapshot_id: str) -> SnapshotStatus:
        project, name = self._snapshot_ref(snapshot_id)
        with self._calling("read", f"snapshot {snapshot_id}"):
            snap = self._clients.get_snapshot(project=project, name=name)
        if snap.status == "READY":
            return SnapshotStatus(SnapshotPhase.COMPLETED, progress=100)
        if snap.status in ("FAILED", "DELETING"):
            return SnapshotStatus(SnapshotPhase.FAILED, message=snap.status)
        return SnapshotStatus(SnapshotPhase.PENDING, message=snap.status)

    def create_volume_from_snapshot(
        self,
        snapshot_id: str,
        *,
        zone: str | None,
        volume_type: str | None = None,
        iops: int | None = None,
        tags: Mapping[str, str],
    ) -> str:
        project, snap_name = self._snapshot_ref(snapshot_id)
        subject = f"snapshot {snapshot_id}"
        if not zone:
            raise errors.OperationFailed("create a disk", subject, "a GCE disk needs a zone")
        with self._calling("read", subject):
            snap = self._clients.get_snapshot(project=project, name=snap_name)
        zones = zone.split(MULTI_ZONE_DELIMITER)
        if len(zones) == 1:
            scope, where = "zones", zone
        elif len(zones) == 2:
            scope, where = "regions", region_of(zone)
        else:
            raise errors.OperationFailed("create a disk", subject, f"{zone!r}: one or two zones")
        name = resource_name(f"restore-{snap_name}")
        with self._calling("create a disk from", subject):
            self._clients.insert_disk(
                project=project,
                scope=scope,
                where=where,
                name=name,
                source_snapshot=f"projects/{project}/global/snapshots/{snap_name}",
                disk_type=volume_type,
                iops=iops if volume_type in IOPS_TYPES else None,
                replica_zones=zones if scope == "regions" else [],
                labels=labels(tags),
                kms_key=snap.snapshot_encryption_key.kms_key_name or None,
            )
        return f"projects/{project}/{scope}/{where}/disks/{name}"

    def copy_snapshot(self, snapshot_id: str, *, to_region: str, tags: Mapping[str, str]) -> str:
        """GCE snapshots are global: every region can use this one, so nothing is copied."""
        del to_region, tags
        project, name = self._snapshot_ref(snapshot_id)
        with self._calling("read", f"snapshot {snapshot_id}"):
            self._clients.get_snapshot(project=project, name=name)
        return snapshot_id

    def delete_snapshot(
        self, snapshot_id: str, *, owner_tags: Mapping[str, str] | None = None
    ) -> None:
        """Waits for the delete operation (at most ``apiTimeout``)."""
        project, name = self._snapshot_ref(snapshot_id)
        subject = f"snapshot {snapshot_id}"
        try:
            if owner_tags is not None:
                with self._calling("read", subject):
                    snap = self._clients.get_snapshot(project=project, name=name)
                check_owner(snapshot_id, dict(snap.labels), labels(owner_tags))
            with self._calling("delete", subject):
                op = self._clients.delete_snapshot(project=project, name=name)
        except errors.SnapshotNotFound:
            return
        wait_op(
            op,
            action="delete",
            subject=subject,
            read=lambda n: self._clients.global_operation(project=project, name=n),
            timeout=self._timeout,
            interval=self._interval,
        )

    def delete_volume(self, volume_id: str, *, owner_tags: Mapping[str, str]) -> None:
        """``disks.delete`` (or ``regionDisks.delete``) once the disk's labels show every owner
        tag, waiting for the operation (at most ``apiTimeout``); GCE refuses a disk in use by
        an instance (``resourceInUseByAnotherResource``)."""
        match = _DISK_PATH.match(volume_id)
        if match is None:
            raise errors.OperationFailed(
                "delete", f"disk {volume_id}", "not a disk path (projects/P/zones/Z/disks/D)"
            )
        subject = f"disk {volume_id}"
        where = {k: match[k] for k in ("project", "scope", "where", "name")}
        try:
            with self._calling("read", subject):
                disk = self._clients.get_disk(**where)
            if disk.status == "DELETING":
                return
            check_volume_owner(volume_id, dict(disk.labels), labels(owner_tags))
            with self._calling("delete", subject):
                op = self._clients.delete_disk(**where)
        except errors.VolumeNotFound:
            return
        wait_op(
            op,
            action="delete",
            subject=subject,
            read=lambda n: self._clients.scoped_operation(
                project=where["project"], scope=where["scope"], where=where["where"], name=n
            ),
            timeout=self._timeout,
            interval=self._interval,
        )

    def volumes_tagged(self, tags: Mapping[str, str]) -> list[VolumeRef]:
        """Zonal and regional disks of the project (``disks.aggregatedList`` with a label
        filter)."""
        wanted = labels(tags)
        with self._calling("list", f"disks labelled {wanted}"):
            disks = self._clients.disks_filtered(project=self._project, filter_=label_filter(tags))
        found: list[VolumeRef] = []
        for disk in disks:
            if disk.status in _GONE_STATES or not has_tags(dict(disk.labels), wanted):
                continue
            if disk.replica_zones:
                zone = MULTI_ZONE_DELIMITER.join(sorted(_tail(z) for z in disk.replica_zones))
                scope, where = "regions", _tail(disk.region)
            else:
                zone = _tail(disk.zone)
                scope, where = "zones", zone
            path = f"projects/{self._project}/{scope}/{where}/disks/{disk.name}"
            found.append(VolumeRef(volume_id=path, region=region_of(zone), zone=zone))
        return sorted(found, key=lambda v: v.volume_id)

    def snapshots_tagged(self, tags: Mapping[str, str]) -> list[str]:
        """Snapshots of the project (global: any region's) through ``snapshots.list`` with a
        label filter."""
        wanted = labels(tags)
        with self._calling("list", f"snapshots labelled {wanted}"):
            snaps = self._clients.snapshots_filtered(
                project=self._project, filter_=label_filter(tags)
            )
        return sorted(
            self._snapshot_id(self._project, snap.name)
            for snap in snaps
            if snap.status not in _GONE_STATES and has_tags(dict(snap.labels), wanted)
        )

    def set_volume_id(
        self, pv: PersistentVolume, *, volume_id: str, zone: str | None
    ) -> dict[str, Any]:
        match = _DISK_PATH.match(volume_id)
        if match is None:
            raise errors.InvalidVolume(pvs.name_of(pv), f"{volume_id!r} is not a GCE disk path")
        return pvs.rewritten(
            pv,
            in_tree_kind=IN_TREE,
            in_tree_fields={"pdName": match["name"]},
            csi_driver=CSI_DRIVER,
            csi_handle_value=volume_id,
            csi_zone_key=CSI_ZONE_KEY,
            zone=zone,
            region=region_of(zone) if zone else self._region,
        )


def project_and_clients(
    config: Mapping[str, str], credentials: Mapping[str, str]
) -> tuple[str, gcp_clients.Clients]:
    """A GCE location's project and API clients, its config keys checked."""
    settings.check_keys(config, CONFIG_KEYS, provider=PROVIDER)
    endpoint = settings.endpoint(config, "computeUrl")
    creds, default_project = gcp_clients.credentials(credentials, anonymous=endpoint is not None)
    project = config.get("project") or default_project
    if not project:
        raise errors.SnapshotConfigError(
            "project", "required (in config, or the service account key's project_id)"
        )
    return project, gcp_clients.Clients(creds, endpoint=endpoint)


def open_snapshotter(
    *, region: str, config: Mapping[str, str], credentials: Mapping[str, str]
) -> GcePdSnapshotter:
    project, clients = project_and_clients(config, credentials)
    return GcePdSnapshotter(
        region=region,
        project=project,
        snapshot_location=config.get("snapshotLocation") or None,
        clients=clients,
        polling_interval=settings.seconds(config, "pollingInterval", default=2.0),
        timeout=settings.seconds(config, "apiTimeout", default=600.0),
    )
