"""One harness per cloud, so behaviour tests run the same steps against moto and the fakes.

A harness seeds source volumes on the server with the real SDK, builds the PV shapes Kubernetes
would hold for them, and reads the server's state back (never the snapshotter's own answers).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.compute import models
from botocore.exceptions import ClientError
from google.api_core import exceptions as google_errors
from google.auth.credentials import AnonymousCredentials
from google.cloud import compute_v1

from ark.snapshot import azure_auth, gcp_clients, pvs
from ark.snapshot.interface import SnapshotPhase, VolumeSnapshotter


@dataclass(frozen=True)
class ServerSnapshot:
    region: str
    source: str
    """The volume (or, for a copy, the snapshot) it was taken from, as the server names it."""
    tags: dict[str, str]


@dataclass(frozen=True)
class ServerVolume:
    zone: str | None
    volume_type: str | None
    source_snapshot: str | None
    tags: dict[str, str]
    iops: int | None = None
    kms_key: str | None = None


@dataclass
class Cloud:
    name: str
    snapshotter: VolumeSnapshotter
    zone: str
    other_region: str
    other_zone: str
    open_region: Callable[[str], VolumeSnapshotter]
    make_volume: Callable[[], str]
    """Create a source volume (in ``zone``) on the server; returns its id as PVs name it."""
    in_tree_pv: Callable[[str], dict[str, Any]]
    csi_pv: Callable[[str], dict[str, Any]]
    snapshot_on_server: Callable[[str], ServerSnapshot | None]
    volume_on_server: Callable[[str], ServerVolume | None]
    volume_type: str
    iops: int
    kms_key: str
    missing_snapshot: str
    extra: dict[str, Any] = field(default_factory=dict)


def wait_completed(snapshotter: VolumeSnapshotter, snapshot_id: str, *, polls: int = 20) -> None:
    for _ in range(polls):
        status = snapshotter.snapshot_status(snapshot_id)
        if status.phase is SnapshotPhase.COMPLETED:
            return
        assert status.phase is SnapshotPhase.PENDING, status
        time.sleep(0.05)
    raise AssertionError(f"snapshot {snapshot_id} not completed after {polls} polls")


def pv(name: str, spec: dict[str, Any], *, labels: dict[str, str] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if labels:
        metadata["labels"] = labels
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": metadata,
        "spec": {
            "capacity": {"storage": "10Gi"},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Delete",
            **spec,
        },
    }


def zone_affinity(key: str, zones: list[str]) -> dict[str, Any]:
    term = {"matchExpressions": [{"key": key, "operator": "In", "values": zones}]}
    return {"required": {"nodeSelectorTerms": [term]}}


def aws_settings(endpoint: str) -> dict[str, Any]:
    """``config`` and ``credentials`` of a snapshot location on the server at ``endpoint``."""
    return {
        "config": {"ec2Url": endpoint},
        "credentials": {"aws_access_key_id": "ark-test", "aws_secret_access_key": "ark-secret"},
    }


def azure_settings(endpoint: str) -> dict[str, Any]:
    return {
        "config": {
            "subscriptionId": AZURE_SUBSCRIPTION,
            "resourceGroup": "ark-snapshots",
            "armEndpoint": endpoint,
            "pollingInterval": "0.01",
        },
        "credentials": {
            "AZURE_ACCESS_TOKEN": AZURE_TOKEN,
            "AZURE_RESOURCE_GROUP": "ark-restores",
        },
    }


def gcp_settings(endpoint: str) -> dict[str, Any]:
    return {
        "config": {"project": GCP_PROJECT, "computeUrl": endpoint},
        "credentials": {},
    }


# -- AWS (moto) -------------------------------------------------------------------------------

AWS_KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/ark-test-key"


def aws(endpoint: str, open_snapshotter: Callable[[str], VolumeSnapshotter]) -> Cloud:
    regions = ("us-east-1", "us-west-2")

    def ec2(region: str) -> Any:
        return boto3.client(
            "ec2",
            region_name=region,
            endpoint_url=endpoint,
            aws_access_key_id="ark-test",
            aws_secret_access_key="ark-test-secret",
        )

    def make_volume() -> str:
        made = ec2("us-east-1").create_volume(
            AvailabilityZone="us-east-1b",
            Size=10,
            VolumeType="io2",
            Iops=4000,
            Encrypted=True,
            KmsKeyId=AWS_KMS_KEY,
        )
        return str(made["VolumeId"])

    def snapshot_on_server(snapshot_id: str) -> ServerSnapshot | None:
        for region in regions:
            try:
                snap = ec2(region).describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"][0]
            except ClientError:
                continue
            tags = {t["Key"]: t["Value"] for t in snap.get("Tags", [])}
            return ServerSnapshot(region=region, source=snap["VolumeId"], tags=tags)
        return None

    def volume_on_server(volume_id: str) -> ServerVolume | None:
        for region in regions:
            try:
                vol = ec2(region).describe_volumes(VolumeIds=[volume_id])["Volumes"][0]
            except ClientError:
                continue
            return ServerVolume(
                zone=vol["AvailabilityZone"],
                volume_type=vol["VolumeType"],
                source_snapshot=vol.get("SnapshotId") or None,
                tags={t["Key"]: t["Value"] for t in vol.get("Tags", [])},
                iops=vol.get("Iops"),
                kms_key=vol.get("KmsKeyId"),
            )
        return None

    return Cloud(
        name="aws",
        snapshotter=open_snapshotter("us-east-1"),
        zone="us-east-1b",
        other_region="us-west-2",
        other_zone="us-west-2c",
        open_region=open_snapshotter,
        make_volume=make_volume,
        in_tree_pv=lambda vid: pv(
            f"pv-{uuid.uuid4().hex[:6]}",
            {"awsElasticBlockStore": {"volumeID": f"aws://us-east-1b/{vid}", "fsType": "ext4"}},
            labels={pvs.ZONE_LABEL: "us-east-1b", pvs.REGION_LABEL: "us-east-1"},
        ),
        csi_pv=lambda vid: pv(
            f"pvc-{uuid.uuid4()}",
            {
                "csi": {"driver": "ebs.csi.aws.com", "volumeHandle": vid, "fsType": "ext4"},
                "nodeAffinity": zone_affinity("topology.ebs.csi.aws.com/zone", ["us-east-1b"]),
            },
        ),
        snapshot_on_server=snapshot_on_server,
        volume_on_server=volume_on_server,
        volume_type="io2",
        iops=4000,
        kms_key=AWS_KMS_KEY,
        missing_snapshot="snap-0123456789abcdef0",
        extra={"ec2": ec2},
    )


# -- Azure (hack.fakes.azure_compute) -----------------------------------------------------------

AZURE_SUBSCRIPTION = "6f1c1a52-0d7e-4a55-9b1e-2f0f3c8a7d11"
AZURE_TOKEN = "ark-test-token"
AZURE_GROUPS = {
    f"{AZURE_SUBSCRIPTION}/ark-disks": "eastus",
    f"{AZURE_SUBSCRIPTION}/ark-snapshots": "eastus",
    f"{AZURE_SUBSCRIPTION}/ark-restores": "eastus",
}
AZURE_DES = (
    f"/subscriptions/{AZURE_SUBSCRIPTION}/resourceGroups/ark-disks/providers/"
    "Microsoft.Compute/diskEncryptionSets/ark-des"
)


def azure(endpoint: str, open_snapshotter: Callable[[str], VolumeSnapshotter]) -> Cloud:
    compute = azure_auth.compute_client(
        azure_auth.StaticToken(AZURE_TOKEN),
        subscription=AZURE_SUBSCRIPTION,
        endpoint=endpoint,
        polling_interval=0.01,
    )

    def make_volume() -> str:
        body = {
            "location": "eastus",
            "zones": ["2"],
            "sku": {"name": "PremiumV2_LRS"},
            "properties": {
                "creationData": {"createOption": "Empty"},
                "diskSizeGB": 10,
                "diskIOPSReadWrite": 5000,
                "encryption": {
                    "type": "EncryptionAtRestWithCustomerKey",
                    "diskEncryptionSetId": AZURE_DES,
                },
            },
        }
        name = f"disk-{uuid.uuid4().hex[:8]}"
        return str(
            compute.disks.begin_create_or_update("ark-disks", name, models.Disk(body)).result().id
        )

    def get(resource_id: str) -> dict[str, Any] | None:
        parts = resource_id.split("/")
        ops = compute.disks if parts[-2].lower() == "disks" else compute.snapshots
        try:
            found: dict[str, Any] = ops.get(parts[4], parts[-1]).as_dict()
        except ResourceNotFoundError:
            return None
        return found

    def snapshot_on_server(snapshot_id: str) -> ServerSnapshot | None:
        snap = get(snapshot_id)
        if snap is None:
            return None
        source = snap["properties"]["creationData"]["sourceResourceId"]
        return ServerSnapshot(region=snap["location"], source=source, tags=snap.get("tags") or {})

    def volume_on_server(disk_id: str) -> ServerVolume | None:
        disk = get(disk_id)
        if disk is None:
            return None
        zones = disk.get("zones")
        props = disk["properties"]
        return ServerVolume(
            zone=f"{disk['location']}-{zones[0]}" if zones else None,
            volume_type=disk["sku"]["name"],
            source_snapshot=props["creationData"].get("sourceResourceId"),
            tags=disk.get("tags") or {},
            iops=props.get("diskIOPSReadWrite"),
            kms_key=(props.get("encryption") or {}).get("diskEncryptionSetId"),
        )

    return Cloud(
        name="azure",
        snapshotter=open_snapshotter("eastus"),
        zone="eastus-2",
        other_region="westus2",
        other_zone="westus2-3",
        open_region=open_snapshotter,
        make_volume=make_volume,
        in_tree_pv=lambda did: pv(
            f"pv-{uuid.uuid4().hex[:6]}",
            {
                "azureDisk": {
                    "kind": "Managed",
                    "diskName": did.rsplit("/", 1)[-1],
                    "diskURI": did,
                    "cachingMode": "ReadOnly",
                    "fsType": "ext4",
                }
            },
            labels={pvs.ZONE_LABEL: "eastus-2", pvs.REGION_LABEL: "eastus"},
        ),
        csi_pv=lambda did: pv(
            f"pvc-{uuid.uuid4()}",
            {
                "csi": {"driver": "disk.csi.azure.com", "volumeHandle": did, "fsType": "ext4"},
                "nodeAffinity": zone_affinity("topology.disk.csi.azure.com/zone", ["eastus-2"]),
            },
        ),
        snapshot_on_server=snapshot_on_server,
        volume_on_server=volume_on_server,
        volume_type="PremiumV2_LRS",
        iops=5000,
        kms_key=AZURE_DES,
        missing_snapshot=(
            f"/subscriptions/{AZURE_SUBSCRIPTION}/resourceGroups/ark-snapshots/providers/"
            "Microsoft.Compute/snapshots/missing"
        ),
        extra={"compute": compute},
    )


# -- GCP (hack.fakes.gce_compute) ---------------------------------------------------------------

GCP_PROJECT = "ark-test-project"
GCP_KMS_KEY = f"projects/{GCP_PROJECT}/locations/us-central1/keyRings/ark/cryptoKeys/disks"


def gcp(endpoint: str, open_snapshotter: Callable[[str], VolumeSnapshotter]) -> Cloud:
    clients = gcp_clients.Clients(AnonymousCredentials(), endpoint=endpoint)

    def make_volume() -> str:
        name = f"disk-{uuid.uuid4().hex[:8]}"
        disk = compute_v1.Disk(
            name=name,
            size_gb=20,
            type_=f"projects/{GCP_PROJECT}/zones/us-central1-b/diskTypes/pd-extreme",
            provisioned_iops=6000,
            disk_encryption_key=compute_v1.CustomerEncryptionKey(kms_key_name=GCP_KMS_KEY),
        )
        clients.disks.insert_unary(project=GCP_PROJECT, zone="us-central1-b", disk_resource=disk)
        return f"projects/{GCP_PROJECT}/zones/us-central1-b/disks/{name}"

    def snapshot_on_server(snapshot_id: str) -> ServerSnapshot | None:
        try:
            snap = clients.snapshots.get(project=GCP_PROJECT, snapshot=snapshot_id)
        except google_errors.NotFound:
            return None
        source = snap.source_disk.split("/compute/v1/", 1)[-1]
        return ServerSnapshot(region="global", source=source, tags=dict(snap.labels))

    def volume_on_server(path: str) -> ServerVolume | None:
        _, project, scope, where, _, name = path.split("/")
        try:
            disk = clients.get_disk(project=project, scope=scope, where=where, name=name)
        except google_errors.NotFound:
            return None
        zones = sorted(z.rsplit("/", 1)[-1] for z in disk.replica_zones) or [where]
        return ServerVolume(
            zone="__".join(zones),
            volume_type=disk.type_.rsplit("/", 1)[-1],
            source_snapshot=disk.source_snapshot.rsplit("/", 1)[-1] or None,
            tags=dict(disk.labels),
            iops=disk.provisioned_iops or None,
            kms_key=disk.disk_encryption_key.kms_key_name or None,
        )

    return Cloud(
        name="gcp",
        snapshotter=open_snapshotter("us-central1"),
        zone="us-central1-b",
        other_region="europe-west4",
        other_zone="europe-west4-a",
        open_region=open_snapshotter,
        make_volume=make_volume,
        in_tree_pv=lambda path: pv(
            f"pv-{uuid.uuid4().hex[:6]}",
            {"gcePersistentDisk": {"pdName": path.rsplit("/", 1)[-1], "fsType": "ext4"}},
            labels={pvs.ZONE_LABEL: "us-central1-b", pvs.REGION_LABEL: "us-central1"},
        ),
        csi_pv=lambda path: pv(
            f"pvc-{uuid.uuid4()}",
            {
                "csi": {"driver": "pd.csi.storage.gke.io", "volumeHandle": path, "fsType": "ext4"},
                "nodeAffinity": zone_affinity("topology.gke.io/zone", ["us-central1-b"]),
            },
        ),
        snapshot_on_server=snapshot_on_server,
        volume_on_server=volume_on_server,
        volume_type="pd-extreme",
        iops=6000,
        kms_key=GCP_KMS_KEY,
        missing_snapshot="missing-snapshot",
        extra={"clients": clients},
    )
