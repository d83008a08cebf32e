"""A namespace is not restored until its data is: a StatefulSet's volumes are snapshotted with
the backup and come back as new volumes from those snapshots — in the same region, and cloned
into another region — through the real EC2 protocol (moto)."""

from __future__ import annotations

import gzip
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import orjson
import pytest
from kubernetes import client

from ark import archive, backup, persistence, restore, snapshot
from ark.api import BackupPhase, BackupSpec, RestorePhase, RestoreSpec
from ark.backup import SnapshotLocation, SnapshotOptions
from ark.kube import KubeClient
from ark.persistence import SnapshotRecord
from ark.snapshot.interface import VolumeSnapshotter
from ark.storage import ObjectStore
from tests.conftest import Cluster
from tests.support import workloads

EAST, WEST = "us-east-1", "us-west-2"
CREDENTIALS = {"aws_access_key_id": "ark-test", "aws_secret_access_key": "ark-secret"}


def _ec2(endpoint: str, region: str) -> Any:
    return boto3.client(
        "ec2",
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id="ark-test",
        aws_secret_access_key="ark-secret",
    )


def _snapshotter(endpoint: str, region: str) -> VolumeSnapshotter:
    return snapshot.open_snapshotter(
        "aws", region=region, config={"ec2Url": endpoint}, credentials=CREDENTIALS
    )


def _pv(name: str, volume_id: str, namespace: str, claim: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name, "labels": {"topology.kubernetes.io/zone": "us-east-1a"}},
        "spec": {
            "capacity": {"storage": "10Gi"},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": "",
            "claimRef": {"namespace": namespace, "name": claim},
            "csi": {"driver": "ebs.csi.aws.com", "volumeHandle": volume_id, "fsType": "ext4"},
            "nodeAffinity": {
                "required": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {
                                    "key": "topology.kubernetes.io/zone",
                                    "operator": "In",
                                    "values": ["us-east-1a"],
                                }
                            ]
                        }
                    ]
                }
            },
        },
    }


