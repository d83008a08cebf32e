"""Volume export through the operator (``spec.exportVolumes``): the EBS volume behind a PV,
made from a seeded snapshot (moto, its EBS direct APIs extended as AWS's by
hack/fakes/moto_ebs.py), is snapshotted by the backup and its blocks copied into the storage
location (MinIO) before the backup completes; the index names every non-zero block, the
chunks are there, and with the source region's snapshots gone a Restore into another
region imports the volumes from the bucket: the new volumes hold the same bytes, and the
restored PVs name them in their zone. ``ark backup export-volumes`` exports a stored backup
later. A snapshot location whose snapshots cannot be read block by block (GCE) refuses the
backup, saying why."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from typing import Any

import pytest
from google.cloud import storage as gcs

from ark import control, persistence
from ark.kube import KubeClient
from ark.persistence import keys
from ark.storage import ObjectStore
from tests.cli.conftest import Ark
from tests.conftest import AzureArm, Cluster, GceFake, NamespaceFactory
from tests.operator.harness import Operator, wait_for, wait_phase
from tests.operator.test_volume_snapshots import (
    CLAIMS,
    EAST,
    WEST,
    _backup,
    _bound,
    _claim,
    _create_vsl,
    _delete_pv,
    _finished,
    _pv,
)
from tests.snapshot import clouds
from tests.volumes.conftest import BLOCK, Ebs, read_disk

BACKUP, RESTORE, VSL = control.BACKUP, control.RESTORE, control.VSL
AZURE_REGION = "eastus"


@pytest.fixture
def seeded(
    kube: KubeClient, make_namespace: NamespaceFactory, moto_endpoint: str
) -> Iterator[tuple[str, dict[str, dict[int, bytes]]]]:
    """A namespace whose claims are bound to EBS volumes made from seeded snapshots: its name,
    and each PV's blocks."""
    namespace = make_namespace("export")
    ebs = Ebs(moto_endpoint)
    shared = os.urandom(BLOCK)  # in both volumes: stored once
    contents: dict[str, dict[int, bytes]] = {}
    try:
        for i, claim in enumerate(CLAIMS):
            blocks = {0: shared, 3 + i: os.urandom(BLOCK), 9: bytes(BLOCK)}
            volume = ebs.ec2(EAST).create_volume(
                AvailabilityZone="us-east-1a", SnapshotId=ebs.make_snapshot(blocks, region=EAST)
            )
            pv = f"ebs-{namespace}-{i}"
            contents[pv] = blocks
            body = _pv(pv, volume["VolumeId"], namespace, claim)
            kube.request("POST", "/api/v1/persistentvolumes", body=body)
            kube.request(
                "POST",
                f"/api/v1/namespaces/{namespace}/persistentvolumeclaims",
                body=_claim(claim, pv),
            )
        wait_for(lambda: _bound(kube, namespace), timeout=60, what=f"claims of {namespace} bound")
        yield namespace, contents
    finally:
        for pv in contents:
            _delete_pv(kube, pv)


