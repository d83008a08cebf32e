"""A backup under real trouble: unlistable resources, namespaces vanishing, expired continue
tokens, an object store dying mid-upload. Problems become clear results, never a crash, and
never a half-written archive that looks complete."""

from __future__ import annotations

import base64
import os
import shutil
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ark import archive, backup, persistence
from ark.api import BackupPhase, BackupSpec
from ark.kube import KubeApiError, KubeClient
from ark.storage import ObjectStore, StoreLocation, open_store
from tests.conftest import Cluster, NamespaceFactory
from tests.support import backups, faults, localenv


def _configmaps(kube: KubeClient, namespace: str, count: int, *, size: int = 16) -> None:
    def one(i: int) -> None:
        data = base64_blob(size) if size > 16 else f"value-{i}"
        kube.request(
            "POST",
            f"/api/v1/namespaces/{namespace}/configmaps",
            body={"metadata": {"name": f"cm-{i:04d}"}, "data": {"v": data}},
        )

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(one, range(count)))


def base64_blob(size: int) -> str:
    return base64.b64encode(os.urandom(size * 3 // 4)).decode()


# -- a CRD whose custom resources cannot be listed -----------------------------------------
BROKEN_GROUP = "broken.ark.test"


@pytest.fixture
def broken_crd(cluster: Cluster, kube: KubeClient, namespace: str) -> Iterator[str]:
    """Custom resources stored at v1 but served preferably at v2 through a conversion webhook
    that nobody answers: every LIST at v2 fails on the real API server."""
    ca = Path(cluster.kubeconfig).parent / "pki" / "ca.crt"

    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"gadgets.{BROKEN_GROUP}"},
        "spec": {
            "group": BROKEN_GROUP,
            "scope": "Namespaced",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
            "conversion": {
                "strategy": "Webhook",
                "webhook": {
                    "conversionReviewVersions": ["v1"],
                    "clientConfig": {
                        "url": "https://127.0.0.1:1/convert",
                        "caBundle": base64.b64encode(ca.read_bytes()).decode(),
                    },
                },
            },
            "versions": [
                {
                    "name": v,
                    "served": True,
                    "storage": v == "v1",
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
                for v in ("v1", "v2")
            ],
        },
    }
    path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    kube.request("POST", path, body=crd)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                kube.request(
                    "POST",
                    f"/apis/{BROKEN_GROUP}/v1/namespaces/{namespace}/gadgets",
                    body={
                        "apiVersion": f"{BROKEN_GROUP}/v1",
                        "kind": "Gadget",
                        "metadata": {"name": "g1"},
                    },
                )
                break
            except KubeApiError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        yield namespace
    finally:
        kube.request("DELETE", f"{path}/gadgets.{BROKEN_GROUP}")


def test_unlistable_custom_resources_make_a_partially_failed_backup(
    kube: KubeClient, broken_crd: str, fs_store: ObjectStore, spool_dir: Path
) -> None:
    namespace = broken_crd
    kube.request(
        "POST",
        f"/api/v1/namespaces/{namespace}/configmaps",
        body={"metadata": {"name": "fine"}, "data": {"k": "v"}},
    )
    result = backup.run(
        kube, fs_store, name="broken", spec=BackupSpec(included_namespaces=[namespace])
    )
    assert result.phase == BackupPhase.PARTIALLY_FAILED
    [error] = [e for e in result.issues.errors if e.resource == f"gadgets.{BROKEN_GROUP}"]
    assert "cannot list" in error.message and namespace in error.message
    with backups.open_backup(fs_store, "broken", spool_dir) as index:
        assert "configmaps/fine" in backups.item_keys(index, namespace=namespace)
    stored = backups.results(fs_store, "broken")
    assert any(f"gadgets.{BROKEN_GROUP}" in m for m in stored["errors"]["cluster"])


@pytest.fixture
def silent_api_group(kube: KubeClient, namespace: str) -> Iterator[str]:
    """An aggregated API group whose server never answers (an APIService over a Service with
    no endpoints): the API server lists the group, and its discovery fails."""
    group = f"silent{namespace.rsplit('-', 1)[-1]}.ark.test"
    kube.request(
        "POST",
        f"/api/v1/namespaces/{namespace}/services",
        body={"metadata": {"name": "nobody"}, "spec": {"ports": [{"port": 443}]}},
    )
    path = "/apis/apiregistration.k8s.io/v1/apiservices"
    kube.request(
        "POST",
        path,
        body={
            "metadata": {"name": f"v1.{group}"},
            "spec": {
                "group": group,
                "version": "v1",
                "service": {"namespace": namespace, "name": "nobody", "port": 443},
                "insecureSkipTLSVerify": True,
                "groupPriorityMinimum": 10,
                "versionPriority": 10,
            },
        },
    )
    try:
        groups = lambda: {g["name"] for g in kube.get("/apis")["groups"]}
        deadline = time.monotonic() + 30
        while group not in groups() and time.monotonic() < deadline:
            time.sleep(0.2)
        yield group
    finally:
        kube.request("DELETE", f"{path}/v1.{group}")


def test_a_group_that_fails_discovery_makes_a_partially_failed_backup_naming_it(
    kube: KubeClient, namespace: str, silent_api_group: str, fs_store: ObjectStore
) -> None:
    kube.request(
        "POST",
        f"/api/v1/namespaces/{namespace}/configmaps",
        body={"metadata": {"name": "fine"}, "data": {"k": "v"}},
    )
    result = backup.run(
        kube, fs_store, name="blind", spec=BackupSpec(included_namespaces=[namespace])
    )
    assert result.phase == BackupPhase.PARTIALLY_FAILED
    assert any(silent_api_group in e.message for e in result.issues.errors), result.issues
    # A backup that names its resources, none of them that group's, is not touched by it.
    named = backup.run(
        kube,
        fs_store,
        name="named",
        spec=BackupSpec(included_namespaces=[namespace], included_resources=["configmaps"]),
    )
    assert named.phase == BackupPhase.COMPLETED, named.issues
    assert any(silent_api_group in w.message for w in named.issues.warnings)


def test_namespace_deleted_during_the_backup(
    cluster: Cluster,
    kube: KubeClient,
    make_namespace: NamespaceFactory,
    fs_store: ObjectStore,
    spool_dir: Path,
) -> None:
    keep, doomed = make_namespace("keep"), make_namespace("doomed")
    for ns in (keep, doomed):
        _configmaps(kube, ns, 20)
    deleted = threading.Event()

    def hook(method: str, path: str, query: Mapping[str, object]) -> None:
        # Just before the first LIST of ConfigMaps (per namespace or cluster-wide).
        if not deleted.is_set() and path.endswith("/configmaps"):
            deleted.set()
            cluster.core.delete_namespace(doomed)

    result = backup.run(
        faults.HookedClient(kube, hook),
        fs_store,
        name="vanishing",
        spec=BackupSpec(included_namespaces=[keep, doomed]),
        workers=1,
    )
    assert deleted.is_set()
    assert result.phase == BackupPhase.COMPLETED, [str(e) for e in result.issues.errors]
    with backups.open_backup(fs_store, "vanishing", spool_dir) as index:
        kept = backups.item_keys(index, namespace=keep)
    assert {f"configmaps/cm-{i:04d}" for i in range(20)} <= kept


@pytest.fixture(scope="module")
def etcd_listing_cluster() -> Iterator[tuple[KubeClient, str]]:
    """A cluster whose paginated LISTs continue from etcd, as before Kubernetes 1.34 (there
    the watch cache serves continue tokens from snapshots, which etcd compaction never
    expires). Most production clusters still behave like this one."""
    name = "ark-test-etcdlist"
    started = localenv.cluster_up(
        name, apiserver_args=["--feature-gates=ListFromCacheSnapshot=false"]
    )
    try:
        with KubeClient.load(kubeconfig=started.env["KUBECONFIG"]) as kube:
            yield kube, started.env["ARK_ETCD_ENDPOINT"]
    finally:
        if started.owned:
            localenv.cluster_down(name)


def test_expired_continue_token_restarts_the_list(
    etcd_listing_cluster: tuple[KubeClient, str], fs_store: ObjectStore, spool_dir: Path
) -> None:
    kube, etcd = etcd_listing_cluster
    namespace, other = "compact-me", "churn"
    for ns in (namespace, other):
        kube.request("POST", "/api/v1/namespaces", body={"metadata": {"name": ns}})
    _configmaps(kube, namespace, 60)
    compacted = threading.Event()

    def hook(method: str, path: str, query: Mapping[str, object]) -> None:
        if compacted.is_set() or "continue" not in query or not path.endswith("/configmaps"):
            return
        compacted.set()
        # Real churn elsewhere, then the compaction kube-apiserver runs every 5 minutes.
        kube.request(
            "POST", f"/api/v1/namespaces/{other}/configmaps", body={"metadata": {"name": "churn"}}
        )
        faults.etcd_compact(etcd)

    result = backup.run(
        faults.HookedClient(kube, hook),
        fs_store,
        name="compacted",
        spec=BackupSpec(included_namespaces=[namespace]),
        page_size=10,
    )
    assert compacted.is_set()
    assert result.phase == BackupPhase.COMPLETED, [str(e) for e in result.issues.errors]
    assert any("410" in w.message for w in result.issues.warnings), result.issues.warnings
    with backups.open_backup(fs_store, "compacted", spool_dir) as index:
        names = [i.name for i in index if i.resource_dir == "configmaps"]
    assert sorted(names) == sorted([f"cm-{i:04d}" for i in range(60)] + ["kube-root-ca.crt"])


# -- the object store dies mid-upload -------------------------------------------------------
@pytest.fixture
def crashing_minio() -> Iterator[dict[str, str]]:
    started = localenv.objstore_up("minio", "ark-crash")
    yield started.env
    localenv.objstore_down("minio", "ark-crash")


def test_object_store_dying_mid_upload_fails_clearly_and_leaves_nothing_complete(
    kube: KubeClient, namespace: str, crashing_minio: dict[str, str]
) -> None:
    env = crashing_minio
    location = StoreLocation(
        provider="aws",
        bucket=env["ARK_S3_BUCKET"],
        prefix="crash",
        config={
            "s3Url": env["ARK_S3_ENDPOINT"],
            "s3ForcePathStyle": "true",
            "region": "minio",
            "partSizeBytes": str(5 * 1024 * 1024),
        },
        credentials={
            "aws_access_key_id": env["ARK_S3_ACCESS_KEY_ID"],
            "aws_secret_access_key": env["ARK_S3_SECRET_ACCESS_KEY"],
        },
    )
    store = open_store(location)
    _configmaps(kube, namespace, 400, size=24_000)  # ~10 MB: a multipart upload
    pages = 0
    killed = threading.Event()

    def hook(method: str, path: str, query: Mapping[str, object]) -> None:
        nonlocal pages
        if path.endswith(f"/namespaces/{namespace}/configmaps") and "limit" in query:
            pages += 1
            if pages == 4 and not killed.is_set():
                killed.set()
                localenv.objstore_kill("minio", "ark-crash")

    result = backup.run(
        faults.HookedClient(kube, hook),
        store,
        name="crashed",
        spec=BackupSpec(included_namespaces=[namespace]),
        page_size=50,
    )
    assert killed.is_set()
    assert result.phase == BackupPhase.FAILED
    assert result.failure_reason and "crashed" in result.failure_reason
    assert env["ARK_S3_ENDPOINT"].split("//")[1] in result.failure_reason

    # The store comes back with what it had: nothing that looks like a finished backup.
    localenv.objstore_restart("minio", "ark-crash")
    keys = persistence.BackupKeys(archive.backup_name("crashed"))
    store = open_store(location)
    assert not store.exists(keys.contents)
    assert not store.exists(keys.metadata)


def test_filesystem_store_losing_its_directory_fails_clearly(
    kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    root = tmp_path / "bucket"
    root.mkdir()
    store = open_store(StoreLocation(provider="fs", bucket=str(root), prefix="p"))
    _configmaps(kube, namespace, 30)
    gone = threading.Event()

    def hook(method: str, path: str, query: Mapping[str, object]) -> None:
        if path.endswith(f"/namespaces/{namespace}/configmaps") and not gone.is_set():
            gone.set()
            shutil.rmtree(root)

    result = backup.run(
        faults.HookedClient(kube, hook),
        store,
        name="lost",
        spec=BackupSpec(included_namespaces=[namespace]),
    )
    assert result.phase == BackupPhase.FAILED
    assert result.failure_reason and "lost" in result.failure_reason
    assert not root.exists() or not any(root.rglob("velero-backup.json"))
