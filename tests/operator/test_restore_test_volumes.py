"""Scheduled restore tests cover volumes: the scratch restore makes new volumes from the
backup's snapshots (EBS in moto, CSI through the real snapshot stack), each restored claim must
bind, and the test then deletes exactly what it made — the scratch namespaces, the
PersistentVolumes it wrote, the cloud volumes made from the snapshots — while the source
volumes, their snapshots and the live PersistentVolumes stay as they were.

What cannot be deleted yet is named in the schedule's status and condition, with a Warning
Event and a metric, and is retried at later looks: here a scratch claim held by a finalizer
(copied from the live claim), so its volume cannot go until the hold is lifted."""

from __future__ import annotations

import uuid
from typing import Any

from ark import control
from ark.kube import KubeApiError, KubeClient
from ark.operator import restore_test_scope
from tests.cli.conftest import Ark
from tests.conftest import Cluster, NamespaceFactory
from tests.operator.harness import Operator, event_reasons, status, wait_for
from tests.operator.test_volume_snapshots import (  # noqa: F401 - the app fixture
    App,
    _create_vsl,
    _ec2,
    app,
)

SCHEDULE, RESTORE, VSL = control.SCHEDULE, control.RESTORE, control.VSL
FAR_CRON = "0 0 1 1 *"
HOLD = "ark.test/hold"
SNAPSHOTS = "/apis/snapshot.storage.k8s.io/v1"


def _schedule(kube: KubeClient, namespace: str, source: str, **template: Any) -> str:
    name = f"rtv-{uuid.uuid4().hex[:6]}"
    spec = {
        "schedule": FAR_CRON,
        "template": {"includedNamespaces": [source], **template},
        "restoreTest": {"enabled": True},
    }
    control.create(kube, SCHEDULE, namespace, {"metadata": {"name": name}, "spec": spec})
    return name