def test_a_backup_exports_its_volumes_before_it_completes(
    kube: KubeClient,
    cluster: Cluster,
    op_namespace: str,
    default_bsl: str,
    operator: Operator,
    store: ObjectStore,
    seeded: tuple[str, dict[str, dict[int, bytes]]],
    moto_endpoint: str,
) -> None:
    namespace, contents = seeded
    _create_vsl(kube, op_namespace, "ebs", moto_endpoint)
    _backup(kube, op_namespace, "moved", namespace, exportVolumes=True)
    st = _finished(kube, BACKUP, op_namespace, "moved")
    assert st["phase"] == "Completed", st
    assert (st["volumeExportsAttempted"], st["volumeExportsCompleted"]) == (2, 2)
    exports = {e["persistentVolume"]: e for e in st["volumeExports"]}
    assert set(exports) == set(contents)
    for entry in exports.values():
        assert entry["phase"] == "Completed"
        assert entry["sizeBytes"] == 1 << 30 and entry["logicalBytes"] == 2 * BLOCK

    backups = persistence.BackupStore(store)
    # four non-zero blocks in all, one of them in both volumes: three chunks
    assert len(list(store.list(keys.CHUNKS))) == 3
    snapshot_of = {s["persistentVolume"]: s["snapshotId"] for s in st["volumeSnapshots"]}
    for pv, blocks in contents.items():
        index = backups.volume_index("moved", pv)
        assert [b.index for b in index.blocks] == sorted(i for i, b in blocks.items() if any(b))
        assert index.source.snapshot_id == snapshot_of[pv]

    # The disaster: the snapshots in us-east-1 are gone; the restore into us-west-2 imports
    # the exported volumes from the bucket (a snapshot copy has nothing to copy).
    for snap in snapshot_of.values():
        Ebs(moto_endpoint).ec2(EAST).delete_snapshot(SnapshotId=snap)
    _create_vsl(kube, op_namespace, "ebs-west", moto_endpoint, region=WEST)
    clone = f"{namespace}-west"
    control.create(
        kube,
        RESTORE,
        op_namespace,
        {
            "metadata": {"name": "moved-west"},
            "spec": {
                "backupName": "moved",
                "namespaceMapping": {namespace: clone},
                "volumeSnapshotLocation": "ebs-west",
                "volumeZone": "us-west-2a",
            },
        },
    )
    try:
        rst = _finished(kube, RESTORE, op_namespace, "moved-west")
        assert rst["phase"] == "Completed", rst
        west = Ebs(moto_endpoint).ec2(WEST)
        for i, claim in enumerate(CLAIMS):
            pvc = kube.get(f"/api/v1/namespaces/{clone}/persistentvolumeclaims/{claim}")
            pv = kube.get(f"/api/v1/persistentvolumes/{pvc['spec']['volumeName']}")
            assert pv["spec"]["csi"]["driver"] == "ebs.csi.aws.com"
            [vol] = west.describe_volumes(VolumeIds=[pv["spec"]["csi"]["volumeHandle"]])["Volumes"]
            assert vol["AvailabilityZone"] == "us-west-2a"
            [term] = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
            assert term["matchExpressions"][0]["values"] == ["us-west-2a"]
            blocks = contents[f"ebs-{namespace}-{i}"]
            non_zero = {n: b for n, b in blocks.items() if any(b)}
            assert Ebs(moto_endpoint).read_snapshot(vol["SnapshotId"], region=WEST) == non_zero
        wait_for(lambda: _bound(kube, clone), timeout=60, what="imported claims bound")
    finally:
        kube.request("DELETE", f"/api/v1/namespaces/{clone}")

    # Deleting the backup sweeps the chunks only it named: here, every one.
    ark = Ark(kubeconfig=cluster.kubeconfig, namespace=op_namespace)
    deleted = ark("backup", "delete", "moved", "--confirm")
    assert deleted.code == 0, deleted.out + deleted.err
    wait_for(
        lambda: control.get(kube, BACKUP, op_namespace, "moved") is None,
        timeout=60,
        what="backup moved deleted",
    )
    assert list(store.list(keys.CHUNKS)) == []
    assert list(store.list(keys.VOLUMES + "leases/")) == []


def _create_azure_vsl(kube: KubeClient, namespace: str, name: str, arm_url: str) -> None:
    """A location in Azure (the local ARM fake), its credentials in a Secret as Velero's."""
    cloud = f"AZURE_ACCESS_TOKEN={clouds.AZURE_TOKEN}\nAZURE_RESOURCE_GROUP=ark-restores\n"
    kube.request(
        "POST",
        f"/api/v1/namespaces/{namespace}/secrets",
        body={
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "ark-azure"},
            "data": {"cloud": base64.b64encode(cloud.encode()).decode()},
        },
    )
    control.create(
        kube,
        VSL,
        namespace,
        {
            "metadata": {"name": name},
            "spec": {
                "provider": "azure",
                "config": {
                    "region": AZURE_REGION,
                    "subscriptionId": clouds.AZURE_SUBSCRIPTION,
                    "resourceGroup": "ark-snapshots",
                    "armEndpoint": arm_url,
                    "pollingInterval": "0.05",
                },
                "credential": {"name": "ark-azure", "key": "cloud"},
            },
        },
    )
    wait_phase(kube, VSL, namespace, name, {"Available"}, timeout=30)


