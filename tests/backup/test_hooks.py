"""Backup exec hooks against the real API server, and their order around real EBS snapshots.

The local cluster has no kubelet, so its Pods stay Pending and no exec can succeed here. What
the API server really does with an exec into such a pod — it refuses it, naming the pod — is
tested with the real ``pods/exec`` transport: onError Fail makes the backup PartiallyFailed
with that answer, Continue makes it a warning, and which pods get hooks (namespaces, labels,
resources, Velero's annotations) shows in whose pods the server was asked.

The order of hooks around the snapshots needs commands that succeed, so there the exec
transport is ``StandInExec``: a recording stand-in for a kubelet-backed exec, named as such.
The snapshots themselves are real (moto's EC2 protocol), observed by ``WatchedSnapshotter``,
which can also delete a volume in moto right after it was identified: a real fault at a chosen
moment, so that its snapshot really fails to start.
"""

from __future__ import annotations

import gzip
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import boto3
import orjson
import pytest

from ark import archive, backup, persistence, snapshot
from ark.api import BackupPhase, BackupSpec
from ark.backup import SnapshotLocation, SnapshotOptions
from ark.kube import KubeClient
from ark.kube.podexec import ExecResult
from ark.snapshot.interface import SnapshotStatus, VolumeRef, VolumeSnapshotter
from ark.storage import ObjectStore
from tests.conftest import NamespaceFactory
from tests.support import backups

REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "ark-test", "aws_secret_access_key": "ark-secret"}
FREEZE = ["fsfreeze", "--freeze", "/data"]
THAW = ["fsfreeze", "--unfreeze", "/data"]
NO_HOST = "does not have a host assigned"  # the API server's answer for a Pending pod


def _pod(
    name: str,
    *,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    claim: str | None = None,
    containers: Sequence[str] = ("db", "metrics"),
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": [{"name": c, "image": "postgres:16"} for c in containers],
    }
    if claim:
        spec["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "labels": dict(labels or {}),
            "annotations": dict(annotations or {}),
        },
        "spec": spec,
    }


def _create(kube: KubeClient, namespace: str, *pods: dict[str, Any]) -> None:
    for pod in pods:
        kube.request("POST", f"/api/v1/namespaces/{namespace}/pods", body=pod)


def _hooks(
    *,
    pre: Sequence[Mapping[str, Any]] = (),
    post: Sequence[Mapping[str, Any]] = (),
    **selection: Any,
) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": selection.pop("name", "freeze"), **selection}
    if pre:
        entry["pre"] = [{"exec": dict(e)} for e in pre]
    if post:
        entry["post"] = [{"exec": dict(e)} for e in post]
    return {"resources": [entry]}


def _spec(namespaces: Sequence[str], hooks: Mapping[str, Any] | None = None) -> BackupSpec:
    wire: dict[str, Any] = {"includedNamespaces": list(namespaces)}
    if hooks is not None:
        wire["hooks"] = hooks
    return BackupSpec.model_validate(wire)


def _pods_asked(messages: Sequence[str]) -> set[str]:
    """The pods an exec was refused for, from the server's own answers ("pod X does not ...")."""
    out = set()
    for m in messages:
        if NO_HOST in m:
            out.add(m.split(NO_HOST)[0].rsplit("pod ", 1)[1].strip())
    return out


# -- the real API server: hooks on Pending pods ------------------------------------------------
def test_failing_pre_hook_makes_the_backup_partially_failed_with_the_servers_answer(
    kube: KubeClient, namespace: str, fs_store: ObjectStore
) -> None:
    _create(kube, namespace, _pod("db-0", labels={"app": "db"}))
    spec = _spec(
        [namespace],
        _hooks(pre=[{"command": FREEZE, "onError": "Fail"}], post=[{"command": THAW}]),
    )

    made = backup.run(kube, fs_store, name=f"hooks-fail-{namespace}", spec=spec)

    assert made.phase == BackupPhase.PARTIALLY_FAILED
    [pre, post] = [str(e) for e in made.issues.errors]
    assert pre.startswith(f"pods {namespace}/db-0: pre hook freeze in pod {namespace}/db-0")
    assert 'container db command ["fsfreeze","--freeze","/data"] failed' in pre
    assert f"400 BadRequest: pod db-0 {NO_HOST}" in pre  # the server's own words
    assert "post hook freeze" in post and "--unfreeze" in post and NO_HOST in post
    assert (made.hooks_attempted, made.hooks_failed) == (2, 2)
    # The results file and the stored Backup say the same; the archive is still complete.
    stored = backups.results(fs_store, made.name)
    assert pre in stored["errors"]["namespaces"][namespace]
    keys = persistence.BackupKeys(archive.backup_name(made.name))
    record = orjson.loads(fs_store.get(keys.metadata))
    assert record["status"]["phase"] == "PartiallyFailed"
    assert record["status"]["hookStatus"] == {"hooksAttempted": 2, "hooksFailed": 2}
    assert record["spec"]["hooks"]["resources"][0]["pre"][0]["exec"]["command"] == FREEZE
    logs = gzip.decompress(fs_store.get(keys.logs)).decode()
    assert "pre hooks: 1 in 1 pods" in logs and NO_HOST in logs


