"""Point-in-time restore: while the change log's watcher runs, objects are created, modified
and deleted at recorded instants between two backups; a restore to each instant (into a fresh
namespace, mapped) is compared whole with the namespace as it was dumped at that instant —
what existed, with what content, deletions honoured. A watcher stopped and started again
resumes with no gap; an instant inside a gap, before the log or after its newest change is
refused, naming why."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import config

from ark import backup, persistence, restore
from ark.api import BackupPhase, BackupSpec, RestorePhase, RestoreSpec
from ark.backup.changelog import ChangeWatcher, WatchOptions
from ark.kube import KubeClient
from ark.persistence import BackupStore, ChangeLog
from ark.restore import PointInTime, PointInTimeUnavailable, pointintime
from ark.storage import ObjectStore
from tests.conftest import Cluster, NamespaceFactory, _namespace_factory
from tests.support import compare, faults, localenv

FAST = WatchOptions(flush_seconds=0.5, heartbeat_seconds=1.0)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _stamp(when: dt.datetime) -> str:
    return when.strftime("%Y%m%d%H%M%S")


def _cm(name: str, data: dict[str, str], **labels: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def _deployment(name: str, image: str, replicas: int) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "web", "image": image}]},
            },
        },
    }


class _Namespace:
    """Writes to one namespace through ark's client (what a user does with kubectl)."""

    def __init__(self, kube: KubeClient, namespace: str) -> None:
        self.kube = kube
        self.ns = namespace

    def _path(self, kind: str, name: str | None = None) -> str:
        base = {
            "ConfigMap": f"/api/v1/namespaces/{self.ns}/configmaps",
            "Secret": f"/api/v1/namespaces/{self.ns}/secrets",
            "Deployment": f"/apis/apps/v1/namespaces/{self.ns}/deployments",
        }[kind]
        return base if name is None else f"{base}/{name}"

    def create(self, obj: dict[str, Any]) -> None:
        self.kube.request("POST", self._path(obj["kind"]), body=obj)

    def patch(self, kind: str, name: str, patch: dict[str, Any]) -> None:
        self.kube.request(
            "PATCH",
            self._path(kind, name),
            body=patch,
            content_type="application/merge-patch+json",
        )

    def delete(self, kind: str, name: str) -> None:
        self.kube.request("DELETE", self._path(kind, name))


def _dump(cluster: Cluster, namespace: str) -> dict[str, dict[str, Any]]:
    """The namespace's restorable objects as they stand now, and the instant: a moment after
    the last write settled, before the next."""
    return compare.restorable(compare.snapshot_namespace(cluster, namespace))


def _backup(kube: KubeClient, store: ObjectStore, schedule: str, namespace: str) -> str:
    time.sleep(1.1)  # backup names are per second
    name = f"{schedule}-{_stamp(_now())}"
    made = backup.run(kube, store, name=name, spec=BackupSpec(included_namespaces=[namespace]))
    assert made.phase == BackupPhase.COMPLETED
    return name


def _instant(settle: float = 0.6) -> dt.datetime:
    """An instant between two writes: the watcher has seen the last one well before it."""
    time.sleep(settle)
    at = _now()
    time.sleep(settle)
    return at


def _restore_at(
    kube: KubeClient, store: ObjectStore, schedule: str, at: dt.datetime, source: str, target: str
) -> restore.RestoreResult:
    base = restore.base_backup(BackupStore(store), schedule, at)
    return restore.run(
        kube,
        store,
        name=f"pitr-{uuid.uuid4().hex[:8]}",
        backup_name=base.name,
        spec=RestoreSpec(backup_name=base.name, namespace_mapping={source: target}),
        point_in_time=PointInTime(schedule, at),
    )


def _refused_at(
    kube: KubeClient, store: ObjectStore, base: str, schedule: str, source: str, at: dt.datetime
) -> restore.RestoreResult:
    """A restore of ``base`` to ``at`` into a namespace it must never make."""
    return restore.run(
        kube,
        store,
        name=f"pitr-{uuid.uuid4().hex[:8]}",
        backup_name=base,
        spec=RestoreSpec(backup_name=base, namespace_mapping={source: "never-made"}),
        point_in_time=PointInTime(schedule, at),
    )