def _create_gce_vsl(
    kube: KubeClient, namespace: str, name: str, gce: GceFake, *, bucket: str, storage: str
) -> None:
    """A location in GCE (the local fake), importing through images staged in ``bucket``."""
    config = {
        "project": clouds.GCP_PROJECT,
        "computeUrl": gce[1],
        "pollingInterval": "0.05",
        "imageBucket": bucket,
        "storageUrl": storage,
    }
    control.create(
        kube,
        VSL,
        namespace,
        {"metadata": {"name": name}, "spec": {"provider": "gcp", "config": config}},
    )
    wait_phase(kube, VSL, namespace, name, {"Available"}, timeout=30)


def _restore_into(
    kube: KubeClient,
    op_namespace: str,
    name: str,
    *,
    namespace: str,
    clone: str,
    vsl: str,
    zone: str,
) -> dict[str, Any]:
    """A Restore of backup ``later`` mapping ``namespace`` to ``clone``, its volumes into
    ``vsl`` in ``zone``; each restored claim's PV, once the Restore Completed."""
    control.create(
        kube,
        RESTORE,
        op_namespace,
        {
            "metadata": {"name": name},
            "spec": {
                "backupName": "later",
                "namespaceMapping": {namespace: clone},
                "volumeSnapshotLocation": vsl,
                "volumeZone": zone,
            },
        },
    )
    rst = _finished(kube, RESTORE, op_namespace, name)
    assert rst["phase"] == "Completed", rst
    wait_for(lambda: _bound(kube, clone), timeout=60, what=f"claims of {clone} bound")
    pvs = {}
    for claim in CLAIMS:
        pvc = kube.get(f"/api/v1/namespaces/{clone}/persistentvolumeclaims/{claim}")
        pvs[claim] = pv = kube.get(f"/api/v1/persistentvolumes/{pvc['spec']['volumeName']}")
        [said] = [v for v in rst["volumes"] if v["persistentVolume"] == pv["metadata"]["name"]]
        assert said["how"] == "imported"
        assert said["source"].startswith(f"aws {EAST} snap-")
        assert said["volumeId"] == pv["spec"]["csi"]["volumeHandle"]
        assert said["zone"] == zone
    return pvs


