"""Azure managed-disk snapshots through Azure Resource Manager (azure-mgmt-compute).

Config keys (Velero's where they exist): ``subscriptionId``, ``resourceGroup`` (where snapshots
go; default: the disk's group), ``region`` (where this location's new disks go: a restore's
target in another region, or an import from another cloud; snapshots stay in their disk's),
``incremental`` (default true; cross-region copies need it), ``apiTimeout`` (how long a delete
may take, e.g. ``10m``), ``pollingInterval`` (seconds between polls of a long-running
operation), ``armEndpoint`` (an ARM endpoint override, e.g. a local fake).

Credential keys: ``cloud`` (Velero's ``KEY=value`` file) or the keys themselves:
``AZURE_SUBSCRIPTION_ID``, ``AZURE_TENANT_ID``, ``AZURE_CLIENT_ID``, ``AZURE_CLIENT_SECRET``,
``AZURE_RESOURCE_GROUP`` (where restored disks go; default: the snapshot's group) or
``AZURE_ACCESS_TOKEN`` (a bearer token used as is). Without a secret or token, the SDK's default
chain (workload identity, managed identity) is used.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from azure.core import exceptions as azure_errors
from azure.mgmt.compute import ComputeManagementClient, models

from ark.snapshot import azure_auth, errors, pvs
from ark.snapshot import config as settings
from ark.snapshot.interface import (
    PersistentVolume,
    SnapshotPhase,
    SnapshotStatus,
    VolumeRef,
    VolumeSnapshotter,
    check_owner,
    check_volume_owner,
    has_tags,
)

PROVIDER = "azure"
CSI_DRIVER = "disk.csi.azure.com"
CSI_ZONE_KEY = "topology.disk.csi.azure.com/zone"
IN_TREE = "azureDisk"
CONFIG_KEYS = frozenset(
    {
        "subscriptionId",
        "resourceGroup",
        "region",
        "incremental",
        "apiTimeout",
        "pollingInterval",
        "armEndpoint",
    }
)
IOPS_SKUS = frozenset({"UltraSSD_LRS", "PremiumV2_LRS"})
_GONE_STATES = frozenset({"Deleting", "Failed"})
_ARM_ID = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.Compute/"
    r"(?P<kind>disks|snapshots)/(?P<name>[^/]+)$",
    re.IGNORECASE,
)


def parse_id(resource_id: str, kind: str) -> tuple[str, str, str]:
    """``(subscription, resource group, name)`` of an ARM disk or snapshot id."""
    match = _ARM_ID.match(resource_id.strip())
    if not match or match["kind"].lower() != kind:
        raise ValueError(f"{resource_id!r} is not an Azure {kind[:-1]} id")
    return match["sub"], match["rg"], match["name"]


def zone_label(region: str, zones: list[str] | None) -> str | None:
    """Azure's ``["1"]`` in ``eastus`` is Kubernetes' ``eastus-1``."""
    return f"{region}-{zones[0]}" if zones else None


def zone_number(zone: str, *, region: str) -> str:
    """``eastus-1`` (or ``1``) → ``1``; the region must match."""
    prefix, _, number = zone.rpartition("-")
    if prefix and prefix.lower() != region.lower():
        raise ValueError(f"zone {zone} is not in region {region}")
    if number not in ("1", "2", "3"):
        raise ValueError(f"{zone!r} is not an Azure zone (like {region}-1)")
    return number


class AzureDiskSnapshotter(VolumeSnapshotter):
    def __init__(
        self,
        *,
        region: str,
        client_for: Callable[[str], ComputeManagementClient],
        subscription: str,
        snapshot_group: str | None,
        disk_group: str | None,
        incremental: bool,
        timeout: float,
    ) -> None:
        self._region = region
        self._client_for = client_for
        self._clients: dict[str, ComputeManagementClient] = {}
        self._lock = threading.Lock()
        self._subscription = subscription
        self._snapshot_group = snapshot_group
        self._disk_group = disk_group
        self._incremental = incremental
        self._timeout = timeout

    @property
    def provider(self) -> str:
        return PROVIDER

    @property
    def region(self) -> str:
        return self._region

    def _compute(self, subscription: str) -> ComputeManagementClient:
        with self._lock:
            if subscription not in self._clients:
                self._clients[subscription] = self._client_for(subscription)
            return self._clients[subscription]

    @contextmanager
    def _calling(
        self, action: str, subject: str, *, missing: errors.SnapshotError | None = None
    ) -> Iterator[None]:
        """Azure's errors as ark's; a 404 means ``missing`` (default: the subject)."""
        try:
            yield
        except azure_errors.ResourceNotFoundError as exc:
            if _code(exc) == "ResourceGroupNotFound":
                raise errors.OperationFailed(
                    action, subject, _message(exc), code=_code(exc)
                ) from exc
            if missing is not None:
                raise missing from exc
            if "snapshot" in subject:
                raise errors.SnapshotNotFound(subject.removeprefix("snapshot "), "Azure") from exc
            raise errors.VolumeNotFound(subject.removeprefix("disk "), "Azure") from exc
        except azure_errors.ClientAuthenticationError as exc:
            raise errors.AccessDenied(action, subject, _message(exc), code=_code(exc)) from exc
        except azure_errors.HttpResponseError as exc:
            kind = errors.AccessDenied if exc.status_code == 403 else errors.OperationFailed
            raise kind(action, subject, _message(exc), code=_code(exc)) from exc
        except azure_errors.AzureError as exc:
            raise errors.OperationFailed(action, subject, f"Azure unreachable: {exc}") from exc

    def _get(self, kind: str, resource_id: str) -> dict[str, Any]:
        sub, rg, name = parse_id(resource_id, kind)
        compute = self._compute(sub)
        with self._calling("read", f"{kind[:-1]} {resource_id}"):
            ops = compute.disks if kind == "disks" else compute.snapshots
            found: dict[str, Any] = ops.get(rg, name).as_dict()
        return found

    def volume_of(self, pv: PersistentVolume) -> VolumeRef | None:
        source = pvs.in_tree_source(pv, IN_TREE)
        if source is not None:
            disk_id = pvs.required_field(pv, source, "diskURI", IN_TREE)
        else:
            handle = pvs.csi_handle(pv, CSI_DRIVER)
            if handle is None:
                return None
            disk_id = handle
        try:
            parse_id(disk_id, "disks")
        except ValueError as exc:
            raise errors.InvalidVolume(pvs.name_of(pv), str(exc)) from None
        try:
            disk = self._get("disks", disk_id)
        except errors.VolumeNotFound:
            raise errors.VolumeNotFound(disk_id, "Azure", pv=pvs.name_of(pv)) from None
        props = disk.get("properties") or {}
        encryption = props.get("encryption") or {}
        location = str(disk.get("location") or self._region)
        return VolumeRef(
            volume_id=disk_id,
            region=location,
            zone=zone_label(location, disk.get("zones")),
            pv_name=pvs.name_of(pv),
            volume_type=(disk.get("sku") or {}).get("name"),
            iops=props.get("diskIOPSReadWrite"),
            size_gib=props.get("diskSizeGB"),
            encrypted=True,  # managed disks are always encrypted at rest
            kms_key_id=encryption.get("diskEncryptionSetId"),
        )

    def _begin_put(
        self,
        kind: str,
        resource_id: str,
        body: dict[str, Any],
        *,
        action: str,
        subject: str,
        missing: errors.SnapshotError,
    ) -> None:
        """Send the PUT and return once ARM has accepted it; progress is read with GETs."""
        sub, rg, name = parse_id(resource_id, kind)
        compute = self._compute(sub)
        with self._calling(action, subject, missing=missing):
            if kind == "disks":
                compute.disks.begin_create_or_update(rg, name, models.Disk(body), polling=False)
            else:
                compute.snapshots.begin_create_or_update(
                    rg, name, models.Snapshot(body), polling=False
                )

    def create_snapshot(self, volume: VolumeRef, *, tags: Mapping[str, str]) -> str:
        _, disk_rg, disk_name = parse_id(volume.volume_id, "disks")
        rg = self._snapshot_group or disk_rg
        name = f"{disk_name[:43]}-{uuid.uuid4()}"
        snapshot_id = (
            f"/subscriptions/{self._subscription}/resourceGroups/{rg}"
            f"/providers/Microsoft.Compute/snapshots/{name}"
        )
        body = {
            "location": volume.region,
            "tags": _tags(tags),
            "properties": {
                "creationData": {"createOption": "Copy", "sourceResourceId": volume.volume_id},
                "incremental": self._incremental,
            },
        }
        subject = f"disk {volume.volume_id}" + (f" (PV {volume.pv_name})" if volume.pv_name else "")
        missing = errors.VolumeNotFound(volume.volume_id, "Azure", pv=volume.pv_name)
        self._begin_put(
            "snapshots", snapshot_id, body, action="snapshot", subject=subject, missing=missing
        )
        return snapshot_id

    def snapshot_status(self, snapshot_id: str) -> SnapshotStatus:
        props = self._get("snapshots", snapshot_id).get("properties") or {}
        state = props.get("provisioningState")
        percent = props.get("completionPercent")
        progress = int(percent) if percent is not None else None
        copy_error = props.get("copyCompletionError")
        if copy_error:
            message = f"{copy_error.get('errorCode')}: {copy_error.get('errorMessage')}"
            return SnapshotStatus(SnapshotPhase.FAILED, progress=progress, message=message)
        if state == "Failed":
            return SnapshotStatus(
                SnapshotPhase.FAILED, progress=progress, message="provisioning failed"
            )
        if state != "Succeeded" or (progress is not None and progress < 100):
            return SnapshotStatus(SnapshotPhase.PENDING, progress=progress, message=state or "")
        return SnapshotStatus(SnapshotPhase.COMPLETED, progress=100)

    def create_volume_from_snapshot(
        self,
        snapshot_id: str,
        *,
        zone: str | None,
        volume_type: str | None = None,
        iops: int | None = None,
        tags: Mapping[str, str],
    ) -> str:
        snap = self._get("snapshots", snapshot_id)
        location = str(snap["location"])
        sub, snap_rg, _ = parse_id(snapshot_id, "snapshots")
        disk_id = (
            f"/subscriptions/{sub}/resourceGroups/{self._disk_group or snap_rg}"
            f"/providers/Microsoft.Compute/disks/ark-restore-{uuid.uuid4()}"
        )
        props: dict[str, Any] = {
            "creationData": {"createOption": "Copy", "sourceResourceId": snapshot_id}
        }
        encryption = (snap.get("properties") or {}).get("encryption") or {}
        if encryption.get("diskEncryptionSetId"):
            props["encryption"] = encryption
        if iops and volume_type in IOPS_SKUS:
            props["diskIOPSReadWrite"] = iops
        body: dict[str, Any] = {"location": location, "tags": _tags(tags), "properties": props}
        if volume_type:
            body["sku"] = {"name": volume_type}
        if zone:
            try:
                body["zones"] = [zone_number(zone, region=location)]
            except ValueError as exc:
                raise errors.OperationFailed(
                    "create a disk", f"snapshot {snapshot_id}", str(exc)
                ) from None
        self._begin_put(
            "disks",
            disk_id,
            body,
            action="create a disk",
            subject=f"snapshot {snapshot_id}",
            missing=errors.SnapshotNotFound(snapshot_id, "Azure"),
        )
        return disk_id

    def copy_snapshot(self, snapshot_id: str, *, to_region: str, tags: Mapping[str, str]) -> str:
        snap = self._get("snapshots", snapshot_id)
        if not (snap.get("properties") or {}).get("incremental"):
            raise errors.OperationFailed(
                f"copy to {to_region}",
                f"snapshot {snapshot_id}",
                "only incremental snapshots can be copied across regions (config incremental)",
            )
        sub, rg, name = parse_id(snapshot_id, "snapshots")
        copy_id = (
            f"/subscriptions/{sub}/resourceGroups/{self._snapshot_group or rg}"
            f"/providers/Microsoft.Compute/snapshots/{name[:40]}-{to_region[:20]}-{uuid.uuid4().hex[:8]}"
        )
        body = {
            "location": to_region,
            "tags": _tags(tags),
            "properties": {
                "creationData": {"createOption": "CopyStart", "sourceResourceId": snapshot_id},
                "incremental": True,
            },
        }
        self._begin_put(
            "snapshots",
            copy_id,
            body,
            action=f"copy to {to_region}",
            subject=f"snapshot {snapshot_id}",
            missing=errors.SnapshotNotFound(snapshot_id, "Azure"),
        )
        return copy_id

    def delete_snapshot(
        self, snapshot_id: str, *, owner_tags: Mapping[str, str] | None = None
    ) -> None:
        """Waits until ARM reports the snapshot deleted (at most ``apiTimeout``)."""
        sub, rg, name = parse_id(snapshot_id, "snapshots")
        subject = f"snapshot {snapshot_id}"
        try:
            if owner_tags is not None:
                found = self._get("snapshots", snapshot_id).get("tags") or {}
                check_owner(snapshot_id, found, _tags(owner_tags))
            with self._calling("delete", subject):
                poller = self._compute(sub).snapshots.begin_delete(rg, name)
                poller.result(timeout=self._timeout)
        except errors.SnapshotNotFound:
            return
        if not poller.done():
            raise errors.OperationFailed(
                "delete", subject, f"still deleting after {self._timeout:g}s"
            )

    # -- what block access needs (ark.snapshot.azure_blocks) --------------------------------
    def resource(self, resource_id: str) -> dict[str, Any]:
        """The disk or snapshot as ARM returns it (``as_dict``)."""
        return self._get(_kind_of(resource_id), resource_id)

    def grant_access(self, resource_id: str, *, write: bool, seconds: int) -> str:
        """A SAS URL to the disk's or snapshot's bytes (``beginGetAccess``), valid for
        ``seconds``: read access, or write access to a disk created for upload."""
        kind = _kind_of(resource_id)
        sub, rg, name = parse_id(resource_id, kind)
        compute = self._compute(sub)
        ops = compute.disks if kind == "disks" else compute.snapshots
        access = {"access": "Write" if write else "Read", "durationInSeconds": seconds}
        with self._calling("grant access to", f"{kind[:-1]} {resource_id}"):
            poller = ops.begin_grant_access(rg, name, models.GrantAccessData(access))
            granted = poller.result(timeout=self._timeout)
        url = getattr(granted, "access_sas", None) if granted is not None else None
        if not url:
            raise errors.OperationFailed(
                "grant access to", f"{kind[:-1]} {resource_id}", "ARM returned no SAS URL"
            )
        return str(url)

    def end_access(self, resource_id: str) -> None:
        """End every SAS of the disk or snapshot (``endGetAccess``); waits for it."""
        kind = _kind_of(resource_id)
        sub, rg, name = parse_id(resource_id, kind)
        compute = self._compute(sub)
        ops = compute.disks if kind == "disks" else compute.snapshots
        with self._calling("end access to", f"{kind[:-1]} {resource_id}"):
            ops.begin_revoke_access(rg, name).result(timeout=self._timeout)

    def create_upload_disk(self, upload_bytes: int, *, name: str, tags: Mapping[str, str]) -> str:
        """A disk in this region to upload ``upload_bytes`` into (the disk's bytes and the
        512-byte VHD footer), in the restore group; waits until ARM created it."""
        sub = self._subscription
        group = self._disk_group or self._snapshot_group
        if group is None:
            raise errors.SnapshotConfigError(
                "resourceGroup",
                "an import needs a resource group for its disks (AZURE_RESOURCE_GROUP in the "
                "credentials, or config resourceGroup)",
            )
        disk_id = (
            f"/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Compute/disks/{name}"
        )
        body = {
            "location": self._region,
            "tags": _tags(tags),
            "properties": {
                "creationData": {"createOption": "Upload", "uploadSizeBytes": upload_bytes}
            },
        }
        with self._calling("create an upload disk", f"disk {disk_id}"):
            poller = self._compute(sub).disks.begin_create_or_update(group, name, models.Disk(body))
            poller.result(timeout=self._timeout)
        return disk_id

    def delete_volume(self, volume_id: str, *, owner_tags: Mapping[str, str]) -> None:
        """Deletes the disk (``delete_disk``, waiting for ARM) once its tags show every owner
        tag; ARM refuses a disk attached to a VM (``OperationNotAllowed``)."""
        try:
            found = self._get("disks", volume_id)
        except errors.VolumeNotFound:
            return
        if (found.get("properties") or {}).get("provisioningState") == "Deleting":
            return
        check_volume_owner(volume_id, found.get("tags") or {}, _tags(owner_tags))
        self.delete_disk(volume_id)

    def delete_disk(self, disk_id: str) -> None:
        """Delete the disk and wait for it (a disk already gone is fine)."""
        sub, rg, name = parse_id(disk_id, "disks")
        try:
            with self._calling("delete", f"disk {disk_id}"):
                self._compute(sub).disks.begin_delete(rg, name).result(timeout=self._timeout)
        except errors.VolumeNotFound:
            return

    def _list(self, kind: str, group: str | None, tags: Mapping[str, str]) -> list[dict[str, Any]]:
        """The disks or snapshots of ``group`` (None: the whole subscription) carrying ``tags``
        (as ``_tags`` writes them). ARM lists have no tag filter for these types: the list is
        filtered here."""
        compute = self._compute(self._subscription)
        ops = compute.disks if kind == "disks" else compute.snapshots
        wanted = _tags(tags)
        where = f"resource group {group}" if group else f"subscription {self._subscription}"
        with self._calling("list", f"{kind} of {where} tagged {wanted}"):
            listed = ops.list_by_resource_group(group) if group else ops.list()
            found = [item.as_dict() for item in listed]
        return [
            item
            for item in found
            if has_tags(item.get("tags") or {}, wanted)
            and (item.get("properties") or {}).get("provisioningState") not in _GONE_STATES
        ]

    def volumes_tagged(self, tags: Mapping[str, str]) -> list[VolumeRef]:
        """In the restore group (``AZURE_RESOURCE_GROUP``), else the whole subscription (a
        restored disk goes to its snapshot's group then)."""
        found = []
        for disk in self._list("disks", self._disk_group, tags):
            location = str(disk.get("location") or self._region)
            found.append(
                VolumeRef(
                    volume_id=str(disk["id"]),
                    region=location,
                    zone=zone_label(location, disk.get("zones")),
                )
            )
        return sorted(found, key=lambda v: v.volume_id)

    def snapshots_tagged(self, tags: Mapping[str, str]) -> list[str]:
        """In the snapshot group (config ``resourceGroup``), else the whole subscription; in
        any region (an ARM snapshot id is usable from every region)."""
        return sorted(
            str(snap["id"]) for snap in self._list("snapshots", self._snapshot_group, tags)
        )

    def set_volume_id(
        self, pv: PersistentVolume, *, volume_id: str, zone: str | None
    ) -> dict[str, Any]:
        _, _, name = parse_id(volume_id, "disks")
        return pvs.rewritten(
            pv,
            in_tree_kind=IN_TREE,
            in_tree_fields={"diskURI": volume_id, "diskName": name},
            csi_driver=CSI_DRIVER,
            csi_handle_value=volume_id,
            csi_zone_key=CSI_ZONE_KEY,
            zone=zone,
            region=zone.rpartition("-")[0] if zone and "-" in zone else self._region,
        )


def _kind_of(resource_id: str) -> str:
    """``disks`` or ``snapshots``: what an ARM id names (ValueError for anything else)."""
    match = _ARM_ID.match(resource_id.strip())
    if not match:
        raise ValueError(f"{resource_id!r} is not an Azure disk or snapshot id")
    return match["kind"].lower()


def _tags(tags: Mapping[str, str]) -> dict[str, str]:
    """ARM tag names may not contain ``<>%&\\?/`` and are at most 512 characters."""
    table = str.maketrans({c: "-" for c in "<>%&\\?/"})
    return {k.translate(table)[:512]: v[:256] for k, v in tags.items()}


def _code(exc: azure_errors.HttpResponseError) -> str:
    return str(getattr(exc.error, "code", None) or exc.status_code or "")


def _message(exc: azure_errors.HttpResponseError) -> str:
    message = getattr(exc.error, "message", None) or exc.reason or str(exc)
    return f"{_code(exc)}: {message}"


def open_snapshotter(
    *, region: str, config: Mapping[str, str], credentials: Mapping[str, str]
) -> AzureDiskSnapshotter:
    settings.check_keys(config, CONFIG_KEYS, provider=PROVIDER)
    creds = dict(credentials)
    if "cloud" in creds:
        creds = {**settings.env_file(creds.pop("cloud"), setting="credentials.cloud"), **creds}
    subscription = config.get("subscriptionId") or creds.get("AZURE_SUBSCRIPTION_ID", "")
    if not subscription:
        raise errors.SnapshotConfigError(
            "subscriptionId", "required (in config, or AZURE_SUBSCRIPTION_ID in the credentials)"
        )
    endpoint = settings.endpoint(config, "armEndpoint")
    interval = settings.seconds(config, "pollingInterval", default=5.0)
    credential = azure_auth.credential(creds)

    def client_for(sub: str) -> ComputeManagementClient:
        return azure_auth.compute_client(
            credential, subscription=sub, endpoint=endpoint, polling_interval=interval
        )

    return AzureDiskSnapshotter(
        region=region,
        client_for=client_for,
        subscription=subscription,
        snapshot_group=config.get("resourceGroup") or None,
        disk_group=creds.get("AZURE_RESOURCE_GROUP") or None,
        incremental=settings.boolean(config, "incremental", default=True),
        timeout=settings.seconds(config, "apiTimeout", default=600.0),
    )