def _watch_again(
    cluster: Cluster, kube: KubeClient, store: ObjectStore, schedule: str, spec: BackupSpec
) -> tuple[ChangeWatcher, dt.datetime, dict[str, dict[str, Any]]]:
    """A watcher started again on the schedule's log: once it is ready, an instant, the
    namespace as it was then, and the log stored."""
    namespace = (spec.included_namespaces or [""])[0]
    with ChangeWatcher(
        kube,
        ChangeLog(BackupStore(store), schedule, cluster=kube.cluster_uid()),
        spec,
        options=FAST,
    ) as w:
        assert w.wait_ready(60)
        at = _instant(1.0)
        before = _dump(cluster, namespace)
        w.flush()
    return w, at, before


def _assert_restored_exactly(
    cluster: Cluster,
    kube: KubeClient,
    store: ObjectStore,
    schedule: str,
    at: dt.datetime,
    source: str,
    before: dict[str, dict[str, Any]],
    target: str,
) -> None:
    """A restore of ``source`` as it was ``at`` into ``target`` brings back exactly
    ``before``: the same objects, each equal whole."""
    result = _restore_at(kube, store, schedule, at, source, target)
    assert result.phase == RestorePhase.COMPLETED, result.failure_reason
    after = compare.restorable(compare.snapshot_namespace(cluster, target))
    assert sorted(after) == sorted(before), f"objects at {at}"
    assert compare.differences(before, after, namespace_map={source: target}) == {}


@pytest.fixture
def schedule() -> str:
    return f"pitr-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def watcher(
    kube: KubeClient, fs_store: ObjectStore, schedule: str, namespace: str
) -> Iterator[ChangeWatcher]:
    spec = BackupSpec(included_namespaces=[namespace])
    with ChangeWatcher(
        kube,
        ChangeLog(BackupStore(fs_store), schedule, cluster=kube.cluster_uid()),
        spec,
        options=FAST,
    ) as w:
        assert w.wait_ready(60)
        yield w


def test_restores_three_instants_between_two_backups_exactly(
    cluster: Cluster,
    kube: KubeClient,
    fs_store: ObjectStore,
    schedule: str,
    namespace: str,
    make_namespace: NamespaceFactory,
    watcher: ChangeWatcher,
) -> None:
    ns = _Namespace(kube, namespace)
    ns.create(_cm("settings", {"mode": "blue"}))
    ns.create(_cm("doomed", {"x": "1"}))
    ns.create({"kind": "Secret", "metadata": {"name": "creds"}, "stringData": {"pw": "one"}})
    ns.create(_deployment("web", "nginx:1.25", 2))
    _backup(kube, fs_store, schedule, namespace)

    # Instant 1: a value changed, an object deleted, one created, a rollout.
    ns.patch("ConfigMap", "settings", {"data": {"mode": "green"}})
    ns.delete("ConfigMap", "doomed")
    ns.create(_cm("added", {"y": "2"}, tier="one"))
    ns.patch("Deployment", "web", {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "image": "nginx:1.26"}]}}}})  # fmt: skip
    first = _instant()
    dumps = {first: _dump(cluster, namespace)}

    # Instant 2: the deployment gone, a secret rotated, the new one relabelled.
    ns.delete("Deployment", "web")
    ns.patch("Secret", "creds", {"stringData": {"pw": "two"}})
    ns.patch("ConfigMap", "added", {"metadata": {"labels": {"tier": "two"}}})
    second = _instant()
    dumps[second] = _dump(cluster, namespace)

    # Instant 3: a deleted name back with other content, the secret gone.
    ns.create(_cm("doomed", {"x": "back"}))
    ns.delete("Secret", "creds")
    ns.patch("ConfigMap", "settings", {"data": {"mode": "red", "extra": "yes"}})
    third = _instant()
    dumps[third] = _dump(cluster, namespace)

    ns.create(_cm("later", {"z": "after the last instant"}))
    _backup(kube, fs_store, schedule, namespace)
    watcher.flush()

    assert dumps[first].keys() != dumps[second].keys() != dumps[third].keys()
    for at, before in dumps.items():
        target = make_namespace("pitr-to")
        _assert_restored_exactly(cluster, kube, fs_store, schedule, at, namespace, before, target)
    assert watcher.status.gaps == []
    assert ChangeLog(BackupStore(fs_store), schedule, cluster=kube.cluster_uid()).gaps() == []

    # The other restore options work on the instant too: a dry run plans exactly its objects.
    base = restore.base_backup(BackupStore(fs_store), schedule, second)
    planned = restore.run(
        kube,
        fs_store,
        name=f"pitr-{uuid.uuid4().hex[:8]}",
        backup_name=base.name,
        spec=RestoreSpec(
            backup_name=base.name, namespace_mapping={namespace: "never-made"}, dry_run=True
        ),
        point_in_time=PointInTime(schedule, second),
    )
    assert planned.phase == RestorePhase.COMPLETED, planned.failure_reason
    would_create = {
        f"{o.resource}/{o.name}"
        for o in planned.outcomes
        if o.outcome == restore.Outcome.WOULD_CREATE and o.namespace == namespace
    }
    assert would_create == set(dumps[second])