def test_a_backup_exported_later_restores_into_other_clouds(
    kube: KubeClient,
    cluster: Cluster,
    op_namespace: str,
    default_bsl: str,
    operator: Operator,
    store: ObjectStore,
    seeded: tuple[str, dict[str, dict[int, bytes]]],
    moto_endpoint: str,
    azure_arm: AzureArm,
    gce_images: GceFake,
    image_bucket: gcs.Bucket,
    fake_gcs: str,
) -> None:
    """``ark backup export-volumes`` exports a stored backup; with its EBS snapshots gone,
    Restores into Azure and into GCE import the volumes: the restored PVs are CSI PVs of
    those clouds' drivers naming new disks in the zone asked for, holding the volumes'
    bytes, their claims bound."""
    namespace, contents = seeded
    _create_vsl(kube, op_namespace, "ebs", moto_endpoint)
    _backup(kube, op_namespace, "later", namespace)
    st = _finished(kube, BACKUP, op_namespace, "later")
    assert st["phase"] == "Completed" and "volumeExports" not in st, st
    assert not list(store.list(keys.CHUNKS))

    ark = Ark(kubeconfig=cluster.kubeconfig, namespace=op_namespace)
    done = ark("backup", "export-volumes", "later")

    assert done.code == 0, done.out + done.err
    assert "2 of 2 volumes exported" in done.out
    backup = control.get(kube, BACKUP, op_namespace, "later")
    assert backup is not None
    exported = {e["persistentVolume"]: e for e in backup["status"]["volumeExports"]}
    assert set(exported) == set(contents)
    assert all(e["phase"] == "Completed" for e in exported.values())
    backups = persistence.BackupStore(store)
    for pv, blocks in contents.items():
        index = backups.volume_index("later", pv)
        assert [b.index for b in index.blocks] == sorted(i for i, b in blocks.items() if any(b))
    again = ark("backup", "export-volumes", "later")  # nothing new to store
    assert again.code == 0, again.out + again.err
    assert " 0 new" in again.out
    described = ark("backup", "describe", "later")
    assert described.code == 0, described.err
    assert "\nVolume exports\n" in described.out
    assert "Dedup ratio:" in described.out and "Stored:" in described.out

    for snapshot in backup["status"]["volumeSnapshots"]:
        Ebs(moto_endpoint).ec2(EAST).delete_snapshot(SnapshotId=snapshot["snapshotId"])
    expected = {
        claim: {n: b for n, b in contents[f"ebs-{namespace}-{i}"].items() if any(b)}
        for i, claim in enumerate(CLAIMS)
    }
    _create_azure_vsl(kube, op_namespace, "azure-east", azure_arm[1])
    _create_gce_vsl(
        kube, op_namespace, "gce-central", gce_images, bucket=image_bucket.name, storage=fake_gcs
    )
    in_azure, in_gce = f"{namespace}-azure", f"{namespace}-gce"
    try:
        restored = _restore_into(
            kube,
            op_namespace,
            "to-azure",
            namespace=namespace,
            clone=in_azure,
            vsl="azure-east",
            zone=f"{AZURE_REGION}-2",
        )
        rst = control.get(kube, RESTORE, op_namespace, "to-azure")
        assert rst is not None
        assert {v["target"] for v in rst["status"]["volumes"]} == {f"azure {AZURE_REGION}"}
        described = Ark(kubeconfig=cluster.kubeconfig, namespace=op_namespace)(
            "restore", "describe", "to-azure"
        )
        assert described.code == 0, described.err
        assert described.out.count("imported from the backup's volume export") == len(CLAIMS)
        for claim, pv in restored.items():
            csi = pv["spec"]["csi"]
            assert csi["driver"] == "disk.csi.azure.com"
            disk = azure_arm[0].lookup(csi["volumeHandle"])
            assert disk is not None
            assert (disk["location"], disk["zones"]) == (AZURE_REGION, ["2"])
            assert _zone_term(pv) == ("topology.disk.csi.azure.com/zone", [f"{AZURE_REGION}-2"])
            held = read_disk(azure_arm, csi["volumeHandle"]).blocks
            footer_block = (1 << 30) // BLOCK
            assert {n: b for n, b in held.items() if n != footer_block} == expected[claim]

        restored = _restore_into(
            kube,
            op_namespace,
            "to-gce",
            namespace=namespace,
            clone=in_gce,
            vsl="gce-central",
            zone="us-central1-a",
        )
        for claim, pv in restored.items():
            csi = pv["spec"]["csi"]
            assert csi["driver"] == "pd.csi.storage.gke.io"
            assert csi["volumeHandle"].startswith(
                f"projects/{clouds.GCP_PROJECT}/zones/us-central1-a/disks/"
            )
            assert _zone_term(pv) == ("topology.gke.io/zone", ["us-central1-a"])
            assert gce_images[0].blocks_of(csi["volumeHandle"]) == expected[claim]
        assert list(image_bucket.list_blobs()) == []
    finally:
        for clone in (in_azure, in_gce):
            kube.delete_if_present(f"/api/v1/namespaces/{clone}")


def _zone_term(pv: dict[str, Any]) -> tuple[str, list[str]]:
    [term] = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
    [expr] = term["matchExpressions"]
    assert expr["operator"] == "In"
    return expr["key"], expr["values"]


def test_a_gce_location_with_export_volumes_fails_validation_saying_why(
    kube: KubeClient,
    op_namespace: str,
    default_bsl: str,
    operator: Operator,
) -> None:
    control.create(
        kube,
        VSL,
        op_namespace,
        {
            "metadata": {"name": "gce"},
            "spec": {
                "provider": "gcp",
                "config": {"project": "ark-test", "computeUrl": "http://127.0.0.1:9"},
            },
        },
    )
    wait_phase(kube, VSL, op_namespace, "gce", {"Available"}, timeout=30)
    _backup(kube, op_namespace, "to-gce", "default", exportVolumes=True)
    st = _finished(kube, BACKUP, op_namespace, "to-gce")
    assert st["phase"] == "FailedValidation", st
    [why] = st["validationErrors"]
    assert why.startswith("exportVolumes: VolumeSnapshotLocation gce:")
    assert "GCE has no API to read a snapshot's blocks" in why
