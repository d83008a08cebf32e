"""Volume snapshots through the operator: a Backup CR snapshots the EBS volumes behind its PVs
in its VolumeSnapshotLocations (moto in server mode speaks EC2), records the ids in status
before waiting, and a restarted operator adopts them; deleting the backup deletes them; a
Restore CR makes new volumes from them, here or in another region."""

from __future__ import annotations

import base64
import gzip
import http.client
import http.server
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import orjson
import pytest

from ark import archive, control, persistence
from ark.kube import KubeApiError, KubeClient
from ark.storage import ObjectStore
from tests.conftest import NamespaceFactory
from tests.operator.harness import Operator, wait_event, wait_for, wait_gone, wait_phase

BACKUP, RESTORE, DBR, VSL = control.BACKUP, control.RESTORE, control.DBR, control.VSL
EAST, WEST = "us-east-1", "us-west-2"
CLAIMS = ("data-0", "data-1")
CREDENTIALS = "[default]\naws_access_key_id = ark-test\naws_secret_access_key = ark-secret\n"


def _ec2(endpoint: str, region: str = EAST) -> Any:
    return boto3.client(
        "ec2",
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id="ark-test",
        aws_secret_access_key="ark-secret",
    )


def _snapshots_of(endpoint: str, volume_ids: list[str]) -> list[dict[str, Any]]:
    """What moto holds: every snapshot taken of these volumes."""
    found = _ec2(endpoint).describe_snapshots(
        Filters=[{"Name": "volume-id", "Values": volume_ids}]
    )["Snapshots"]
    return list(found)


def _tags(snapshot: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in snapshot.get("Tags") or []}


def _create_vsl(
    kube: KubeClient, namespace: str, name: str, endpoint: str, *, region: str = EAST
) -> None:
    try:
        kube.request(
            "POST",
            f"/api/v1/namespaces/{namespace}/secrets",
            body={
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "ark-ebs"},
                "data": {"cloud": base64.b64encode(CREDENTIALS.encode()).decode()},
            },
        )
    except KubeApiError as exc:
        if exc.status != 409:  # the second location shares the Secret
            raise
    control.create(
        kube,
        VSL,
        namespace,
        {
            "metadata": {"name": name},
            "spec": {
                "provider": "aws",
                "config": {"region": region, "ec2Url": endpoint},
                "credential": {"name": "ark-ebs", "key": "cloud"},
            },
        },
    )
    wait_phase(kube, VSL, namespace, name, {"Available"}, timeout=30)


def _pv(name: str, volume_id: str, namespace: str, claim: str) -> dict[str, Any]:
    zone_term = {
        "matchExpressions": [
            {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["us-east-1a"]}
        ]
    }
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
            "nodeAffinity": {"required": {"nodeSelectorTerms": [zone_term]}},
        },
    }


def _claim(name: str, volume: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "",
            "volumeName": volume,
            "resources": {"requests": {"storage": "10Gi"}},
        },
    }