def test_a_restarted_watcher_resumes_and_the_time_none_ran_is_a_gap(
    cluster: Cluster,
    kube: KubeClient,
    fs_store: ObjectStore,
    schedule: str,
    namespace: str,
    make_namespace: NamespaceFactory,
) -> None:
    """A watcher started again resumes from the checkpoints (no relist): the changes made while
    none ran are recorded, stamped when seen, so the time none ran is a gap of every resource
    (an instant in it is refused, naming it) and an instant after the catch-up is exact."""
    ns = _Namespace(kube, namespace)
    log = ChangeLog(BackupStore(fs_store), schedule, cluster=kube.cluster_uid())
    spec = BackupSpec(included_namespaces=[namespace])
    ns.create(_cm("settings", {"mode": "blue"}))
    with ChangeWatcher(kube, log, spec, options=FAST) as first:
        assert first.wait_ready(60)
        base = _backup(kube, fs_store, schedule, namespace)
        ns.patch("ConfigMap", "settings", {"data": {"mode": "green"}})
        time.sleep(1)
    stopped = first.status.stored_through
    assert stopped is not None and first.status.gaps == []
    watched = len(first.status.resources)
    # While nothing watches: changes the restarted watcher must find from its checkpoint.
    ns.create(_cm("while-down", {"a": "1"}))
    ns.patch("ConfigMap", "settings", {"data": {"mode": "amber"}})
    down = _instant(0.5)
    w, at, before = _watch_again(cluster, kube, fs_store, schedule, spec)
    (gap,) = w.status.gaps
    assert log.gaps() == [gap]
    assert gap.resource == "*" and gap.start == stopped and gap.covers(down)
    assert gap.end <= at and "no watcher ran" in gap.reason
    relists = sum(log.read(n).trailer.counts.get("ResyncBegin", 0) for n in log.segments())
    assert watched > 0
    assert relists == watched, "the restarted watcher resumed from its checkpoints, no relist"
    _assert_restored_exactly(
        cluster, kube, fs_store, schedule, at, namespace, before, make_namespace("pitr-to")
    )
    refused = _refused_at(kube, fs_store, base, schedule, namespace, down)
    assert refused.phase == RestorePhase.FAILED
    assert "inside a gap" in (refused.failure_reason or "")
    assert "* from" in (refused.failure_reason or "") and "no watcher ran" in (
        refused.failure_reason or ""
    )


def test_an_instant_is_refused_while_a_restarted_watcher_catches_up(
    kube: KubeClient, fs_store: ObjectStore, schedule: str, namespace: str
) -> None:
    """Killed before it caught up (its segments say unwatchedSince), the next watcher still
    records the whole time none ran, from the first stop."""
    ns = _Namespace(kube, namespace)
    log = ChangeLog(BackupStore(fs_store), schedule, cluster=kube.cluster_uid())
    spec = BackupSpec(included_namespaces=[namespace])
    ns.create(_cm("settings", {"mode": "blue"}))
    with ChangeWatcher(kube, log, spec, options=FAST) as first:
        assert first.wait_ready(60)
        time.sleep(1)
    stopped = first.status.stored_through
    assert stopped is not None
    ns.patch("ConfigMap", "settings", {"data": {"mode": "green"}})
    slow = WatchOptions(flush_seconds=0.5, heartbeat_seconds=0.5, catch_up_seconds=30)
    second = ChangeWatcher(kube, log, spec, options=slow)
    second.start()
    try:
        time.sleep(2)
        assert not second.wait_ready(0.1), "a 30 s first watch has not caught up yet"
        second.flush()
        trailer = log.read(log.segments()[-1]).trailer
        assert trailer.unwatched_since == stopped
        with pytest.raises(PointInTimeUnavailable, match="catching up"):
            pointintime.check_reachable(log, since=stopped, at=_now() - dt.timedelta(seconds=0.5))
    finally:
        second._stop.set()  # its watches end and nothing more is stored: as if killed
        for watch in list(second._watches.values()):
            watch.stop()
    with ChangeWatcher(kube, log, spec, options=FAST) as third:
        assert third.wait_ready(60)
        (gap,) = third.status.gaps
    assert gap.start == stopped, "the gap begins where the first watcher stopped"
    assert log.gaps() == [gap]


