"""A backup attempt killed after starting its snapshots and before recording their ids leaves
them in the cloud, tagged with the Backup's uid: the next attempt adopts them (moto, the EC2
protocol), so there is exactly one snapshot per volume."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest

from ark import snapshot
from ark.backup import SnapshotLocation
from ark.backup.volumes import snapshot_volumes
from ark.persistence import SnapshotRecord
from ark.report import Issues, RunLog
from ark.snapshot.interface import VolumeSnapshotter

REGION = "us-east-1"


class Killed(Exception):
    """The operator died here (before the snapshot ids reached the Backup's status)."""


def _ec2(endpoint: str) -> Any:
    return boto3.client(
        "ec2",
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="ark-test",
        aws_secret_access_key="ark-secret",
    )


def _pv(name: str, volume_id: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name},
        "spec": {
            "claimRef": {"namespace": "shop", "name": f"data-{name}"},
            "csi": {"driver": "ebs.csi.aws.com", "volumeHandle": volume_id},
        },
    }


@pytest.fixture
def east(moto_endpoint: str) -> VolumeSnapshotter:
    return snapshot.open_snapshotter(
        "aws",
        region=REGION,
        config={"ec2Url": moto_endpoint},
        credentials={"aws_access_key_id": "ark-test", "aws_secret_access_key": "ark-secret"},
    )


def _snapshots_on_server(endpoint: str, volume_ids: list[str]) -> dict[str, list[str]]:
    found = _ec2(endpoint).describe_snapshots(
        Filters=[{"Name": "volume-id", "Values": volume_ids}]
    )["Snapshots"]
    out: dict[str, list[str]] = {}
    for snap in found:
        out.setdefault(snap["VolumeId"], []).append(snap["SnapshotId"])
    return out


def _attempt(
    pvs: list[dict[str, Any]],
    east: VolumeSnapshotter,
    *,
    uid: str,
    adopt: dict[str, str] | None = None,
    killed: bool = False,
) -> list[SnapshotRecord]:
    started: list[SnapshotRecord] = []

    def on_started(records: list[SnapshotRecord]) -> None:
        started.extend(records)
        if killed:
            raise Killed

    issues = Issues()
    log = RunLog("backup nightly")
    try:
        outcome = snapshot_volumes(
            pvs,
            backup_name="nightly",
            locations=[SnapshotLocation("ebs", east)],
            issues=issues,
            log=log,
            adopt=adopt,
            on_started=on_started,
            uid=uid,
            timeout=60,
        )
    except Killed:
        return started
    finally:
        log.close()
    assert not issues.errors, [str(e) for e in issues.errors]
    return outcome.records


@pytest.mark.parametrize("recorded", [0, 1], ids=["none-recorded", "one-recorded"])
def test_snapshots_started_but_not_recorded_are_adopted_by_the_next_attempt(
    moto_endpoint: str, east: VolumeSnapshotter, recorded: int
) -> None:
    volumes = {
        f"pv-{i}": _ec2(moto_endpoint).create_volume(AvailabilityZone="us-east-1a", Size=4)[
            "VolumeId"
        ]
        for i in range(3)
    }
    pvs = [_pv(name, vid) for name, vid in volumes.items()]
    uid = str(uuid.uuid4())

    first = _attempt(pvs, east, uid=uid, killed=True)
    first_ids = {r.persistent_volume: r.snapshot_id for r in first}
    assert len(first_ids) == 3 and all(first_ids.values())
    # What the status got before the kill: none of the ids, or one (recorded ids are adopted
    # from status, the others are found by their tags).
    adopt = dict(sorted(first_ids.items())[:recorded])

    second = _attempt(pvs, east, uid=uid, adopt=adopt)
    assert {r.persistent_volume: r.snapshot_id for r in second} == first_ids
    assert all(r.phase == "Completed" for r in second)
    on_server = _snapshots_on_server(moto_endpoint, list(volumes.values()))
    assert on_server == {volumes[pv]: [sid] for pv, sid in first_ids.items()}  # one each


def test_another_backup_of_the_same_volumes_adopts_nothing(
    moto_endpoint: str, east: VolumeSnapshotter
) -> None:
    volume_id = _ec2(moto_endpoint).create_volume(AvailabilityZone="us-east-1a", Size=4)["VolumeId"]
    pvs = [_pv("pv-0", volume_id)]
    first = _attempt(pvs, east, uid=str(uuid.uuid4()))
    other = _attempt(pvs, east, uid=str(uuid.uuid4()))  # a new Backup: a new uid
    assert first[0].snapshot_id != other[0].snapshot_id
    assert len(_snapshots_on_server(moto_endpoint, [volume_id])[volume_id]) == 2
