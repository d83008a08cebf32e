"""Compute Engine clients for the GCE snapshotter: credentials, endpoint, one call per need.

Only the ``*_unary`` calls are used: they return the Operation as the API answered it. The
SDK's ``ExtendedOperation.result()`` polls through operations clients it builds itself, without
the ``client_options`` (so without an endpoint override); operations are polled here instead,
through clients that share this module's endpoint.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import google.auth
import google.auth.exceptions
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials, Credentials
from google.cloud import compute_v1
from google.oauth2 import service_account

from ark.snapshot import errors

SCOPES = ["https://www.googleapis.com/auth/compute"]


def credentials(creds: Mapping[str, str], *, anonymous: bool) -> tuple[Credentials, str | None]:
    """Credentials and their project: from a service-account key (``cloud``), anonymous (for an
    endpoint override without a key), else Application Default Credentials."""
    if creds.get("cloud"):
        try:
            info = json.loads(creds["cloud"])
            key = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                info, scopes=SCOPES
            )
        except (ValueError, KeyError) as exc:
            raise errors.SnapshotConfigError(
                "credentials.cloud", f"not a service account key ({type(exc).__name__})"
            ) from None
        return key, info.get("project_id")
    if anonymous:
        return AnonymousCredentials(), None  # type: ignore[no-untyped-call]
    try:
        found, project = google.auth.default(scopes=SCOPES)
    except google.auth.exceptions.DefaultCredentialsError as exc:
        raise errors.SnapshotConfigError(
            "credentials", f"no 'cloud' key and no Application Default Credentials ({exc})"
        ) from None
    return found, project


class Clients:
    def __init__(self, creds: Credentials, *, endpoint: str | None) -> None:
        options = ClientOptions(api_endpoint=endpoint) if endpoint else None
        common: dict[str, Any] = {"credentials": creds, "transport": "rest"}
        if options is not None:
            common["client_options"] = options
        self.disks = compute_v1.DisksClient(**common)
        self.region_disks = compute_v1.RegionDisksClient(**common)
        self.snapshots = compute_v1.SnapshotsClient(**common)
        self.images = compute_v1.ImagesClient(**common)
        self.global_operations = compute_v1.GlobalOperationsClient(**common)
        self.zone_operations = compute_v1.ZoneOperationsClient(**common)
        self.region_operations = compute_v1.RegionOperationsClient(**common)

    def get_disk(self, *, project: str, scope: str, where: str, name: str) -> compute_v1.Disk:
        if scope == "zones":
            return self.disks.get(project=project, zone=where, disk=name)
        return self.region_disks.get(project=project, region=where, disk=name)

    def create_snapshot(
        self,
        *,
        project: str,
        scope: str,
        where: str,
        disk: str,
        name: str,
        labels: Mapping[str, str],
        description: str,
        location: str | None,
    ) -> compute_v1.Operation:
        snapshot = compute_v1.Snapshot(
            name=name,
            labels=dict(labels),
            description=description,
            storage_locations=[location] if location else [],
        )
        if scope == "zones":
            return self.disks.create_snapshot_unary(
                project=project, zone=where, disk=disk, snapshot_resource=snapshot
            )
        return self.region_disks.create_snapshot_unary(
            project=project, region=where, disk=disk, snapshot_resource=snapshot
        )

    def get_snapshot(self, *, project: str, name: str) -> compute_v1.Snapshot:
        return self.snapshots.get(project=project, snapshot=name)

    def insert_disk(
        self,
        *,
        project: str,
        scope: str,
        where: str,
        name: str,
        source_snapshot: str | None = None,
        source_image: str | None = None,
        disk_type: str | None,
        iops: int | None,
        replica_zones: list[str],
        labels: Mapping[str, str],
        kms_key: str | None,
    ) -> compute_v1.Operation:
        disk = compute_v1.Disk(name=name, labels=dict(labels))
        if source_snapshot:
            disk.source_snapshot = source_snapshot
        if source_image:
            disk.source_image = source_image
        if disk_type:
            disk.type_ = f"projects/{project}/{scope}/{where}/diskTypes/{disk_type}"
        if iops:
            disk.provisioned_iops = iops
        if kms_key:
            disk.disk_encryption_key = compute_v1.CustomerEncryptionKey(kms_key_name=kms_key)
        if scope == "zones":
            return self.disks.insert_unary(project=project, zone=where, disk_resource=disk)
        disk.replica_zones = [f"projects/{project}/zones/{z}" for z in replica_zones]
        return self.region_disks.insert_unary(project=project, region=where, disk_resource=disk)

    def delete_disk(
        self, *, project: str, scope: str, where: str, name: str
    ) -> compute_v1.Operation:
        if scope == "zones":
            return self.disks.delete_unary(project=project, zone=where, disk=name)
        return self.region_disks.delete_unary(project=project, region=where, disk=name)

    def disks_filtered(self, *, project: str, filter_: str) -> list[compute_v1.Disk]:
        """Every zonal and regional disk of ``project`` matching ``filter_`` (aggregatedList,
        all pages)."""
        request = compute_v1.AggregatedListDisksRequest(project=project, filter=filter_)
        found: list[compute_v1.Disk] = []
        for _, scoped in self.disks.aggregated_list(request=request):
            found.extend(scoped.disks)
        return found

    def snapshots_filtered(self, *, project: str, filter_: str) -> list[compute_v1.Snapshot]:
        request = compute_v1.ListSnapshotsRequest(project=project, filter=filter_)
        return list(self.snapshots.list(request=request))

    def delete_snapshot(self, *, project: str, name: str) -> compute_v1.Operation:
        return self.snapshots.delete_unary(project=project, snapshot=name)

    def global_operation(self, *, project: str, name: str) -> compute_v1.Operation:
        return self.global_operations.get(project=project, operation=name)

    def zone_operation(self, *, project: str, zone: str, name: str) -> compute_v1.Operation:
        return self.zone_operations.get(project=project, zone=zone, operation=name)

    def scoped_operation(
        self, *, project: str, scope: str, where: str, name: str
    ) -> compute_v1.Operation:
        """A zone's or a region's operation (``scope``: zones or regions)."""
        if scope == "zones":
            return self.zone_operation(project=project, zone=where, name=name)
        return self.region_operations.get(project=project, region=where, operation=name)

    def insert_image(
        self,
        *,
        project: str,
        name: str,
        source_url: str,
        labels: Mapping[str, str],
        description: str,
    ) -> compute_v1.Operation:
        """An image from a raw disk archive in Cloud Storage (``images.insert``)."""
        image = compute_v1.Image(
            name=name,
            raw_disk=compute_v1.RawDisk(source=source_url),
            labels=dict(labels),
            description=description,
        )
        return self.images.insert_unary(project=project, image_resource=image)

    def get_image(self, *, project: str, name: str) -> compute_v1.Image:
        return self.images.get(project=project, image=name)


def done(op: compute_v1.Operation) -> bool:
    return bool(op.status == compute_v1.Operation.Status.DONE)