def test_instants_the_log_cannot_reach_are_refused_naming_why(
    kube: KubeClient,
    fs_store: ObjectStore,
    schedule: str,
    namespace: str,
    watcher: ChangeWatcher,
) -> None:
    ns = _Namespace(kube, namespace)
    ns.create(_cm("settings", {"mode": "blue"}))
    base = _backup(kube, fs_store, schedule, namespace)
    ns.patch("ConfigMap", "settings", {"data": {"mode": "green"}})
    time.sleep(1)
    watcher.record_gap("configmaps", _now() - dt.timedelta(seconds=0.5), "compacted (a test)")
    watcher.flush()
    log = ChangeLog(BackupStore(fs_store), schedule, cluster=kube.cluster_uid())
    (gap,) = log.gaps()
    here = kube.cluster_uid()
    inside = gap.start + (gap.end - gap.start) / 2
    beyond = _now() + dt.timedelta(minutes=5)
    for at, why in (
        (
            inside,
            f"gap of the change log of schedule {schedule} of cluster {here}: configmaps from",
        ),
        (beyond, "after the newest change stored"),
    ):
        result = _refused_at(kube, fs_store, base, schedule, namespace, at)
        assert result.phase == RestorePhase.FAILED
        assert why in (result.failure_reason or "")
        assert result.counts == {} or not any(result.counts.values())
    with pytest.raises(PointInTimeUnavailable, match="has no Completed backup finished by"):
        restore.base_backup(BackupStore(fs_store), schedule, gap.start - dt.timedelta(hours=1))
    assert persistence.stamp(gap.start) in gap.describe()


def _relisted(log: ChangeLog) -> list[str]:
    """The resource of every resync block (a relist) in the log, in order."""
    return [
        r["resource"]
        for n in log.segments()
        for r in log.read(n).records
        if r["type"] == "ResyncBegin"
    ]


def _forget(log: ChangeLog, resource: str) -> None:
    """A segment whose trailer has no checkpoint for ``resource``: the next watcher relists
    it (a resync block), as after a 410 Gone."""
    resume = log.resume()
    assert resume is not None
    start = max(_now(), resume.trailer.end)
    builder = log.builder(persistence.SegmentName(start=start, seq=resume.next_seq))
    checkpoints = {r: c for r, c in resume.trailer.checkpoints.items() if r != resource}
    trailer = persistence.Trailer(
        end=start,
        records=0,
        counts={},
        checkpoints=checkpoints,
        newest_change=resume.trailer.newest_change,
    )
    log.put(builder, trailer)


def test_a_relist_deletes_what_it_does_not_list(
    cluster: Cluster,
    kube: KubeClient,
    fs_store: ObjectStore,
    schedule: str,
    namespace: str,
    make_namespace: NamespaceFactory,
) -> None:
    ns = _Namespace(kube, namespace)
    log = ChangeLog(BackupStore(fs_store), schedule, cluster=kube.cluster_uid())
    spec = BackupSpec(included_namespaces=[namespace])
    for name in ("kept", "deleted-while-down", "changed-while-down"):
        ns.create(_cm(name, {"v": "1"}))
    with ChangeWatcher(kube, log, spec, options=FAST) as first:
        assert first.wait_ready(60)
        _backup(kube, fs_store, schedule, namespace)
        time.sleep(1)
    ns.delete("ConfigMap", "deleted-while-down")
    ns.patch("ConfigMap", "changed-while-down", {"data": {"v": "2"}})
    _forget(log, "configmaps")
    _, at, before = _watch_again(cluster, kube, fs_store, schedule, spec)
    relists = _relisted(log)
    assert relists.count("configmaps") == 2, "listed at the start and again after the restart"
    assert len(relists) == len(set(relists)) + 1, "only configmaps were listed again"
    assert "configmaps/deleted-while-down" not in before
    _assert_restored_exactly(
        cluster, kube, fs_store, schedule, at, namespace, before, make_namespace("pitr-to")
    )


