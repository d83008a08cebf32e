"""The csi snapshotter against the real CSI snapshot stack: the upstream snapshot.storage.k8s.io
CRDs, snapshot-controller, csi-snapshotter and csi-provisioner sidecars, and Kubernetes' e2e CSI
mock driver, run as processes against the local API server (hack/csi). Nothing plays the
controller's part: every status transition here is the real components'.

The driver is the mock Kubernetes' own e2e suite runs the sidecars against (volumes and
snapshots in its memory) because csi-driver-host-path cannot be fetched:
``go mod download -json github.com/kubernetes-csi/csi-driver-host-path@latest`` gets
``403 Forbidden ... This module version is not available`` from the Go module proxy.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ark import backup, control, persistence, restore, snapshot
from ark.api import BackupPhase, BackupSpec, RestorePhase, RestoreSpec
from ark.backup import SnapshotLocation, SnapshotOptions, verify
from ark.backup.results import BackupResult
from ark.kube import KubeApiError, KubeClient
from ark.snapshot import csi, csi_objects, errors
from ark.snapshot.interface import (
    BACKUP_UID_TAG,
    PV_TAG,
    SnapshotPhase,
    VolumeSnapshotter,
    owner_tags,
)
from ark.storage import ObjectStore
from tests.conftest import Cluster, NamespaceFactory
from tests.support import localenv, workloads

CLASS = "ark-csi"
SNAPSHOTS = "/apis/snapshot.storage.k8s.io/v1"


@pytest.fixture(scope="module")
def driver(csi_driver: str, kube: KubeClient) -> Iterator[str]:
    """The CSI stack for the test cluster, a StorageClass (Immediate binding) and a default
    VolumeSnapshotClass (deletionPolicy Delete, so the Retain ark sets is what keeps snapshots)
    for its driver."""
    name = csi_driver
    _create(
        kube,
        "/apis/storage.k8s.io/v1/storageclasses",
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": CLASS},
            "provisioner": name,
            "volumeBindingMode": "Immediate",
            "reclaimPolicy": "Delete",
        },
    )
    _create(
        kube,
        f"{SNAPSHOTS}/volumesnapshotclasses",
        {
            "apiVersion": "snapshot.storage.k8s.io/v1",
            "kind": "VolumeSnapshotClass",
            "metadata": {"name": CLASS, "annotations": {csi.DEFAULT_CLASS_ANNOTATION: "true"}},
            "driver": name,
            "deletionPolicy": "Delete",
        },
    )
    yield name


@pytest.fixture
def snapshotter(kube: KubeClient, driver: str) -> VolumeSnapshotter:
    return snapshot.open_snapshotter("csi", region="", config={}, credentials={}, kube=kube)


def _create(kube: KubeClient, path: str, body: dict[str, Any]) -> None:
    try:
        kube.request("POST", path, body=body)
    except KubeApiError as exc:
        if not exc.already_exists:
            raise


def _wait(what: str, check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def _gone(kube: KubeClient, path: str) -> bool:
    try:
        kube.get(path)
    except KubeApiError as exc:
        return exc.not_found
    return False


def _restored_contents(kube: KubeClient, snapshot_id: str) -> list[dict[str, Any]]:
    """The VolumeSnapshotContents ark pre-provisioned from backup snapshot ``snapshot_id``."""
    return [
        c
        for c in kube.get(f"{SNAPSHOTS}/volumesnapshotcontents")["items"]
        if (c["metadata"].get("annotations") or {}).get(csi_objects.RESTORED_FROM) == snapshot_id
    ]


def _claims_bound(kube: KubeClient, namespace: str, claims: list[str]) -> bool:
    found = kube.get(f"/api/v1/namespaces/{namespace}/persistentvolumeclaims")["items"]
    phases = {c["metadata"]["name"]: (c.get("status") or {}).get("phase") for c in found}
    return all(phases.get(c) == "Bound" for c in claims)


def _claim(kube: KubeClient, namespace: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = kube.get(
        f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/{name}"
    )
    return found


def _content(kube: KubeClient, name: str) -> dict[str, Any]:
    found: dict[str, Any] = kube.get(f"{SNAPSHOTS}/volumesnapshotcontents/{name}")
    return found


CLAIMS = ["data-db-0", "data-db-1"]


def _claim_body(name: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": CLASS,
            "resources": {"requests": {"storage": "1Gi"}},
        },
    }


# -- opening and choosing volumes ----------------------------------------------------------
def test_opens_through_its_entry_point_and_needs_the_cluster(kube: KubeClient) -> None:
    opened = snapshot.open_snapshotter("csi", region="r1", config={}, credentials={}, kube=kube)
    assert isinstance(opened, csi.CsiSnapshotter) and opened.region == "r1"
    assert "csi" in snapshot.providers()
    with pytest.raises(errors.SnapshotConfigError, match="through a cluster"):
        snapshot.open_snapshotter("csi", region="", config={}, credentials={})
    with pytest.raises(errors.SnapshotConfigError, match=r"'snapshotClass'.*volumeSnapshotClass"):
        snapshot.open_snapshotter(
            "csi", region="", config={"snapshotClass": "x"}, credentials={}, kube=kube
        )
    with pytest.raises(errors.SnapshotConfigError, match="need no credentials"):
        snapshot.open_snapshotter("csi", region="", config={}, credentials={"k": "v"}, kube=kube)


def _pv(driver: str, *, claim: bool = True) -> dict[str, Any]:
    spec: dict[str, Any] = {"csi": {"driver": driver, "volumeHandle": "h-1"}}
    if claim:
        spec["claimRef"] = {"namespace": "shop", "name": "data"}
    return {"metadata": {"name": "pv-1"}, "spec": spec}


def test_leaves_cloud_drivers_and_in_tree_volumes_to_the_cloud_plugins(kube: KubeClient) -> None:
    default = csi.open_snapshotter(region="", config={}, credentials={}, kube=kube)
    for driver in sorted(csi.CLOUD_DRIVERS):
        assert default.volume_of(_pv(driver)) is None
    assert default.volume_of({"metadata": {"name": "x"}, "spec": {"hostPath": {}}}) is None
    only = csi.open_snapshotter(
        region="", config={"drivers": "a.example.com"}, credentials={}, kube=kube
    )
    assert only.volume_of(_pv("b.example.com")) is None


def test_a_driver_without_a_snapshot_class_is_an_error_naming_it_and_the_fix(
    snapshotter: VolumeSnapshotter,
) -> None:
    with pytest.raises(errors.NoSnapshotClass) as caught:
        snapshotter.volume_of(_pv("other.example.com"))
    message = str(caught.value)
    assert "PersistentVolume pv-1" in message and "other.example.com" in message
    assert csi.DEFAULT_CLASS_ANNOTATION in message


def test_an_unbound_volume_cannot_be_snapshotted(
    snapshotter: VolumeSnapshotter, driver: str
) -> None:
    with pytest.raises(errors.InvalidVolume, match=r"pv-1: .*bound to none"):
        snapshotter.volume_of(_pv(driver, claim=False))


def test_the_class_named_in_the_location_wins_for_its_driver(kube: KubeClient, driver: str) -> None:
    other = "ark-csi-named"
    _create(
        kube,
        f"{SNAPSHOTS}/volumesnapshotclasses",
        {
            "apiVersion": "snapshot.storage.k8s.io/v1",
            "kind": "VolumeSnapshotClass",
            "metadata": {"name": other},
            "driver": driver,
            "deletionPolicy": "Retain",
        },
    )
    named = csi.open_snapshotter(
        region="", config={"volumeSnapshotClass": other}, credentials={}, kube=kube
    )
    volume = named.volume_of(_pv(driver))
    assert isinstance(volume, csi.CsiVolume) and volume.snapshot_class == other
    missing = csi.open_snapshotter(
        region="", config={"volumeSnapshotClass": "nope"}, credentials={}, kube=kube
    )
    with pytest.raises(errors.SnapshotConfigError, match="no VolumeSnapshotClass 'nope'"):
        missing.volume_of(_pv(driver))


def test_unknown_snapshots_are_not_found(snapshotter: VolumeSnapshotter) -> None:
    with pytest.raises(errors.SnapshotNotFound, match="snapcontent-missing"):
        snapshotter.snapshot_status("snapcontent-missing")
    snapshotter.delete_snapshot("snapcontent-missing")  # deleting nothing is not an error


# -- end to end ----------------------------------------------------------------------------
def test_statefulset_volumes_come_back_from_retained_csi_snapshots_and_deletion_cleans_up(
    kube: KubeClient,
    make_namespace: NamespaceFactory,
    snapshotter: VolumeSnapshotter,
    s3_store: ObjectStore,
) -> None:
    namespace = make_namespace("csi")
    kube.request(
        "POST",
        f"/apis/apps/v1/namespaces/{namespace}/statefulsets",
        body=workloads.claim_statefulset(storage_class=CLASS, size="1Gi"),
    )
    _wait("claims provisioned", lambda: _claims_bound(kube, namespace, CLAIMS))
    old = {c: _claim(kube, namespace, c)["spec"]["volumeName"] for c in CLAIMS}

    made = backup.run(
        kube,
        s3_store,
        name="csi-snap",
        spec=BackupSpec(included_namespaces=[namespace], snapshot_volumes=True),
        snapshots=SnapshotOptions(locations=[SnapshotLocation("csi", snapshotter)]),
    )
    assert made.phase == BackupPhase.COMPLETED, [str(e) for e in made.issues.errors]
    assert {r.persistent_volume for r in made.volume_snapshots} == set(old.values())
    contents = {r.claim: r.snapshot_id for r in made.volume_snapshots}
    handles = {}
    for claim, content_name in contents.items():
        content = _content(kube, content_name)
        assert content["spec"]["deletionPolicy"] == "Retain"  # the class says Delete
        assert content["status"]["readyToUse"] is True
        handles[claim] = content["status"]["snapshotHandle"]
        ref = content["spec"]["volumeSnapshotRef"]
        taken = kube.get(f"{SNAPSHOTS}/namespaces/{ref['namespace']}/volumesnapshots/{ref['name']}")
        assert taken["metadata"]["labels"]["ark.dev/exclude-from-backup"] == "true"
        assert taken["metadata"]["annotations"]["ark.dev/backup"] == "csi-snap"

    # Disaster: the namespace goes, and with it the claims, the VolumeSnapshots and (reclaim
    # policy Delete) the volumes. The retained contents, and so the snapshots, stay.
    kube.request("DELETE", f"/api/v1/namespaces/{namespace}")
    _wait("namespace gone", lambda: _gone(kube, f"/api/v1/namespaces/{namespace}"), timeout=120)
    _wait(
        "volumes deleted",
        lambda: all(_gone(kube, f"/api/v1/persistentvolumes/{pv}") for pv in old.values()),
    )
    for content_name in contents.values():
        assert _content(kube, content_name)["status"]["readyToUse"] is True

    result = restore.run(
        kube,
        s3_store,
        name="csi-back",
        backup_name="csi-snap",
        spec=RestoreSpec(backup_name="csi-snap"),
        volumes=restore.VolumeOptions(snapshotters={"csi": snapshotter}),
    )
    assert result.phase == RestorePhase.COMPLETED, [str(e) for e in result.issues.errors]
    skipped = {o.name: o for o in result.outcomes if o.resource == "persistentvolumes"}
    assert {o.outcome for o in skipped.values()} == {"skipped"}
    assert all("CSI driver" in (o.message or "") for o in skipped.values())
    _wait("restored claims provisioned", lambda: _claims_bound(kube, namespace, CLAIMS))
    for claim in CLAIMS:
        pvc = _claim(kube, namespace, claim)
        source = pvc["spec"]["dataSource"]
        assert (
            source["kind"] == "VolumeSnapshot" and source["apiGroup"] == "snapshot.storage.k8s.io"
        )
        assert pvc["spec"]["volumeName"] not in old.values()  # a new volume, made by the driver
        vs = kube.get(f"{SNAPSHOTS}/namespaces/{namespace}/volumesnapshots/{source['name']}")
        assert vs["status"]["readyToUse"] is True
        made_content = _content(kube, vs["spec"]["source"]["volumeSnapshotContentName"])
        assert made_content["spec"]["source"]["snapshotHandle"] == handles[f"{namespace}/{claim}"]
        assert made_content["spec"]["deletionPolicy"] == "Retain"

    # A clone beside it: the same snapshots, made available in the other namespace.
    clone = f"{namespace}-clone"
    try:
        cloned = restore.run(
            kube,
            s3_store,
            name="csi-clone",
            backup_name="csi-snap",
            spec=RestoreSpec(backup_name="csi-snap", namespace_mapping={namespace: clone}),
            volumes=restore.VolumeOptions(snapshotters={"csi": snapshotter}),
        )
        assert cloned.phase == RestorePhase.COMPLETED, [str(e) for e in cloned.issues.errors]
        _wait("cloned claims provisioned", lambda: _claims_bound(kube, clone, CLAIMS))
        for claim in CLAIMS:
            source = _claim(kube, clone, claim)["spec"]["dataSource"]
            vs = kube.get(f"{SNAPSHOTS}/namespaces/{clone}/volumesnapshots/{source['name']}")
            made_content = _content(kube, vs["status"]["boundVolumeSnapshotContentName"])
            assert made_content["spec"]["volumeSnapshotRef"]["namespace"] == clone
            assert (
                made_content["spec"]["source"]["snapshotHandle"] == handles[f"{namespace}/{claim}"]
            )
    finally:
        kube.request("DELETE", f"/api/v1/namespaces/{clone}")

    # Deleting the backup's snapshots removes the contents and, through the driver, the
    # snapshots themselves: a content pre-provisioned with the old handle no longer finds it.
    def restored_over(content_name: str) -> list[dict[str, Any]]:
        return _restored_contents(kube, content_name)

    def none_over(content_name: str) -> bool:
        return not restored_over(content_name)

    for content_name in contents.values():
        assert len(restored_over(content_name)) == 2  # the restore's and the clone's
        with pytest.raises(errors.NotOwned):  # another backup's name: nothing is touched
            snapshotter.delete_snapshot(content_name, owner_tags=owner_tags("csi-other"))
        assert len(restored_over(content_name)) == 2
        snapshotter.delete_snapshot(content_name, owner_tags=owner_tags("csi-snap"))
        assert _gone(kube, f"{SNAPSHOTS}/volumesnapshotcontents/{content_name}")
        with pytest.raises(errors.SnapshotNotFound):
            snapshotter.snapshot_status(content_name)
        _wait("the restores' contents gone", functools.partial(none_over, content_name))
    _wait(
        "the restore's VolumeSnapshots gone",
        lambda: not kube.get(f"{SNAPSHOTS}/namespaces/{namespace}/volumesnapshots")["items"],
    )
    probe = "ark-probe-" + namespace
    handle = next(iter(handles.values()))
    _create(
        kube,
        f"{SNAPSHOTS}/volumesnapshotcontents",
        {
            "apiVersion": "snapshot.storage.k8s.io/v1",
            "kind": "VolumeSnapshotContent",
            "metadata": {"name": probe},
            "spec": {
                "deletionPolicy": "Retain",
                "driver": made_content["spec"]["driver"],
                "source": {"snapshotHandle": handle},
                "volumeSnapshotRef": {"namespace": namespace, "name": probe},
            },
        },
    )
    try:

        def probed() -> bool:
            status = _content(kube, probe).get("status") or {}
            return bool(status.get("error") or status.get("readyToUse"))

        _wait("the driver to look the deleted snapshot up", probed)
        status = _content(kube, probe)["status"]
        assert not status.get("readyToUse") and status["error"]["message"]
    finally:
        kube.request("DELETE", f"{SNAPSHOTS}/volumesnapshotcontents/{probe}")


def test_a_retried_backup_adopts_its_volumesnapshot(
    kube: KubeClient, namespace: str, snapshotter: VolumeSnapshotter, driver: str
) -> None:
    kube.request(
        "POST", f"/api/v1/namespaces/{namespace}/persistentvolumeclaims", body=_claim_body("data")
    )
    _wait("claim provisioned", lambda: _claims_bound(kube, namespace, ["data"]))
    pv = kube.get(
        f"/api/v1/persistentvolumes/{_claim(kube, namespace, 'data')['spec']['volumeName']}"
    )
    volume = snapshotter.volume_of(pv)
    assert isinstance(volume, csi.CsiVolume) and volume.driver == driver
    tags = {"ark.dev/backup": "again", "ark.dev/pv": pv["metadata"]["name"]}
    first = snapshotter.create_snapshot(volume, tags=tags)
    assert snapshotter.create_snapshot(volume, tags=tags) == first
    _wait(
        "snapshot ready",
        lambda: snapshotter.snapshot_status(first).phase is SnapshotPhase.COMPLETED,
    )
    snapshots = kube.get(f"{SNAPSHOTS}/namespaces/{namespace}/volumesnapshots")["items"]
    assert len(snapshots) == 1
    snapshotter.delete_snapshot(first)
    assert _gone(kube, f"{SNAPSHOTS}/volumesnapshotcontents/{first}")
    _wait(
        "its VolumeSnapshot gone",
        lambda: not kube.get(f"{SNAPSHOTS}/namespaces/{namespace}/volumesnapshots")["items"],
        timeout=30,
    )


def test_snapshots_tagged_finds_the_contents_annotated_with_every_tag(
    kube: KubeClient, namespace: str, snapshotter: VolumeSnapshotter
) -> None:
    kube.request(
        "POST", f"/api/v1/namespaces/{namespace}/persistentvolumeclaims", body=_claim_body("data")
    )
    _wait("claim provisioned", lambda: _claims_bound(kube, namespace, ["data"]))
    pv = kube.get(
        f"/api/v1/persistentvolumes/{_claim(kube, namespace, 'data')['spec']['volumeName']}"
    )
    volume = snapshotter.volume_of(pv)
    assert volume is not None
    uid, pv_name = str(uuid.uuid4()), pv["metadata"]["name"]
    tags = {"ark.dev/backup": f"b-{uid[:8]}", BACKUP_UID_TAG: uid, PV_TAG: pv_name}
    taken = snapshotter.create_snapshot(volume, tags=tags)
    try:
        assert snapshotter.snapshots_tagged({BACKUP_UID_TAG: uid, PV_TAG: pv_name}) == [taken]
        assert snapshotter.snapshots_tagged({BACKUP_UID_TAG: uid, PV_TAG: "other"}) == []
        assert snapshotter.snapshots_tagged({BACKUP_UID_TAG: str(uuid.uuid4())}) == []
        assert snapshotter.volumes_tagged({BACKUP_UID_TAG: uid}) == []  # claims bring them back
    finally:
        snapshotter.delete_snapshot(taken)


def test_the_operator_opens_a_csi_location_with_its_own_cluster_client(
    kube: KubeClient, namespace: str, ark_crds: list[str], driver: str
) -> None:
    def location(name: str, config: dict[str, str]) -> dict[str, Any]:
        body = {
            "apiVersion": "ark.dev/v1",
            "kind": "VolumeSnapshotLocation",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"provider": "csi", "config": config},
        }
        kube.request(
            "POST", f"/apis/ark.dev/v1/namespaces/{namespace}/volumesnapshotlocations", body=body
        )
        return body

    good = location("in-cluster", {"volumeSnapshotClass": CLASS})
    assert control.validate_vsl(kube, namespace, good) is None
    opened = control.open_vsl_snapshotter(kube, namespace, "in-cluster")
    assert isinstance(opened, csi.CsiSnapshotter)
    assert opened.volume_of(_pv(driver)) is not None  # it reads this cluster's classes
    bad = location("typo", {"snapshotClass": CLASS})
    problem = control.validate_vsl(kube, namespace, bad)
    assert problem is not None and "VolumeSnapshotLocation typo" in problem
    assert "'snapshotClass'" in problem


def test_a_claim_whose_snapshot_is_gone_fails_alone_naming_it(
    kube: KubeClient,
    make_namespace: NamespaceFactory,
    snapshotter: VolumeSnapshotter,
    fs_store: ObjectStore,
) -> None:
    namespace = make_namespace("csi-gone")
    kube.request(
        "POST", f"/api/v1/namespaces/{namespace}/persistentvolumeclaims", body=_claim_body("data")
    )
    kube.request(
        "POST",
        f"/api/v1/namespaces/{namespace}/configmaps",
        body={"metadata": {"name": "settings"}, "data": {"k": "v"}},
    )
    _wait("claim provisioned", lambda: _claims_bound(kube, namespace, ["data"]))
    made = backup.run(
        kube,
        fs_store,
        name="csi-gone",
        spec=BackupSpec(included_namespaces=[namespace], snapshot_volumes=True),
        snapshots=SnapshotOptions(locations=[SnapshotLocation("csi", snapshotter)]),
    )
    assert made.phase == BackupPhase.COMPLETED, [str(e) for e in made.issues.errors]
    [record] = made.volume_snapshots
    kube.request("DELETE", f"/api/v1/namespaces/{namespace}")
    _wait("namespace gone", lambda: _gone(kube, f"/api/v1/namespaces/{namespace}"), timeout=120)
    assert record.source["snapshotHandle"]
    snapshotter.delete_snapshot(record.snapshot_id)  # the content and the driver's snapshot

    result = restore.run(
        kube,
        fs_store,
        name="csi-gone-back",
        backup_name="csi-gone",
        spec=RestoreSpec(backup_name="csi-gone"),
        volumes=restore.VolumeOptions(snapshotters={"csi": snapshotter}),
    )
    assert result.phase == RestorePhase.PARTIALLY_FAILED
    [failed] = [o for o in result.outcomes if o.outcome == "failed"]
    assert (failed.resource, failed.name) == ("persistentvolumeclaims", "data")
    message = failed.message or ""
    assert f"snapshot {record.snapshot_id}: cannot restore from" in message
    assert f"refused its snapshotHandle {record.source['snapshotHandle']}" in message
    # The pre-provisioned content the driver refused is deleted again; it goes once the
    # snapshot controller drops its finalizer (after the VolumeSnapshot, deleted with it).
    deadline = time.monotonic() + 120
    while refused := [c["metadata"] for c in _restored_contents(kube, record.snapshot_id)]:
        assert all(m.get("deletionTimestamp") for m in refused), refused
        assert time.monotonic() < deadline, f"the refused content is still there: {refused}"
        time.sleep(0.25)
    assert kube.get(f"/api/v1/namespaces/{namespace}/configmaps/settings")["data"] == {"k": "v"}
    assert _gone(kube, f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/data")


def test_a_deep_verify_asks_the_csi_objects_whether_each_snapshot_is_there(
    kube: KubeClient,
    make_namespace: NamespaceFactory,
    snapshotter: VolumeSnapshotter,
    fs_store: ObjectStore,
) -> None:
    namespace = make_namespace("csi-verify")
    kube.request(
        "POST", f"/api/v1/namespaces/{namespace}/persistentvolumeclaims", body=_claim_body("data")
    )
    _wait("claim provisioned", lambda: _claims_bound(kube, namespace, ["data"]))
    made = backup.run(
        kube,
        fs_store,
        name="csi-verify",
        spec=BackupSpec(included_namespaces=[namespace], snapshot_volumes=True),
        snapshots=SnapshotOptions(locations=[SnapshotLocation("csi", snapshotter)]),
    )
    assert made.phase == BackupPhase.COMPLETED, [str(e) for e in made.issues.errors]
    [record] = made.volume_snapshots
    store = persistence.BackupStore(fs_store)

    deep = verify.run(store, "csi-verify", snapshotter_for=lambda _: snapshotter)
    assert deep.ok, [str(p) for p in deep.problems]
    assert (deep.deep, deep.volume_snapshots) == (True, 1)

    snapshotter.delete_snapshot(record.snapshot_id)
    shallow = verify.run(store, "csi-verify")
    assert shallow.ok  # the bucket alone cannot tell
    gone = verify.run(store, "csi-verify", snapshotter_for=lambda _: snapshotter)
    assert [p.reason for p in gone.problems] == [verify.SNAPSHOT_MISSING]
    assert record.snapshot_id in gone.problems[0].message
    assert gone.volume_snapshots == 0


def test_a_record_without_a_snapshot_handle_restores_only_where_its_content_is(
    snapshotter: VolumeSnapshotter,
) -> None:
    assert isinstance(snapshotter, csi.CsiSnapshotter)
    claim = {"metadata": {"namespace": "old", "name": "data"}, "spec": {}}
    with pytest.raises(errors.SnapshotNotFound, match="recorded no snapshotHandle"):
        snapshotter.claim_from_snapshot(
            claim, snapshot_id="snapcontent-older", tags={"ark.dev/restore": "r"}
        )


def _backed_up_claim(
    kube: KubeClient, namespace: str, snapshotter: VolumeSnapshotter, store: ObjectStore
) -> BackupResult:
    kube.request(
        "POST", f"/api/v1/namespaces/{namespace}/persistentvolumeclaims", body=_claim_body("data")
    )
    _wait("claim provisioned", lambda: _claims_bound(kube, namespace, ["data"]))
    made = backup.run(
        kube,
        store,
        name=f"{namespace}-b",
        spec=BackupSpec(included_namespaces=[namespace], snapshot_volumes=True),
        snapshots=SnapshotOptions(locations=[SnapshotLocation("csi", snapshotter)]),
    )
    assert made.phase == BackupPhase.COMPLETED, [str(e) for e in made.issues.errors]
    return made


def _restored_from_handle(
    kube: KubeClient, namespace: str, snapshotter: VolumeSnapshotter, store: ObjectStore
) -> dict[str, Any]:
    """Restore ``namespace``'s backup with ``snapshotter``'s cluster; the VolumeSnapshotContent
    its claim was provisioned from."""
    result = restore.run(
        kube,
        store,
        name=f"{namespace}-r",
        backup_name=f"{namespace}-b",
        spec=RestoreSpec(backup_name=f"{namespace}-b"),
        volumes=restore.VolumeOptions(snapshotters={"csi": snapshotter}),
    )
    assert result.phase == RestorePhase.COMPLETED, [str(e) for e in result.issues.errors]
    _wait("restored claim provisioned", lambda: _claims_bound(kube, namespace, ["data"]))
    source = _claim(kube, namespace, "data")["spec"]["dataSource"]
    vs = kube.get(f"{SNAPSHOTS}/namespaces/{namespace}/volumesnapshots/{source['name']}")
    assert vs["status"]["readyToUse"] is True
    return _content(kube, vs["status"]["boundVolumeSnapshotContentName"])


def test_a_claim_comes_back_through_the_recorded_handle_after_its_content_was_deleted(
    kube: KubeClient,
    driver: str,
    make_namespace: NamespaceFactory,
    snapshotter: VolumeSnapshotter,
    fs_store: ObjectStore,
) -> None:
    namespace = make_namespace("csi-handle")
    made = _backed_up_claim(kube, namespace, snapshotter, fs_store)
    [record] = made.volume_snapshots
    handle = _content(kube, record.snapshot_id)["status"]["snapshotHandle"]
    assert record.source == {
        "driver": driver,
        "snapshotHandle": handle,
        "volumeSnapshotClassName": CLASS,
        "sourceVolumeMode": "Filesystem",
    }
    kube.request("DELETE", f"/api/v1/namespaces/{namespace}")
    _wait("namespace gone", lambda: _gone(kube, f"/api/v1/namespaces/{namespace}"), timeout=120)
    # The content goes, Retain keeps the driver's snapshot: only the record still finds it.
    kube.request("DELETE", f"{SNAPSHOTS}/volumesnapshotcontents/{record.snapshot_id}")
    content_path = f"{SNAPSHOTS}/volumesnapshotcontents/{record.snapshot_id}"
    _wait("content gone", lambda: _gone(kube, content_path))

    made_content = _restored_from_handle(kube, namespace, snapshotter, fs_store)
    assert made_content["spec"]["source"]["snapshotHandle"] == handle
    assert made_content["spec"]["deletionPolicy"] == "Retain"
    assert made_content["metadata"]["annotations"][csi_objects.RESTORED_FROM] == record.snapshot_id


def test_a_snapshot_restores_into_another_cluster_on_the_same_storage(
    kube: KubeClient,
    driver: str,
    cluster: Cluster,
    second_cluster: Cluster,
    make_namespace: NamespaceFactory,
    snapshotter: VolumeSnapshotter,
    fs_store: ObjectStore,
) -> None:
    """The second cluster's own snapshot-controller and sidecars, on the first cluster's driver
    (one storage backend): the backup's VolumeSnapshotContent is not there, its handle is."""
    namespace = make_namespace("csi-far")
    made = _backed_up_claim(kube, namespace, snapshotter, fs_store)
    [record] = made.volume_snapshots
    handle = _content(kube, record.snapshot_id)["status"]["snapshotHandle"]

    started = localenv.csi_up(second_cluster.name, driver_of=cluster.name)
    try:
        with KubeClient.load(kubeconfig=second_cluster.kubeconfig) as far:
            _create(
                far,
                "/apis/storage.k8s.io/v1/storageclasses",
                {
                    "apiVersion": "storage.k8s.io/v1",
                    "kind": "StorageClass",
                    "metadata": {"name": CLASS},
                    "provisioner": driver,
                    "volumeBindingMode": "Immediate",
                    "reclaimPolicy": "Delete",
                },
            )
            assert _gone(far, f"{SNAPSHOTS}/volumesnapshotcontents/{record.snapshot_id}")
            there = snapshot.open_snapshotter("csi", region="", config={}, credentials={}, kube=far)
            try:
                made_content = _restored_from_handle(far, namespace, there, fs_store)
                assert made_content["spec"]["source"]["snapshotHandle"] == handle
                assert "volumeSnapshotClassName" not in made_content["spec"]  # none there
                volume = _claim(far, namespace, "data")["spec"]["volumeName"]
            finally:
                far.request("DELETE", f"/api/v1/namespaces/{namespace}")
            _wait(
                "restored namespace gone",
                lambda: _gone(far, f"/api/v1/namespaces/{namespace}"),
                timeout=120,
            )
            _wait("its volume deleted", lambda: _gone(far, f"/api/v1/persistentvolumes/{volume}"))
            far.request(
                "DELETE", f"{SNAPSHOTS}/volumesnapshotcontents/{made_content['metadata']['name']}"
            )
    finally:
        if started.owned:
            localenv.csi_down(second_cluster.name)
    # Deleting the backup's snapshot, from the cluster that took it, still deletes it.
    snapshotter.delete_snapshot(record.snapshot_id)
    assert _gone(kube, f"{SNAPSHOTS}/volumesnapshotcontents/{record.snapshot_id}")