def _judged(kube: KubeClient, namespace: str, schedule: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        found = status(kube, SCHEDULE, namespace, schedule).get("restoreTest") or {}
        return found if found.get("phase") in ("Passed", "Failed") else None

    return wait_for(done, timeout=240, what=f"schedule {schedule}'s restore test judged")


def _condition(kube: KubeClient, namespace: str, schedule: str) -> dict[str, Any]:
    conditions = status(kube, SCHEDULE, namespace, schedule).get("conditions") or []
    (found,) = [c for c in conditions if c["type"] == "RestoreTested"]
    return dict(found)


def _live_pvs(kube: KubeClient, namespace: str) -> dict[str, tuple[Any, ...]]:
    """The PersistentVolumes bound to claims of ``namespace`` (the test's own: other tests'
    volumes come and go with their cleanup meanwhile): source, claim (with uid), policy and
    phase."""
    return {
        pv["metadata"]["name"]: (
            pv["metadata"]["uid"],
            (pv["spec"].get("csi") or {}).get("volumeHandle"),
            tuple(sorted((pv["spec"].get("claimRef") or {}).items())),
            pv["spec"].get("persistentVolumeReclaimPolicy"),
            (pv.get("status") or {}).get("phase"),
        )
        for pv in kube.get("/api/v1/persistentvolumes")["items"]
        if (pv["spec"].get("claimRef") or {}).get("namespace") == namespace
    }


def _volume_exists(endpoint: str, volume_id: str) -> bool:
    found = _ec2(endpoint).describe_volumes(Filters=[{"Name": "volume-id", "Values": [volume_id]}])
    return bool(found["Volumes"])


def test_ebs_volumes_are_restored_bound_then_deleted_and_the_live_ones_untouched(
    cluster: Cluster,
    kube: KubeClient,
    op_namespace: str,
    default_bsl: str,
    operator: Operator,
    app: App,  # noqa: F811 - the fixture imported above
    moto_endpoint: str,
) -> None:
    _create_vsl(kube, op_namespace, "ebs", moto_endpoint)
    live_before = _live_pvs(kube, app.namespace)
    assert live_before, "the app's claims are bound"
    schedule = _schedule(kube, op_namespace, app.namespace)
    ark = Ark(kubeconfig=cluster.kubeconfig, namespace=op_namespace)
    ark.ok("backup", "create", "--from-schedule", schedule, "--wait")

    judged = _judged(kube, op_namespace, schedule)
    assert judged["phase"] == "Passed", judged
    assert "volumes from snapshots" in judged["message"], judged
    assert "leftBehind" not in judged and "cleanup" not in judged, judged
    condition = _condition(kube, op_namespace, schedule)
    assert condition["status"] == "True" and condition["reason"] == "Passed", condition

    restore = control.get(kube, RESTORE, op_namespace, judged["restore"])
    assert restore is not None and restore["status"]["phase"] == "Completed"
    made = {v["persistentVolume"]: v for v in restore["status"]["volumes"]}
    assert len(made) == len(app.volumes), made
    backup = status(kube, control.BACKUP, op_namespace, judged["backup"])
    snapshots = {s["snapshotId"] for s in backup["volumeSnapshots"]}
    for pv, volume in made.items():
        assert pv not in app.volumes  # renamed beside the live PV
        assert volume["location"] == "ebs" and volume["snapshotId"] in snapshots
        assert volume["volumeId"] not in app.volumes.values()
        assert not _volume_exists(moto_endpoint, volume["volumeId"]), f"{volume} deleted"
        assert kube.get_or_none(f"/api/v1/persistentvolumes/{pv}") is None
    scratch = restore_test_scope.scratch_namespace(judged["backup"], app.namespace)
    assert kube.get_or_none(f"/api/v1/namespaces/{scratch}") is None

    # What the test did not make is as it was: the source volumes, their snapshots, the live PVs.
    for volume_id in app.volumes.values():
        assert _volume_exists(moto_endpoint, volume_id)
    in_moto = _ec2(moto_endpoint).describe_snapshots(SnapshotIds=sorted(snapshots))["Snapshots"]
    assert {s["SnapshotId"] for s in in_moto} == snapshots
    assert _live_pvs(kube, app.namespace) == live_before
    metrics = operator.metrics()
    assert f'ark_schedule_restore_test_success{{schedule="{schedule}"}} 1.0' in metrics
    assert f'ark_schedule_restore_test_left_behind{{schedule="{schedule}"}} 0.0' in metrics
    assert "RestoreTestCleanupFailed" not in event_reasons(kube, op_namespace, schedule)


def test_a_volume_held_by_its_claim_is_named_left_behind_and_deleted_once_released(
    cluster: Cluster,
    kube: KubeClient,
    op_namespace: str,
    default_bsl: str,
    operator: Operator,
    app: App,  # noqa: F811
    moto_endpoint: str,
) -> None:
    _create_vsl(kube, op_namespace, "ebs", moto_endpoint)
    claim_path = f"/api/v1/namespaces/{app.namespace}/persistentvolumeclaims/data-0"
    hold = {"metadata": {"finalizers": ["kubernetes.io/pvc-protection", HOLD]}}
    kube.request("PATCH", claim_path, body=hold, content_type="application/merge-patch+json")
    try:
        schedule = _schedule(kube, op_namespace, app.namespace)
        ark = Ark(kubeconfig=cluster.kubeconfig, namespace=op_namespace)
        ark.ok("backup", "create", "--from-schedule", schedule, "--wait")

        judged = _judged(kube, op_namespace, schedule)
        assert judged["phase"] == "Passed", judged  # the restore was right; its cleanup is not
        scratch = restore_test_scope.scratch_namespace(judged["backup"], app.namespace)
        restore = control.get(kube, RESTORE, op_namespace, judged["restore"])
        assert restore is not None
        held = next(
            v
            for v in restore["status"]["volumes"]
            if kube.get(f"/api/v1/persistentvolumes/{v['persistentVolume']}")["spec"]["claimRef"][
                "name"
            ]
            == "data-0"
        )
        left = judged["leftBehind"]
        assert any(
            f"PersistentVolume {held['persistentVolume']}: its claim {scratch}/data-0 is not "
            "deleted yet" in line
            for line in left
        ), left
        assert any(line.startswith(f"namespace {scratch}: still terminating") for line in left)
        assert [c["persistentVolume"] for c in judged["cleanup"]] == [held["persistentVolume"]]
        assert _volume_exists(moto_endpoint, held["volumeId"]), "never deleted while claimed"
        condition = _condition(kube, op_namespace, schedule)
        assert condition["reason"] == "CleanupIncomplete", condition
        assert (
            "left behind" in condition["message"]
            and held["persistentVolume"] in (condition["message"])
        )
        assert "RestoreTestCleanupFailed" in event_reasons(kube, op_namespace, schedule)
        metrics = operator.metrics()
        assert f'ark_schedule_restore_test_left_behind{{schedule="{schedule}"}} 2.0' in metrics
        described = ark.ok("schedule", "describe", schedule).out
        assert "Cleanup:" in described and "incomplete" in described, described
        assert f"    - namespace {scratch}: still terminating" in described, described

        # The hold is lifted: a later look deletes the claim's volume and the namespace goes.
        _release(kube, f"/api/v1/namespaces/{scratch}/persistentvolumeclaims/data-0")

        def cleaned() -> dict[str, Any] | None:
            found = status(kube, SCHEDULE, op_namespace, schedule).get("restoreTest") or {}
            return found if not found.get("leftBehind") else None

        after = wait_for(cleaned, timeout=120, what="what the test left behind deleted")
        assert "cleanup" not in after
        assert not _volume_exists(moto_endpoint, held["volumeId"])
        assert kube.get_or_none(f"/api/v1/persistentvolumes/{held['persistentVolume']}") is None
        for volume_id in app.volumes.values():
            assert _volume_exists(moto_endpoint, volume_id)
        assert _condition(kube, op_namespace, schedule)["reason"] == "Passed"
        assert "RestoreTestCleanedUp" in event_reasons(kube, op_namespace, schedule)
        described = ark.ok("schedule", "describe", schedule).out
        assert ["Cleanup:", "done"] in [line.split() for line in described.splitlines()]
        assert (
            f'ark_schedule_restore_test_left_behind{{schedule="{schedule}"}} 0.0'
            in operator.metrics()
        )
    finally:
        _release(kube, claim_path)


def _release(kube: KubeClient, path: str) -> None:
    """The claim without the test's hold (its other finalizers as they are now)."""
    claim = kube.get(path)
    kept = [f for f in claim["metadata"].get("finalizers") or () if f != HOLD]
    body = {
        "metadata": {"finalizers": kept, "resourceVersion": claim["metadata"]["resourceVersion"]}
    }
    kube.request("PATCH", path, body=body, content_type="application/merge-patch+json")


RETAIN_CLASS = "ark-rt-retain"
SNAPSHOT_CLASS = "ark-csi"


def _create(kube: KubeClient, path: str, body: dict[str, Any]) -> None:
    try:
        kube.request("POST", path, body=body)
    except KubeApiError as exc:
        if not exc.already_exists:
            raise


def test_csi_volumes_are_provisioned_from_the_snapshot_bound_then_deleted_by_their_driver(
    cluster: Cluster,
    kube: KubeClient,
    op_namespace: str,
    default_bsl: str,
    operator: Operator,
    make_namespace: NamespaceFactory,
    csi_driver: str,
) -> None:
    # Reclaim policy Retain: without the test's cleanup the driver's volume would stay.
    _create(
        kube,
        "/apis/storage.k8s.io/v1/storageclasses",
        {
            "metadata": {"name": RETAIN_CLASS},
            "provisioner": csi_driver,
            "volumeBindingMode": "Immediate",
            "reclaimPolicy": "Retain",
        },
    )
    _create(
        kube,
        f"{SNAPSHOTS}/volumesnapshotclasses",
        {
            "apiVersion": "snapshot.storage.k8s.io/v1",
            "kind": "VolumeSnapshotClass",
            "metadata": {
                "name": SNAPSHOT_CLASS,
                "annotations": {"snapshot.storage.kubernetes.io/is-default-class": "true"},
            },
            "driver": csi_driver,
            "deletionPolicy": "Delete",
        },
    )
    source = make_namespace("rtv-csi")
    claim = {
        "metadata": {"name": "data"},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": RETAIN_CLASS,
            "resources": {"requests": {"storage": "1Gi"}},
        },
    }
    kube.request("POST", f"/api/v1/namespaces/{source}/persistentvolumeclaims", body=claim)
    path = f"/api/v1/namespaces/{source}/persistentvolumeclaims/data"
    wait_for(
        lambda: kube.get(path).get("status", {}).get("phase") == "Bound" or None,
        timeout=60,
        what="the source claim provisioned",
    )
    live_pv = kube.get(path)["spec"]["volumeName"]
    control.create(
        kube,
        VSL,
        op_namespace,
        {
            "metadata": {"name": "csi"},
            "spec": {"provider": "csi", "config": {"volumeSnapshotClass": SNAPSHOT_CLASS}},
        },
    )
    live_before = _live_pvs(kube, source)
    assert set(live_before) == {live_pv}
    schedule = _schedule(kube, op_namespace, source, volumeSnapshotLocations=["csi"])
    ark = Ark(kubeconfig=cluster.kubeconfig, namespace=op_namespace)
    ark.ok("backup", "create", "--from-schedule", schedule, "--wait")

    judged = _judged(kube, op_namespace, schedule)
    assert judged["phase"] == "Passed", judged
    assert "leftBehind" not in judged and "cleanup" not in judged, judged
    scratch = restore_test_scope.scratch_namespace(judged["backup"], source)
    made = control.get(kube, RESTORE, op_namespace, judged["restore"])
    assert "claims bound: " in judged["message"], (judged, made and made.get("status"))
    said = judged["message"].split("claims bound: ", 1)[1].split(";", 1)[0]
    restored_claim, restored_pv = said.split(" -> ")
    assert restored_claim == f"{scratch}/data" and restored_pv not in live_before, said
    assert kube.get_or_none(f"/api/v1/persistentvolumes/{restored_pv}") is None, (
        "the driver deleted it"
    )
    assert kube.get_or_none(f"/api/v1/namespaces/{scratch}") is None
    contents = kube.get(f"{SNAPSHOTS}/volumesnapshotcontents")["items"]
    restored = [
        c
        for c in contents
        if (c["metadata"].get("annotations") or {}).get("ark.dev/restore") == judged["restore"]
    ]
    assert restored == [], "the contents the claim was provisioned from are removed"
    backup = status(kube, control.BACKUP, op_namespace, judged["backup"])
    [taken] = backup["volumeSnapshots"]
    content = kube.get(f"{SNAPSHOTS}/volumesnapshotcontents/{taken['snapshotId']}")
    assert content["status"]["readyToUse"] is True, "the backup's snapshot stays"
    assert _live_pvs(kube, source) == live_before
    assert kube.get(path)["spec"]["volumeName"] == live_pv
    # The source's volume is the test's own: its driver deletes it with its namespace.
    kube.request(
        "PATCH",
        f"/api/v1/persistentvolumes/{live_pv}",
        body={"spec": {"persistentVolumeReclaimPolicy": "Delete"}},
        content_type="application/merge-patch+json",
    )