def test_a_change_is_stored_within_flush_seconds_and_two(
    kube: KubeClient, fs_store: ObjectStore, schedule: str, namespace: str
) -> None:
    ns = _Namespace(kube, namespace)
    log = ChangeLog(BackupStore(fs_store), schedule, cluster=kube.cluster_uid())
    spec = BackupSpec(included_namespaces=[namespace])
    flush = 1.0
    with ChangeWatcher(kube, log, spec, options=WatchOptions(flush_seconds=flush)) as w:
        assert w.wait_ready(60)
        time.sleep(flush * 1.5)  # the first relists stored; the next segment opens meanwhile
        lags = []
        for i in range(3):
            ns.create(_cm(f"lag-{i}", {"i": str(i)}))
            made = time.monotonic()
            while not _stored(log, f"lag-{i}"):
                assert time.monotonic() - made <= flush + 2, f"lag-{i} not stored in time"
                time.sleep(0.05)
            lags.append(time.monotonic() - made)
    assert max(lags) <= flush + 2


def _stored(log: ChangeLog, name: str) -> bool:
    for segment in log.segments()[-3:]:
        for record in log.read(segment).records:
            if ((record.get("object") or {}).get("metadata") or {}).get("name") == name:
                return True
    return False


@pytest.fixture
def other_kube(second_cluster: Cluster) -> Iterator[KubeClient]:
    with KubeClient.load(kubeconfig=second_cluster.kubeconfig) as kc:
        yield kc


def test_clusters_sharing_a_bucket_each_restore_their_own_schedule_of_one_name(
    cluster: Cluster,
    second_cluster: Cluster,
    kube: KubeClient,
    other_kube: KubeClient,
    fs_store: ObjectStore,
    schedule: str,
    namespace: str,
    make_namespace: NamespaceFactory,
) -> None:
    """Two clusters write backups and change logs of a schedule of one name to one bucket: a
    restore to an instant asks which cluster's, replays that cluster's log only, and one
    cluster's retention deletes nothing of the other's log."""
    here, there = kube.cluster_uid(), other_kube.cluster_uid()
    assert here != there
    other_factory = _namespace_factory(second_cluster)
    other_namespace = next(other_factory)("pitr-b")
    spec_a = BackupSpec(included_namespaces=[namespace])
    spec_b = BackupSpec(included_namespaces=[other_namespace])
    log_a = ChangeLog(BackupStore(fs_store), schedule, cluster=here)
    log_b = ChangeLog(BackupStore(fs_store), schedule, cluster=there)
    a, b = _Namespace(kube, namespace), _Namespace(other_kube, other_namespace)
    a.create(_cm("settings", {"mode": "a-blue"}))
    b.create(_cm("settings", {"mode": "b-blue"}))
    try:
        with (
            ChangeWatcher(kube, log_a, spec_a, options=FAST) as watch_a,
            ChangeWatcher(other_kube, log_b, spec_b, options=FAST) as watch_b,
        ):
            assert watch_a.wait_ready(60) and watch_b.wait_ready(60)
            _backup(kube, fs_store, schedule, namespace)
            _backup(other_kube, fs_store, schedule, other_namespace)
            a.patch("ConfigMap", "settings", {"data": {"mode": "a-green"}})
            b.patch("ConfigMap", "settings", {"data": {"mode": "b-green"}})
            b.create(_cm("only-in-b", {"x": "1"}))
            at = _instant()
            before = _dump(cluster, namespace)
            a.patch("ConfigMap", "settings", {"data": {"mode": "a-red"}})
            b.patch("ConfigMap", "settings", {"data": {"mode": "b-red"}})
            time.sleep(1)
            watch_a.flush()
            watch_b.flush()

        with pytest.raises(PointInTimeUnavailable) as ambiguous:
            restore.base_backup(BackupStore(fs_store), schedule, at)
        assert "more than one cluster" in str(ambiguous.value)
        assert here in str(ambiguous.value) and there in str(ambiguous.value)

        base = restore.base_backup(BackupStore(fs_store), schedule, at, cluster=here)
        assert base.cluster == here
        target = make_namespace("pitr-to")
        result = restore.run(
            kube,
            fs_store,
            name=f"pitr-{uuid.uuid4().hex[:8]}",
            backup_name=base.name,
            spec=RestoreSpec(backup_name=base.name, namespace_mapping={namespace: target}),
            point_in_time=PointInTime(schedule, at),
        )
        assert result.phase == RestorePhase.COMPLETED, result.failure_reason
        after = compare.restorable(compare.snapshot_namespace(cluster, target))
        assert compare.differences(before, after, namespace_map={namespace: target}) == {}

        # Cluster B's retention (everything before now) leaves cluster A's log whole.
        kept_a = [n.file for n in log_a.segments()]
        assert log_b.delete_before(_now()) > 0
        assert [n.file for n in log_a.segments()] == kept_a
        assert log_a.read(log_a.segments()[-1]).trailer.end >= at
    finally:
        next(other_factory, None)