def _wait(what: str, check: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _bound(cluster: Cluster, namespace: str, claims: list[str]) -> bool:
    try:
        phases = [
            cluster.core.read_namespaced_persistent_volume_claim(c, namespace).status.phase
            for c in claims
        ]
    except client.ApiException as exc:
        if exc.status == 404:  # the StatefulSet controller has not made it yet
            return False
        raise
    return phases == ["Bound"] * len(claims)


def _delete_namespace(cluster: Cluster, namespace: str) -> None:
    cluster.core.delete_namespace(namespace)

    def gone() -> bool:
        try:
            cluster.core.read_namespace(namespace)
        except client.ApiException as exc:
            return bool(exc.status == 404)
        return False

    _wait(f"namespace {namespace} gone", gone, timeout=120)


@pytest.fixture
def database(
    cluster: Cluster, kube: KubeClient, namespace: str, moto_endpoint: str
) -> Iterator[tuple[str, dict[str, str]]]:
    """A StatefulSet whose two claims are bound to EBS volumes (static PVs)."""
    ec2 = _ec2(moto_endpoint, EAST)
    volumes: dict[str, str] = {}
    try:
        for i in range(2):
            vol = ec2.create_volume(AvailabilityZone="us-east-1a", Size=10, VolumeType="gp3")
            pv = f"ebs-{namespace}-{i}"
            volumes[pv] = vol["VolumeId"]
            kube.request(
                "POST",
                "/api/v1/persistentvolumes",
                body=_pv(pv, vol["VolumeId"], namespace, f"data-db-{i}"),
            )
        kube.request(
            "POST",
            f"/apis/apps/v1/namespaces/{namespace}/statefulsets",
            body=workloads.claim_statefulset(storage_class="", size="10Gi"),
        )
        _wait("claims bound", lambda: _bound(cluster, namespace, ["data-db-0", "data-db-1"]))
        yield namespace, volumes
    finally:
        for pv in kube.get("/api/v1/persistentvolumes")["items"]:
            if pv["metadata"]["name"].startswith(f"ebs-{namespace}-"):
                kube.request("DELETE", f"/api/v1/persistentvolumes/{pv['metadata']['name']}")


def test_volumes_come_back_from_snapshots_here_and_in_another_region(
    cluster: Cluster,
    kube: KubeClient,
    database: tuple[str, dict[str, str]],
    moto_endpoint: str,
    s3_store: ObjectStore,
) -> None:
    namespace, old_volumes = database
    east, west = _snapshotter(moto_endpoint, EAST), _snapshotter(moto_endpoint, WEST)
    started: list[list[SnapshotRecord]] = []
    made = backup.run(
        kube,
        s3_store,
        name="db-snap",
        spec=BackupSpec(included_namespaces=[namespace], snapshot_volumes=True),
        snapshots=SnapshotOptions(
            locations=[SnapshotLocation("aws-east", east)], on_started=started.append
        ),
    )
    assert made.phase == BackupPhase.COMPLETED, [str(e) for e in made.issues.errors]
    assert {r.persistent_volume for r in made.volume_snapshots} == set(old_volumes)
    assert all(r.phase == "Completed" and r.snapshot_id for r in made.volume_snapshots)
    assert started and all(r.snapshot_id for r in started[0])  # ids known before waiting
    assert made.snapshot_skew_seconds is not None and made.snapshot_skew_seconds < 5
    keys = persistence.BackupKeys(archive.backup_name("db-snap"))
    stored = orjson.loads(gzip.decompress(s3_store.get(keys.volume_snapshots)))
    assert {e["spec"]["providerVolumeID"] for e in stored} == set(old_volumes.values())
    snapshots = {r.persistent_volume: r.snapshot_id for r in made.volume_snapshots}
    tags = _ec2(moto_endpoint, EAST).describe_snapshots(SnapshotIds=list(snapshots.values()))[
        "Snapshots"
    ]
    assert all({"Key": "ark.dev/backup", "Value": "db-snap"} in s["Tags"] for s in tags)

    # Disaster: the namespace, its PVs and the cloud volumes are gone.
    _delete_namespace(cluster, namespace)
    for pv, vol in old_volumes.items():
        kube.request("DELETE", f"/api/v1/persistentvolumes/{pv}")
        _ec2(moto_endpoint, EAST).delete_volume(VolumeId=vol)

    result = restore.run(
        kube,
        s3_store,
        name="db-back",
        backup_name="db-snap",
        spec=RestoreSpec(backup_name="db-snap"),
        volumes=restore.VolumeOptions(snapshotters={"aws-east": east}),
    )
    assert result.phase == RestorePhase.COMPLETED, [str(e) for e in result.issues.errors]
    for pv, snap in snapshots.items():
        live = kube.get(f"/api/v1/persistentvolumes/{pv}")
        new_id = live["spec"]["csi"]["volumeHandle"]
        assert new_id != old_volumes[pv]
        [vol] = _ec2(moto_endpoint, EAST).describe_volumes(VolumeIds=[new_id])["Volumes"]
        assert vol["SnapshotId"] == snap and vol["AvailabilityZone"] == "us-east-1a"
    _wait("restored claims bound", lambda: _bound(cluster, namespace, ["data-db-0", "data-db-1"]))

    # Clone into another namespace in another region: snapshots copied, volumes made there.
    clone = f"{namespace}-west"
    try:
        cloned = restore.run(
            kube,
            s3_store,
            name="db-west",
            backup_name="db-snap",
            spec=RestoreSpec(backup_name="db-snap", namespace_mapping={namespace: clone}),
            volumes=restore.VolumeOptions(
                snapshotters={"aws-east": east}, target=west, zone="us-west-2a"
            ),
        )
        assert cloned.phase == RestorePhase.COMPLETED, [str(e) for e in cloned.issues.errors]
        for claim in ("data-db-0", "data-db-1"):
            pvc = cluster.core.read_namespaced_persistent_volume_claim(claim, clone)
            pv = kube.get(f"/api/v1/persistentvolumes/{pvc.spec.volume_name}")
            assert pv["metadata"]["name"] not in old_volumes  # renamed beside the original
            assert pv["spec"]["claimRef"]["namespace"] == clone
            [vol] = _ec2(moto_endpoint, WEST).describe_volumes(
                VolumeIds=[pv["spec"]["csi"]["volumeHandle"]]
            )["Volumes"]
            assert vol["AvailabilityZone"] == "us-west-2a"
            [copy] = _ec2(moto_endpoint, WEST).describe_snapshots(SnapshotIds=[vol["SnapshotId"]])[
                "Snapshots"
            ]
            assert copy["SnapshotId"] not in snapshots.values()  # a copy, in us-west-2
        _wait("cloned claims bound", lambda: _bound(cluster, clone, ["data-db-0", "data-db-1"]))
    finally:
        cluster.core.delete_namespace(clone)
        for pv in kube.get("/api/v1/persistentvolumes")["items"]:
            if (pv["spec"].get("claimRef") or {}).get("namespace") == clone:
                kube.request("DELETE", f"/api/v1/persistentvolumes/{pv['metadata']['name']}")


def _restore_volumes(endpoint: str, uid: str) -> dict[str, str]:
    """What moto holds: PV name -> the volumes tagged with restore ``uid``, as a sorted string
    of ids (one id when there are no duplicates)."""
    found: dict[str, list[str]] = {}
    pages = _ec2(endpoint, EAST).get_paginator("describe_volumes")
    for page in pages.paginate(Filters=[{"Name": "tag:ark.dev/restore-uid", "Values": [uid]}]):
        for vol in page["Volumes"]:
            tags = {t["Key"]: t["Value"] for t in vol.get("Tags", [])}
            found.setdefault(tags["ark.dev/pv"], []).append(vol["VolumeId"])
    return {pv: ",".join(sorted(ids)) for pv, ids in found.items()}


def test_a_restarted_restore_adopts_the_volumes_its_interrupted_attempt_made(
    cluster: Cluster,
    kube: KubeClient,
    database: tuple[str, dict[str, str]],
    moto_endpoint: str,
    s3_store: ObjectStore,
) -> None:
    namespace, old_volumes = database
    east = _snapshotter(moto_endpoint, EAST)
    made = backup.run(
        kube,
        s3_store,
        name="db-adopt",
        spec=BackupSpec(included_namespaces=[namespace], snapshot_volumes=True),
        snapshots=SnapshotOptions(locations=[SnapshotLocation("aws-east", east)]),
    )
    assert made.phase == BackupPhase.COMPLETED, [str(e) for e in made.issues.errors]
    _delete_namespace(cluster, namespace)
    for pv, vol in old_volumes.items():
        kube.request("DELETE", f"/api/v1/persistentvolumes/{pv}")
        _ec2(moto_endpoint, EAST).delete_volume(VolumeId=vol)

    # Attempt 1 got as far as the cloud: its volumes exist, tagged with the Restore's uid,
    # and no PersistentVolume was written before it was killed.
    uid = str(uuid.uuid4())
    options = restore.VolumeOptions(snapshotters={"aws-east": east})
    records = persistence.BackupStore(s3_store).snapshots("db-adopt")
    first, failed = restore.volumes.create_volumes(
        records, set(old_volumes), options, restore_name="db-again", uid=uid
    )
    assert not failed and set(first) == set(old_volumes)
    made_first = {pv: v.volume_id for pv, v in first.items()}
    assert _restore_volumes(moto_endpoint, uid) == made_first

    def attempt() -> None:
        result = restore.run(
            kube,
            s3_store,
            name="db-again",
            backup_name="db-adopt",
            spec=RestoreSpec(backup_name="db-adopt"),
            volumes=options,
            uid=uid,
        )
        assert result.phase == RestorePhase.COMPLETED, [str(e) for e in result.issues.errors]

    attempt()  # attempt 2: adopts the volumes, writes the PVs pointing at them
    assert _restore_volumes(moto_endpoint, uid) == made_first  # no duplicates, none orphaned
    for pv, volume_id in made_first.items():
        assert kube.get(f"/api/v1/persistentvolumes/{pv}")["spec"]["csi"]["volumeHandle"] == (
            volume_id
        )
    _wait("restored claims bound", lambda: _bound(cluster, namespace, ["data-db-0", "data-db-1"]))

    attempt()  # attempt 3, killed after the PVs: they are its own, kept, not cloned beside
    assert _restore_volumes(moto_endpoint, uid) == made_first
    pvs_now = [p["metadata"]["name"] for p in kube.get("/api/v1/persistentvolumes")["items"]]
    assert sorted(p for p in pvs_now if p.startswith(f"ebs-{namespace}-")) == sorted(made_first)


# -- what a record keeps for claims (pure) ---------------------------------------------------
class _Restorer:
    """A ClaimRestorer that records the ``source`` it is given."""

    def __init__(self) -> None:
        self.sources: list[dict[str, str] | None] = []

    def claim_from_snapshot(
        self,
        claim: Any,
        *,
        snapshot_id: str,
        tags: Any,
        source: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        self.sources.append(source)
        return dict(claim)


def _record(**extra: Any) -> SnapshotRecord:
    return SnapshotRecord(
        persistent_volume="pv-1",
        location="csi",
        provider="csi",
        region="",
        volume_id="vol-1",
        snapshot_id="snapcontent-1",
        phase="Completed",
        claim="ns/data",
        **extra,
    )


def test_a_records_source_survives_the_volumesnapshots_file_and_older_records_have_none() -> None:
    source = {"driver": "d.example.com", "snapshotHandle": "h-1"}
    entry = _record(source=source).to_velero("b")
    assert entry["ark"]["source"] == source
    assert SnapshotRecord.from_velero(orjson.loads(orjson.dumps(entry))).source == source
    older = _record().to_velero("b")
    assert "source" not in older["ark"]
    assert SnapshotRecord.from_velero(older).source == {}


def test_a_claim_restore_is_given_its_records_source_and_none_without_one() -> None:
    restorer = _Restorer()
    options = restore.VolumeOptions(snapshotters={"csi": restorer})  # type: ignore[dict-item]
    source = {"driver": "d.example.com", "snapshotHandle": "h-1"}
    for record in (_record(source=source), _record()):
        [found] = restore.volumes.claim_snapshots([record], {"pv-1"}, options).values()
        found.restore_claim({"metadata": {}}, tags={})
    assert restorer.sources == [source, None]