def _bound(kube: KubeClient, namespace: str) -> bool:
    try:
        claims = [
            kube.get(f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/{c}") for c in CLAIMS
        ]
    except KubeApiError as exc:
        if exc.not_found:
            return False
        raise
    return all((c.get("status") or {}).get("phase") == "Bound" for c in claims)


def _delete_pv(kube: KubeClient, name: str) -> None:
    try:
        kube.request("DELETE", f"/api/v1/persistentvolumes/{name}")
    except KubeApiError as exc:
        if not exc.not_found:
            raise


@dataclass(frozen=True)
class App:
    namespace: str
    volumes: dict[str, str]
    """PV name -> EBS volume id."""


@pytest.fixture
def app(kube: KubeClient, make_namespace: NamespaceFactory, moto_endpoint: str) -> Iterator[App]:
    """A namespace with two claims bound to EBS volumes in moto (static, retained PVs)."""
    namespace = make_namespace("app")
    volumes: dict[str, str] = {}
    try:
        for i, claim in enumerate(CLAIMS):
            vol = _ec2(moto_endpoint).create_volume(
                AvailabilityZone="us-east-1a", Size=10, VolumeType="gp3"
            )
            pv = f"ebs-{namespace}-{i}"
            volumes[pv] = vol["VolumeId"]
            kube.request(
                "POST", "/api/v1/persistentvolumes", body=_pv(pv, vol["VolumeId"], namespace, claim)
            )
            kube.request(
                "POST",
                f"/api/v1/namespaces/{namespace}/persistentvolumeclaims",
                body=_claim(claim, pv),
            )
        wait_for(lambda: _bound(kube, namespace), timeout=60, what=f"claims of {namespace} bound")
        yield App(namespace, volumes)
    finally:
        for pv in kube.get("/api/v1/persistentvolumes")["items"]:
            claim_ns = (pv["spec"].get("claimRef") or {}).get("namespace") or ""
            if pv["metadata"]["name"].startswith(f"ebs-{namespace}-") or claim_ns.startswith(
                namespace
            ):
                _delete_pv(kube, pv["metadata"]["name"])


def _backup(kube: KubeClient, namespace: str, name: str, app: str, **spec: Any) -> None:
    control.create(
        kube,
        BACKUP,
        namespace,
        {"metadata": {"name": name}, "spec": {"includedNamespaces": [app], **spec}},
    )


def _finished(kube: KubeClient, kind: Any, namespace: str, name: str) -> dict[str, Any]:
    obj = wait_phase(
        kube,
        kind,
        namespace,
        name,
        {"Completed", "PartiallyFailed", "Failed", "FailedValidation"},
        timeout=120,
    )
    return dict(obj["status"])


def test_backup_snapshots_its_volumes_and_deleting_it_deletes_them(
    kube: KubeClient,
    op_namespace: str,
    default_bsl: str,
    operator: Operator,
    store: ObjectStore,
    app: App,
    moto_endpoint: str,
) -> None:
    _create_vsl(kube, op_namespace, "ebs", moto_endpoint)
    _backup(kube, op_namespace, "snap", app.namespace, volumeSnapshotLocations=["ebs"])
    st = _finished(kube, BACKUP, op_namespace, "snap")
    assert st["phase"] == "Completed", st
    assert st["volumeSnapshotsAttempted"] == 2 and st["volumeSnapshotsCompleted"] == 2
    assert st["snapshotSkewSeconds"] is not None and st["snapshotSkewSeconds"] < 5
    recorded = {s["persistentVolume"]: s for s in st["volumeSnapshots"]}
    assert set(recorded) == set(app.volumes)
    for pv, entry in recorded.items():
        assert entry["volumeId"] == app.volumes[pv] and entry["location"] == "ebs"
        assert entry["phase"] == "Completed" and entry["snapshotId"].startswith("snap-")
        assert entry["persistentVolumeClaim"].startswith(f"{app.namespace}/data-")

    # In moto: one snapshot per volume, tagged with the backup, the PV and its claim.
    in_moto = _snapshots_of(moto_endpoint, list(app.volumes.values()))
    assert {s["SnapshotId"] for s in in_moto} == {e["snapshotId"] for e in recorded.values()}
    for snap in in_moto:
        tags = _tags(snap)
        assert tags["ark.dev/backup"] == "snap"
        assert app.volumes[tags["ark.dev/pv"]] == snap["VolumeId"]
        assert tags["ark.dev/pvc"] == recorded[tags["ark.dev/pv"]]["persistentVolumeClaim"]
    stored = orjson.loads(
        gzip.decompress(
            store.get(persistence.BackupKeys(archive.backup_name("snap")).volume_snapshots)
        )
    )
    assert {e["status"]["providerSnapshotID"] for e in stored} == {s["SnapshotId"] for s in in_moto}
    wait_event(kube, op_namespace, "snap", "Completed")

    control.create(
        kube, DBR, op_namespace, {"metadata": {"name": "del-snap"}, "spec": {"backupName": "snap"}}
    )
    wait_phase(kube, DBR, op_namespace, "del-snap", {"Processed"}, timeout=60)
    wait_gone(kube, BACKUP, op_namespace, "snap")
    assert _snapshots_of(moto_endpoint, list(app.volumes.values())) == []
    assert not list(store.list("backups/snap/"))


def test_restore_brings_volumes_back_from_snapshots_and_clones_into_another_region(
    kube: KubeClient,
    op_namespace: str,
    default_bsl: str,
    operator: Operator,
    app: App,
    moto_endpoint: str,
) -> None:
    _create_vsl(kube, op_namespace, "ebs", moto_endpoint)
    _backup(kube, op_namespace, "db", app.namespace)  # the only aws location: used unnamed
    st = _finished(kube, BACKUP, op_namespace, "db")
    assert st["phase"] == "Completed" and st["volumeSnapshotsCompleted"] == 2, st
    snapshot_of = {s["persistentVolume"]: s["snapshotId"] for s in st["volumeSnapshots"]}

    # A clone into another namespace, in another region: the snapshots are copied there.
    _create_vsl(kube, op_namespace, "ebs-west", moto_endpoint, region=WEST)
    clone = f"{app.namespace}-west"
    control.create(
        kube,
        RESTORE,
        op_namespace,
        {
            "metadata": {"name": "db-west"},
            "spec": {
                "backupName": "db",
                "namespaceMapping": {app.namespace: clone},
                "volumeSnapshotLocation": "ebs-west",
                "volumeZone": "us-west-2a",
            },
        },
    )
    try:
        rst = _finished(kube, RESTORE, op_namespace, "db-west")
        assert rst["phase"] == "Completed", rst
        for claim in CLAIMS:
            pvc = kube.get(f"/api/v1/namespaces/{clone}/persistentvolumeclaims/{claim}")
            pv = kube.get(f"/api/v1/persistentvolumes/{pvc['spec']['volumeName']}")
            assert pv["metadata"]["name"] not in app.volumes  # renamed beside the original
            [vol] = _ec2(moto_endpoint, WEST).describe_volumes(
                VolumeIds=[pv["spec"]["csi"]["volumeHandle"]]
            )["Volumes"]
            assert vol["AvailabilityZone"] == "us-west-2a"
            assert vol["SnapshotId"] not in snapshot_of.values()  # a copy, made in us-west-2
        wait_for(lambda: _bound(kube, clone), timeout=60, what="cloned claims bound")
    finally:
        kube.request("DELETE", f"/api/v1/namespaces/{clone}")

    # The disaster: the namespace, its PVs and the cloud volumes are gone.
    kube.request("DELETE", f"/api/v1/namespaces/{app.namespace}")
    wait_for(
        lambda: _gone(kube, f"/api/v1/namespaces/{app.namespace}"),
        timeout=120,
        what=f"namespace {app.namespace} deleted",
    )
    for pv, volume_id in app.volumes.items():
        _delete_pv(kube, pv)
        _ec2(moto_endpoint).delete_volume(VolumeId=volume_id)

    control.create(
        kube, RESTORE, op_namespace, {"metadata": {"name": "db-back"}, "spec": {"backupName": "db"}}
    )
    rst = _finished(kube, RESTORE, op_namespace, "db-back")
    assert rst["phase"] == "Completed", rst
    for pv, snapshot_id in snapshot_of.items():
        live = kube.get(f"/api/v1/persistentvolumes/{pv}")
        new_id = live["spec"]["csi"]["volumeHandle"]
        assert new_id != app.volumes[pv]
        [vol] = _ec2(moto_endpoint).describe_volumes(VolumeIds=[new_id])["Volumes"]
        assert vol["SnapshotId"] == snapshot_id and vol["AvailabilityZone"] == "us-east-1a"
        assert _tags(vol)["ark.dev/restore"] == "db-back"
    wait_for(lambda: _bound(kube, app.namespace), timeout=60, what="restored claims bound")


def _gone(kube: KubeClient, path: str) -> bool:
    try:
        kube.get(path)
    except KubeApiError as exc:
        return exc.not_found
    return False


def test_backup_naming_a_missing_location_fails_validation_naming_it(
    kube: KubeClient,
    op_namespace: str,
    default_bsl: str,
    operator: Operator,
    moto_endpoint: str,
) -> None:
    _create_vsl(kube, op_namespace, "ebs", moto_endpoint)
    _backup(kube, op_namespace, "typo", "default", volumeSnapshotLocations=["ebs", "ebs-typo"])
    st = _finished(kube, BACKUP, op_namespace, "typo")
    assert st["phase"] == "FailedValidation"
    assert st["validationErrors"] == [f"VolumeSnapshotLocation {op_namespace}/ebs-typo not found"]
    wait_event(kube, op_namespace, "typo", "FailedValidation")


def test_backup_naming_an_unavailable_location_fails_validation_saying_why(
    kube: KubeClient,
    op_namespace: str,
    default_bsl: str,
    operator: Operator,
) -> None:
    control.create(
        kube,
        VSL,
        op_namespace,
        {"metadata": {"name": "odd"}, "spec": {"provider": "example.com/nothing"}},
    )
    wait_phase(kube, VSL, op_namespace, "odd", {"Unavailable"})
    _backup(kube, op_namespace, "to-odd", "default", volumeSnapshotLocations=["odd"])
    st = _finished(kube, BACKUP, op_namespace, "to-odd")
    assert st["phase"] == "FailedValidation"
    [error] = st["validationErrors"]
    assert error.startswith("VolumeSnapshotLocation odd is Unavailable: "), error
    assert "example.com/nothing" in error


def test_several_locations_of_a_provider_and_none_named_fail_validation(
    kube: KubeClient,
    op_namespace: str,
    default_bsl: str,
    operator: Operator,
    moto_endpoint: str,
) -> None:
    _create_vsl(kube, op_namespace, "ebs-east", moto_endpoint)
    _create_vsl(kube, op_namespace, "ebs-west", moto_endpoint, region=WEST)
    _backup(kube, op_namespace, "which", "default")
    st = _finished(kube, BACKUP, op_namespace, "which")
    assert st["phase"] == "FailedValidation"
    [error] = st["validationErrors"]
    assert "provider aws" in error and "ebs-east, ebs-west" in error, error


def test_default_location_flag_picks_one_of_several(
    kube: KubeClient,
    op_namespace: str,
    default_bsl: str,
    operator: Operator,
    app: App,
    moto_endpoint: str,
) -> None:
    operator.stop()
    operator.extra["--default-volume-snapshot-locations"] = "aws:ebs-east"
    operator.start()
    _create_vsl(kube, op_namespace, "ebs-east", moto_endpoint)
    _create_vsl(kube, op_namespace, "ebs-west", moto_endpoint, region=WEST)
    _backup(kube, op_namespace, "dflt", app.namespace)
    st = _finished(kube, BACKUP, op_namespace, "dflt")
    assert st["phase"] == "Completed", st
    assert {s["location"] for s in st["volumeSnapshots"]} == {"ebs-east"}


def test_snapshot_volumes_false_takes_no_snapshots(
    kube: KubeClient,
    op_namespace: str,
    default_bsl: str,
    operator: Operator,
    app: App,
    moto_endpoint: str,
) -> None:
    _create_vsl(kube, op_namespace, "ebs", moto_endpoint)
    _backup(
        kube,
        op_namespace,
        "objects-only",
        app.namespace,
        snapshotVolumes=False,
        volumeSnapshotLocations=["nosuch"],  # not even looked at, as in Velero
    )
    st = _finished(kube, BACKUP, op_namespace, "objects-only")
    assert st["phase"] == "Completed", st
    assert st.get("volumeSnapshotsAttempted", 0) == 0 and not st.get("volumeSnapshots")
    assert _snapshots_of(moto_endpoint, list(app.volumes.values())) == []


# -- a SIGKILL while the operator waits for the snapshots ----------------------------------
class EbsGate:
    """An HTTP relay in front of moto that holds the calls whose form body has every one of
    ``markers`` until opened: by default DescribeSnapshots of given ids (the wait for
    completion, not the look for snapshots to adopt by tag), so the operator can be killed
    after it recorded the snapshot ids and before the snapshots are done. With ``answered``,
    the call reaches moto and only its answer is held (the cloud did it, the caller never
    heard). Every other call passes straight through to moto."""

    def __init__(
        self,
        upstream: str,
        *,
        markers: tuple[bytes, ...] = (b"Action=DescribeSnapshots&", b"SnapshotId.1="),
        answered: bool = False,
    ) -> None:
        self.upstream = urllib.parse.urlsplit(upstream)
        self.open = threading.Event()
        self.held = threading.Event()
        gate = self

        def hold(body: bytes) -> None:
            if all(m in body + b"&" for m in markers) and not gate.open.is_set():
                gate.held.set()
                gate.open.wait(timeout=120)

        class Relay(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if not answered:
                    hold(body)
                conn = http.client.HTTPConnection(
                    gate.upstream.hostname or "127.0.0.1", gate.upstream.port, timeout=60
                )
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                    conn.request("POST", self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                finally:
                    conn.close()
                if answered:
                    hold(body)
                try:
                    self.send_response(resp.status)
                    for key, value in resp.getheaders():
                        if key.lower() not in {"transfer-encoding", "connection", "content-length"}:
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the operator that asked was killed

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Relay)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.open.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def ebs_gate(moto_endpoint: str) -> Iterator[EbsGate]:
    gate = EbsGate(moto_endpoint)
    try:
        yield gate
    finally:
        gate.close()


def test_operator_killed_after_recording_snapshot_ids_adopts_them_on_restart(
    kube: KubeClient,
    op_namespace: str,
    default_bsl: str,
    operator: Operator,
    app: App,
    moto_endpoint: str,
    ebs_gate: EbsGate,
) -> None:
    _create_vsl(kube, op_namespace, "ebs", ebs_gate.url)
    _backup(kube, op_namespace, "killed", app.namespace)

    def ids_recorded() -> dict[str, str] | None:
        obj = control.get(kube, BACKUP, op_namespace, "killed") or {}
        entries = (obj.get("status") or {}).get("volumeSnapshots") or []
        ids = {e["persistentVolume"]: e["snapshotId"] for e in entries if e.get("snapshotId")}
        return ids if len(ids) == 2 else None

    before = wait_for(ids_recorded, timeout=60, what="snapshot ids in status")
    assert ebs_gate.held.wait(timeout=30), "the operator never waited for its snapshots"
    operator.kill()
    assert (control.get(kube, BACKUP, op_namespace, "killed") or {})["status"][
        "phase"
    ] == "InProgress"
    ebs_gate.open.set()
    operator.start()

    st = _finished(kube, BACKUP, op_namespace, "killed")
    assert st["phase"] == "Completed", st
    assert st["attempt"] == 2
    assert {s["persistentVolume"]: s["snapshotId"] for s in st["volumeSnapshots"]} == before
    assert st["volumeSnapshotsCompleted"] == 2
    in_moto = _snapshots_of(moto_endpoint, list(app.volumes.values()))
    assert sorted(s["SnapshotId"] for s in in_moto) == sorted(before.values())  # no duplicates
    wait_event(kube, op_namespace, "killed", "Restarted")


@pytest.fixture
def volume_gate(moto_endpoint: str) -> Iterator[EbsGate]:
    gate = EbsGate(moto_endpoint, markers=(b"Action=CreateVolume&",), answered=True)
    try:
        yield gate
    finally:
        gate.close()


@pytest.fixture
def snapshot_gate(moto_endpoint: str) -> Iterator[EbsGate]:
    gate = EbsGate(moto_endpoint, markers=(b"Action=CreateSnapshot&",), answered=True)
    try:
        yield gate
    finally:
        gate.close()


def test_operator_killed_before_it_heard_the_snapshot_ids_adopts_them_by_tag(
    kube: KubeClient,
    op_namespace: str,
    default_bsl: str,
    operator: Operator,
    app: App,
    moto_endpoint: str,
    snapshot_gate: EbsGate,
) -> None:
    _create_vsl(kube, op_namespace, "ebs", snapshot_gate.url)
    _backup(kube, op_namespace, "unheard", app.namespace)
    uid = (control.get(kube, BACKUP, op_namespace, "unheard") or {})["metadata"]["uid"]
    assert snapshot_gate.held.wait(timeout=60), "the backup never started a snapshot"

    def both_in_moto() -> dict[str, str] | None:
        found = _snapshots_of(moto_endpoint, list(app.volumes.values()))
        ours = {_tags(s)["ark.dev/pv"]: s["SnapshotId"] for s in found}
        return ours if len(found) == 2 and len(ours) == 2 else None

    made = wait_for(both_in_moto, timeout=30, what="both snapshots started in moto")
    operator.kill()
    killed = (control.get(kube, BACKUP, op_namespace, "unheard") or {})["status"]
    assert killed["phase"] == "InProgress" and not killed.get("volumeSnapshots")  # unrecorded
    snapshot_gate.open.set()
    operator.start()

    st = _finished(kube, BACKUP, op_namespace, "unheard")
    assert st["phase"] == "Completed", st
    assert st["attempt"] == 2
    assert {s["persistentVolume"]: s["snapshotId"] for s in st["volumeSnapshots"]} == made
    in_moto = _snapshots_of(moto_endpoint, list(app.volumes.values()))
    assert sorted(s["SnapshotId"] for s in in_moto) == sorted(made.values())  # no duplicates
    assert all(_tags(s)["ark.dev/backup-uid"] == uid for s in in_moto)


def _volumes_of_restore(endpoint: str, uid: str) -> dict[str, list[str]]:
    """What moto holds: PV name -> the volumes tagged with the restore's uid."""
    found = _ec2(endpoint).describe_volumes(
        Filters=[{"Name": "tag:ark.dev/restore-uid", "Values": [uid]}]
    )["Volumes"]
    out: dict[str, list[str]] = {}
    for vol in found:
        out.setdefault(_tags(vol)["ark.dev/pv"], []).append(vol["VolumeId"])
    return out


def test_operator_killed_after_the_cloud_made_the_volumes_adopts_them_on_restart(
    kube: KubeClient,
    op_namespace: str,
    default_bsl: str,
    operator: Operator,
    app: App,
    moto_endpoint: str,
    volume_gate: EbsGate,
) -> None:
    _create_vsl(kube, op_namespace, "ebs", volume_gate.url)
    _backup(kube, op_namespace, "db", app.namespace)
    st = _finished(kube, BACKUP, op_namespace, "db")
    assert st["phase"] == "Completed" and st["volumeSnapshotsCompleted"] == 2, st
    kube.request("DELETE", f"/api/v1/namespaces/{app.namespace}")
    wait_for(
        lambda: _gone(kube, f"/api/v1/namespaces/{app.namespace}"),
        timeout=120,
        what=f"namespace {app.namespace} deleted",
    )
    for pv, volume_id in app.volumes.items():
        _delete_pv(kube, pv)
        _ec2(moto_endpoint).delete_volume(VolumeId=volume_id)

    # Attempt 1: moto makes both volumes, the operator is killed before it hears their ids.
    control.create(
        kube, RESTORE, op_namespace, {"metadata": {"name": "db-back"}, "spec": {"backupName": "db"}}
    )
    uid = (control.get(kube, RESTORE, op_namespace, "db-back") or {})["metadata"]["uid"]
    assert volume_gate.held.wait(timeout=60), "the restore never created a volume"
    made = wait_for(
        lambda: (found := _volumes_of_restore(moto_endpoint, uid)) and len(found) == 2 and found,
        timeout=30,
        what="both volumes made in moto",
    )
    operator.kill()
    assert (control.get(kube, RESTORE, op_namespace, "db-back") or {})["status"][
        "phase"
    ] == "InProgress"
    volume_gate.open.set()
    operator.start()

    rst = _finished(kube, RESTORE, op_namespace, "db-back")
    assert rst["phase"] == "Completed", rst
    assert rst["attempt"] == 2
    assert _volumes_of_restore(moto_endpoint, uid) == made  # no duplicates, none orphaned
    for pv, [volume_id] in made.items():
        live = kube.get(f"/api/v1/persistentvolumes/{pv}")
        assert live["spec"]["csi"]["volumeHandle"] == volume_id
    wait_for(lambda: _bound(kube, app.namespace), timeout=60, what="restored claims bound")
    wait_event(kube, op_namespace, "db-back", "Restarted")


def test_restore_naming_a_missing_target_location_fails_validation_naming_it(
    kube: KubeClient,
    op_namespace: str,
    default_bsl: str,
    operator: Operator,
    make_namespace: NamespaceFactory,
) -> None:
    _backup(kube, op_namespace, "plain", make_namespace("empty"))
    assert _finished(kube, BACKUP, op_namespace, "plain")["phase"] == "Completed"
    control.create(
        kube,
        RESTORE,
        op_namespace,
        {
            "metadata": {"name": "elsewhere"},
            "spec": {"backupName": "plain", "volumeSnapshotLocation": "ebs-nowhere"},
        },
    )
    st = _finished(kube, RESTORE, op_namespace, "elsewhere")
    assert st["phase"] == "FailedValidation"
    assert st["validationErrors"] == [
        f"volumeSnapshotLocation: VolumeSnapshotLocation {op_namespace}/ebs-nowhere not found"
    ]