def test_continue_makes_a_failing_hook_a_warning_and_the_backup_completes(
    kube: KubeClient, namespace: str, fs_store: ObjectStore
) -> None:
    _create(kube, namespace, _pod("db-0"))
    spec = _spec(
        [namespace],
        _hooks(pre=[{"command": FREEZE, "onError": "Continue", "container": "metrics"}]),
    )

    made = backup.run(kube, fs_store, name=f"hooks-continue-{namespace}", spec=spec)

    assert made.phase == BackupPhase.COMPLETED, [str(e) for e in made.issues.errors]
    [warning] = [str(w) for w in made.issues.warnings]
    assert f"pre hook freeze in pod {namespace}/db-0 container metrics" in warning
    assert NO_HOST in warning and warning.endswith("(onError Continue)")
    index = backups.results(fs_store, made.name)
    assert warning in index["warnings"]["namespaces"][namespace]
    assert made.progress.items_backed_up > 0


def test_hooks_apply_to_the_pods_their_namespaces_labels_and_resources_select(
    kube: KubeClient, make_namespace: NamespaceFactory, fs_store: ObjectStore
) -> None:
    first, second = make_namespace("hooks-a"), make_namespace("hooks-b")
    for ns in (first, second):
        _create(kube, ns, _pod("db-0", labels={"app": "db"}), _pod("web-0", labels={"app": "web"}))
    continue_freeze = {"command": FREEZE, "onError": "Continue"}

    def asked(**selection: Any) -> set[str]:
        spec = _spec([first, second], _hooks(pre=[continue_freeze], **selection))
        made = backup.run(kube, fs_store, name=f"sel-{uuid.uuid4().hex[:8]}", spec=spec)
        assert made.phase == BackupPhase.COMPLETED, [str(e) for e in made.issues.errors]
        return {
            f"{w.namespace}/{w.name}"
            for w in made.issues.warnings
            if NO_HOST in w.message and w.resource == "pods"
        }

    everyone = {f"{ns}/{p}" for ns in (first, second) for p in ("db-0", "web-0")}
    assert asked() == everyone
    assert asked(includedNamespaces=[first]) == {f"{first}/db-0", f"{first}/web-0"}
    assert asked(excludedNamespaces=["hooks-a-*"]) == {f"{second}/db-0", f"{second}/web-0"}
    assert asked(labelSelector={"matchLabels": {"app": "db"}}) == {
        f"{first}/db-0",
        f"{second}/db-0",
    }
    assert asked(
        labelSelector={"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["db"]}]}
    ) == {f"{first}/web-0", f"{second}/web-0"}
    assert asked(includedResources=["pods"]) == everyone
    assert asked(includedResources=["po"], includedNamespaces=[second]) == {
        f"{second}/db-0",
        f"{second}/web-0",
    }
    assert asked(includedResources=["deployments"]) == set()
    assert asked(excludedResources=["pods"]) == set()


def test_pod_annotations_take_precedence_and_reach_the_server(
    kube: KubeClient, namespace: str, fs_store: ObjectStore
) -> None:
    _create(
        kube,
        namespace,
        _pod(
            "annotated",
            annotations={
                "pre.hook.backup.velero.io/command": orjson.dumps(FREEZE).decode(),
                "pre.hook.backup.velero.io/container": "metrics",
                "pre.hook.backup.velero.io/on-error": "Continue",
                "pre.hook.backup.velero.io/timeout": "300",  # no unit: not a Go duration
                "post.hook.backup.velero.io/command": "/bin/thaw",
                "post.hook.backup.velero.io/container": "sidecar-that-does-not-exist",
                "post.hook.backup.velero.io/on-error": "Continue",
            },
        ),
        _pod("legacy", annotations={"hook.backup.velero.io/command": '["/bin/sync"]'}),
        _pod("plain"),
    )
    spec = _spec([namespace], _hooks(pre=[{"command": ["/bin/from-spec"], "onError": "Continue"}]))

    made = backup.run(kube, fs_store, name=f"hooks-annotated-{namespace}", spec=spec)

    warnings = {(w.name, w.message) for w in made.issues.warnings}
    by_pod: dict[str, list[str]] = {}
    for pod, message in warnings:
        by_pod.setdefault(pod or "", []).append(message)
    annotated = sorted(by_pod["annotated"])
    assert any("timeout '300' is not a duration" in m and "30s used" in m for m in annotated)
    assert any(
        m.startswith(f"pre hook <from-annotation> in pod {namespace}/annotated container metrics")
        and '["fsfreeze","--freeze","/data"]' in m
        and NO_HOST in m
        for m in annotated
    )
    # The server checks the container before the node: its own answer for an unknown one.
    assert any(
        "post hook <from-annotation>" in m
        and "container sidecar-that-does-not-exist is not valid for pod annotated" in m
        for m in annotated
    )
    assert not any("/bin/from-spec" in m for m in annotated)  # annotations win for pre
    assert any("/bin/from-spec" in m for m in by_pod["plain"])
    # Velero's unphased legacy annotation is a pre hook, with onError Fail by default.
    [legacy] = [str(e) for e in made.issues.errors]
    assert f"pre hook <from-annotation> in pod {namespace}/legacy container db" in legacy
    assert '["/bin/sync"]' in legacy and NO_HOST in legacy
    assert made.phase == BackupPhase.PARTIALLY_FAILED


def test_a_backup_without_hooks_asks_no_pod_anything(
    kube: KubeClient, namespace: str, fs_store: ObjectStore
) -> None:
    _create(kube, namespace, _pod("db-0"))
    made = backup.run(kube, fs_store, name=f"no-hooks-{namespace}", spec=_spec([namespace]))
    assert made.phase == BackupPhase.COMPLETED
    assert made.hooks_attempted == 0 and not made.issues.warnings


# -- order around real snapshots (moto), with a stand-in exec -----------------------------------
@dataclass(frozen=True)
class Event:
    what: str
    detail: str


class Timeline:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def add(self, what: str, detail: str) -> None:
        with self._lock:
            self.events.append(Event(what, detail))

    def index(self, what: str, *, last: bool = False) -> int:
        found = [i for i, e in enumerate(self.events) if e.what == what]
        assert found, f"no {what} in {self.events}"
        return found[-1] if last else found[0]

    def all(self, what: str) -> list[int]:
        return [i for i, e in enumerate(self.events) if e.what == what]


class StandInExec:
    """STAND-IN for the kubelet-backed pods/exec (no kubelet exists here): records each command
    and answers like a container would: exit 0, or for the pods in ``fail`` a freeze that exits
    with their code (the thaw succeeds)."""

    def __init__(self, timeline: Timeline, *, fail: Mapping[str, int] | None = None) -> None:
        self.timeline = timeline
        self.fail = dict(fail or {})

    def __call__(
        self, *, namespace: str, pod: str, container: str, command: Sequence[str], timeout: float
    ) -> ExecResult:
        what = "thaw" if "--unfreeze" in command else "freeze"
        self.timeline.add(what, f"{namespace}/{pod}/{container}")
        time.sleep(0.05)  # a command takes a moment; order must not depend on luck
        code = self.fail.get(pod, 0) if what == "freeze" else 0
        return ExecResult(exit_code=code, stderr="fsfreeze: /data: busy" if code else "")


class WatchedSnapshotter:
    """The real AWS snapshotter (moto), with each start and status poll put on the timeline;
    the volumes in ``vanish`` are deleted in moto as soon as they are identified."""

    def __init__(
        self, real: VolumeSnapshotter, timeline: Timeline, *, vanish: set[str], ec2: Any
    ) -> None:
        self.real = real
        self.timeline = timeline
        self.vanish = vanish
        self.ec2 = ec2

    @property
    def provider(self) -> str:
        return self.real.provider

    @property
    def region(self) -> str:
        return self.real.region

    def volume_of(self, pv: Any) -> VolumeRef | None:
        found = self.real.volume_of(pv)
        if found is not None and found.volume_id in self.vanish:
            self.ec2.delete_volume(VolumeId=found.volume_id)
        return found

    def create_snapshot(self, volume: VolumeRef, *, tags: Mapping[str, str]) -> str:
        self.timeline.add("start-begin", volume.volume_id)
        try:
            return self.real.create_snapshot(volume, tags=tags)
        finally:
            self.timeline.add("start-end", volume.volume_id)

    def snapshot_status(self, snapshot_id: str) -> SnapshotStatus:
        self.timeline.add("status", snapshot_id)
        return self.real.snapshot_status(snapshot_id)

    def create_volume_from_snapshot(self, snapshot_id: str, **kwargs: Any) -> str:
        return self.real.create_volume_from_snapshot(snapshot_id, **kwargs)

    def copy_snapshot(self, snapshot_id: str, *, to_region: str, tags: Mapping[str, str]) -> str:
        return self.real.copy_snapshot(snapshot_id, to_region=to_region, tags=tags)

    def delete_snapshot(
        self, snapshot_id: str, *, owner_tags: Mapping[str, str] | None = None
    ) -> None:
        self.real.delete_snapshot(snapshot_id, owner_tags=owner_tags)

    def delete_volume(self, volume_id: str, *, owner_tags: Mapping[str, str]) -> None:
        self.real.delete_volume(volume_id, owner_tags=owner_tags)

    def set_volume_id(self, pv: Any, *, volume_id: str, zone: str | None) -> dict[str, Any]:
        return self.real.set_volume_id(pv, volume_id=volume_id, zone=zone)

    def volumes_tagged(self, tags: Mapping[str, str]) -> list[VolumeRef]:
        return self.real.volumes_tagged(tags)

    def snapshots_tagged(self, tags: Mapping[str, str]) -> list[str]:
        return self.real.snapshots_tagged(tags)


def _ec2(endpoint: str) -> Any:
    return boto3.client(
        "ec2",
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="ark-test",
        aws_secret_access_key="ark-secret",
    )


def _pv(name: str, volume_id: str, namespace: str, claim: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name},
        "spec": {
            "capacity": {"storage": "10Gi"},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": "",
            "claimRef": {"namespace": namespace, "name": claim},
            "csi": {"driver": "ebs.csi.aws.com", "volumeHandle": volume_id, "fsType": "ext4"},
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


@pytest.fixture
def databases(
    kube: KubeClient, namespace: str, moto_endpoint: str
) -> Iterator[tuple[str, dict[str, str]]]:
    """Three database pods (``app=db``), each mounting a claim bound to its own EBS volume in
    moto. Yields the namespace and pod name -> volume id."""
    ec2 = _ec2(moto_endpoint)
    volumes: dict[str, str] = {}
    try:
        for i in range(3):
            pod = f"db-{i}"
            volumes[pod] = ec2.create_volume(AvailabilityZone="us-east-1a", Size=10)["VolumeId"]
            pv = f"ebs-{namespace}-{pod}"
            kube.request(
                "POST", "/api/v1/persistentvolumes", body=_pv(pv, volumes[pod], namespace, pod)
            )
            kube.request(
                "POST",
                f"/api/v1/namespaces/{namespace}/persistentvolumeclaims",
                body=_claim(pod, pv),
            )
            _create(kube, namespace, _pod(pod, labels={"app": "db"}, claim=pod, containers=["db"]))
        yield namespace, volumes
    finally:
        for pod in volumes:
            kube.request("DELETE", f"/api/v1/persistentvolumes/ebs-{namespace}-{pod}")


def _snapshots_of(endpoint: str, backup_name: str) -> dict[str, str]:
    """volume id -> snapshot id of the snapshots moto holds for ``backup_name``."""
    found = _ec2(endpoint).describe_snapshots(
        Filters=[{"Name": "tag:ark.dev/backup", "Values": [backup_name]}]
    )["Snapshots"]
    return {s["VolumeId"]: s["SnapshotId"] for s in found}


def _run(
    kube: KubeClient,
    store: ObjectStore,
    endpoint: str,
    namespace: str,
    timeline: Timeline,
    *,
    name: str,
    hooks: Mapping[str, Any],
    fail: Mapping[str, int] | None = None,
    vanish: set[str] | None = None,
) -> backup.BackupResult:
    real = snapshot.open_snapshotter(
        "aws", region=REGION, config={"ec2Url": endpoint}, credentials=CREDENTIALS
    )
    watched = WatchedSnapshotter(real, timeline, vanish=vanish or set(), ec2=_ec2(endpoint))
    return backup.run(
        kube,
        store,
        name=name,
        spec=_spec([namespace], hooks).model_copy(update={"snapshot_volumes": True}),
        snapshots=SnapshotOptions(
            locations=[SnapshotLocation("aws-east", watched)],
            on_started=lambda records: timeline.add("ids-recorded", str(len(records))),
        ),
        pod_exec=StandInExec(timeline, fail=fail),
    )


HOOKS = _hooks(
    pre=[{"command": FREEZE}],
    post=[{"command": THAW}],
    labelSelector={"matchLabels": {"app": "db"}},
)


def test_pre_hooks_before_the_first_start_post_hooks_after_the_last_start_before_completion(
    kube: KubeClient,
    databases: tuple[str, dict[str, str]],
    moto_endpoint: str,
    fs_store: ObjectStore,
) -> None:
    namespace, volumes = databases
    timeline = Timeline()
    name = f"ordered-{namespace}"

    made = _run(kube, fs_store, moto_endpoint, namespace, timeline, name=name, hooks=HOOKS)

    assert len(timeline.all("freeze")) == 3 and len(timeline.all("thaw")) == 3
    assert len(timeline.all("start-begin")) == 3
    assert timeline.index("freeze", last=True) < timeline.index("start-begin")
    assert timeline.index("start-end", last=True) < timeline.index("thaw")
    assert timeline.index("thaw", last=True) < timeline.index("status")  # before any wait
    assert timeline.index("thaw", last=True) < timeline.index("ids-recorded")
    # Real outcomes: three completed snapshots in moto, of exactly these volumes.
    assert made.phase == BackupPhase.COMPLETED, [str(e) for e in made.issues.errors]
    assert set(_snapshots_of(moto_endpoint, name)) == set(volumes.values())
    assert all(r.phase == "Completed" for r in made.volume_snapshots)
    assert {r.volume_id for r in made.volume_snapshots} == set(volumes.values())
    assert (made.hooks_attempted, made.hooks_failed) == (6, 0)


def test_post_hooks_run_even_when_snapshots_fail_to_start(
    kube: KubeClient,
    databases: tuple[str, dict[str, str]],
    moto_endpoint: str,
    fs_store: ObjectStore,
) -> None:
    namespace, volumes = databases
    timeline = Timeline()
    name = f"broken-{namespace}"
    gone = {volumes["db-1"]}

    made = _run(
        kube, fs_store, moto_endpoint, namespace, timeline, name=name, hooks=HOOKS, vanish=gone
    )

    assert len(timeline.all("start-begin")) == 3  # db-1's start was tried, and failed
    assert len(timeline.all("thaw")) == 3  # every frozen pod is thawed all the same
    assert timeline.index("start-end", last=True) < timeline.index("thaw")
    assert made.phase == BackupPhase.PARTIALLY_FAILED
    [failed] = [r for r in made.volume_snapshots if r.phase == "Failed"]
    assert failed.volume_id == volumes["db-1"] and not failed.snapshot_id
    errors = [str(e) for e in made.issues.errors]
    assert any(volumes["db-1"] in e and "not found" in e for e in errors), errors
    assert set(_snapshots_of(moto_endpoint, name)) == {volumes["db-0"], volumes["db-2"]}


def test_a_failed_pre_hook_keeps_its_pods_volume_out_and_still_thaws_it(
    kube: KubeClient,
    databases: tuple[str, dict[str, str]],
    moto_endpoint: str,
    fs_store: ObjectStore,
) -> None:
    namespace, volumes = databases
    timeline = Timeline()
    name = f"prefail-{namespace}"

    made = _run(
        kube, fs_store, moto_endpoint, namespace, timeline, name=name, hooks=HOOKS, fail={"db-1": 1}
    )

    assert made.phase == BackupPhase.PARTIALLY_FAILED
    errors = [str(e) for e in made.issues.errors]
    assert any(
        e.startswith(f"pods {namespace}/db-1: pre hook freeze in pod {namespace}/db-1 container db")
        and "exited 1: fsfreeze: /data: busy" in e
        for e in errors
    ), errors
    assert any(
        e.startswith(f"persistentvolumes ebs-{namespace}-db-1: not snapshotted")
        and f"pod {namespace}/db-1" in e
        for e in errors
    ), errors
    taken = _snapshots_of(moto_endpoint, name)
    assert volumes["db-1"] not in taken
    assert {volumes["db-0"], volumes["db-2"]} <= set(taken)
    assert {e.detail for e in timeline.events if e.what == "thaw"} == {
        f"{namespace}/db-{i}/db" for i in range(3)
    }
    assert (made.hooks_attempted, made.hooks_failed) == (6, 1)


def test_hooks_run_in_order_when_no_volume_is_snapshotted(
    kube: KubeClient, namespace: str, fs_store: ObjectStore
) -> None:
    _create(kube, namespace, _pod("db-0", labels={"app": "db"}))
    timeline = Timeline()
    made = backup.run(
        kube,
        fs_store,
        name=f"nosnap-{namespace}",
        spec=_spec([namespace], HOOKS),
        pod_exec=StandInExec(timeline),
    )
    assert made.phase == BackupPhase.COMPLETED
    assert [e.what for e in timeline.events] == ["freeze", "thaw"]