@pytest.fixture(scope="module")
def uncached_cluster() -> Iterator[tuple[Cluster, str]]:
    """A cluster whose API server has no watch cache: a watch goes to etcd, so a watch from a
    resourceVersion etcd compacted away is answered 410 Gone (and no bookmarks are sent)."""
    name = f"{localenv.test_servers()}-nocache"
    started = localenv.cluster_up(name, apiserver_args=["--watch-cache=false"])
    api = config.new_client_from_config(config_file=started.env["KUBECONFIG"])
    try:
        server = started.env["ARK_CLUSTER_SERVER"]
        yield (
            Cluster(name, started.env["KUBECONFIG"], server, api),
            started.env["ARK_ETCD_ENDPOINT"],
        )
    finally:
        api.close()
        if started.owned:
            localenv.cluster_down(name)


def test_a_checkpoint_compacted_away_is_relisted_and_its_time_is_a_gap(
    uncached_cluster: tuple[Cluster, str], fs_store: ObjectStore, schedule: str
) -> None:
    """A real 410: the watcher stops, objects change, etcd compacts past every checkpoint. The
    next watcher's watches are refused 410 Gone; it relists each resource (a resync block)
    and records a gap from the checkpoint to the relist, and an instant after that restores
    exactly (the relist's absence deletes what was deleted meanwhile)."""
    cluster, etcd = uncached_cluster
    factory = _namespace_factory(cluster)
    make = next(factory)
    namespace = make("pitr-gone")
    with KubeClient.load(kubeconfig=cluster.kubeconfig) as kube:
        ns = _Namespace(kube, namespace)
        log = ChangeLog(BackupStore(fs_store), schedule, cluster=kube.cluster_uid())
        spec = BackupSpec(included_namespaces=[namespace])
        ns.create(_cm("settings", {"mode": "blue"}))
        ns.create(_cm("doomed", {"x": "1"}))
        with ChangeWatcher(kube, log, spec, options=FAST) as first:
            assert first.wait_ready(60)
            _backup(kube, fs_store, schedule, namespace)
            time.sleep(1)
        checkpoint = first._rec.checkpoint("configmaps")
        assert checkpoint is not None
        ns.patch("ConfigMap", "settings", {"data": {"mode": "green"}})
        ns.delete("ConfigMap", "doomed")
        ns.create(_cm("added", {"y": "2"}))
        faults.etcd_compact(etcd)

        w, at, before = _watch_again(cluster, kube, fs_store, schedule, spec)
        gone = {g.resource: g for g in w.status.gaps if "410 Gone" in g.reason}
        assert "configmaps" in gone, w.status.gaps
        assert gone["configmaps"].start == checkpoint.at and gone["configmaps"].end <= at
        assert {g.resource for g in w.status.gaps} - set(gone) == {"*"}
        assert sorted(log.gaps(), key=str) == sorted(w.status.gaps, key=str)
        relisted = _relisted(log)
        assert relisted.count("configmaps") == 2, "listed at the start and again after the 410"
        assert "configmaps/doomed" not in before and "configmaps/added" in before
        _assert_restored_exactly(
            cluster, kube, fs_store, schedule, at, namespace, before, make("pitr-to")
        )
    next(factory, None)
