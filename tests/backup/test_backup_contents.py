"""A backup of a realistic namespace holds exactly the objects the API server has, as it has
them, with verified checksums and Velero-compatible side files."""

from __future__ import annotations

import gzip
import hashlib
import time
from pathlib import Path
from typing import Any

import orjson
from kubernetes import dynamic

from ark import archive, backup, persistence
from ark.api import BackupPhase, BackupSpec
from ark.kube import KubeClient
from ark.storage import ObjectStore
from tests.conftest import Cluster
from tests.support import backups, workloads

NEVER = {"events", "events.events.k8s.io"}
EXPECTED_KINDS = (
    "deployments.apps/web",
    "statefulsets.apps/db",
    "cronjobs.batch/nightly-report",
    "networkpolicies.networking.k8s.io/db-only-from-web",
    "horizontalpodautoscalers.autoscaling/web",
    "ingresses.networking.k8s.io/shop",
    f"widgets.{workloads.CRD_GROUP}/blue",
    "persistentvolumeclaims/data-db-0",
    "rolebindings.rbac.authorization.k8s.io/app-views",
    "secrets/db-creds",
    "services/web-public",
)


def _oracle(cluster: Cluster, namespace: str) -> dict[str, dict[str, Any]]:
    """Every object in ``namespace``, listed by the official dynamic client (an independent
    implementation of discovery and LIST), keyed ``resource_dir/name``."""
    dyn = dynamic.DynamicClient(cluster.api)
    out: dict[str, dict[str, Any]] = {}
    for res in dyn.resources.search():
        if (
            not res.namespaced
            or "list" not in (res.verbs or [])
            or "/" in res.name
            or res.preferred is False
        ):
            continue
        resource_dir = f"{res.name}.{res.group}" if res.group else res.name
        if resource_dir in NEVER:
            continue
        for item in dyn.get(res, namespace=namespace).to_dict()["items"]:
            out[f"{resource_dir}/{item['metadata']['name']}"] = item
    return out


def _stable_oracle(cluster: Cluster, namespace: str) -> dict[str, dict[str, Any]]:
    """Wait until the controllers are done (two equal reads in a row, the pods made and the
    pre-bound claim Bound: the volume binder gets to it on its own period)."""
    previous: dict[str, str] = {}
    for _ in range(60):
        current = _oracle(cluster, namespace)
        versions = {k: v["metadata"].get("resourceVersion", "") for k, v in current.items()}
        claim = current.get("persistentvolumeclaims/uploads") or {}
        bound = (claim.get("status") or {}).get("phase") == "Bound"
        if versions == previous and bound and any(k.startswith("pods/") for k in versions):
            return current
        previous = versions
        time.sleep(1.0)
    raise AssertionError(f"namespace {namespace} never settled")


def test_realistic_namespace_is_backed_up_exactly(
    cluster: Cluster,
    kube: KubeClient,
    shop: tuple[str, list[dict[str, Any]]],
    store: ObjectStore,
    spool_dir: Path,
) -> None:
    namespace, _ = shop
    expected = _stable_oracle(cluster, namespace)
    result = backup.run(
        kube, store, name="shop-1", spec=BackupSpec(included_namespaces=[namespace])
    )
    assert result.phase == BackupPhase.COMPLETED, [str(e) for e in result.issues.errors]

    with backups.open_backup(store, "shop-1", spool_dir) as index:
        namespaced = {
            k: index.load(i)
            for i in index
            if i.namespace == namespace
            for k in [f"{i.resource_dir}/{i.name}"]
        }
        cluster_scoped = {f"{i.resource_dir}/{i.name}" for i in index if i.namespace is None}

    # Exactly the namespace's objects, minus the excluded-by-label ConfigMap and events.
    assert "configmaps/skip-me" in expected
    del expected["configmaps/skip-me"]
    assert set(namespaced) == set(expected)
    for key in EXPECTED_KINDS:
        assert key in namespaced, key
    # Each object exactly as the API server returns it (a LIST omits kind/apiVersion per item).
    for key, obj in namespaced.items():
        assert obj == expected[key], key

    # auto cluster resources: exactly what the namespace depends on.
    assert cluster_scoped == {
        f"namespaces/{namespace}",
        f"persistentvolumes/shop-uploads-{namespace}",
        f"storageclasses.storage.k8s.io/shop-fast-{namespace}",
        f"clusterroles.rbac.authorization.k8s.io/shop-viewer-{namespace}",
        f"customresourcedefinitions.apiextensions.k8s.io/{workloads.CRD_NAME}",
    }
    assert result.progress.items_backed_up == len(namespaced) + len(cluster_scoped)
    assert result.progress.total_items == result.progress.items_backed_up


def test_checksums_and_side_files(
    kube: KubeClient, shop: tuple[str, list[dict[str, Any]]], store: ObjectStore, spool_dir: Path
) -> None:
    namespace, _ = shop
    result = backup.run(
        kube, store, name="shop-2", spec=BackupSpec(included_namespaces=[namespace])
    )
    assert result.phase == BackupPhase.COMPLETED
    keys = persistence.BackupKeys(archive.backup_name("shop-2"))
    present = {o.key for o in store.list("backups/shop-2/")}
    assert present == {
        keys.metadata,
        keys.contents,
        keys.logs,
        keys.results,
        keys.resource_list,
        keys.volume_snapshots,
        keys.manifest,
    }

    manifest = archive.decode_manifest(store.get(keys.manifest))
    with backups.open_backup(store, "shop-2", spool_dir) as index:
        by_path = {m.path: m for m in manifest.items}
        assert len(by_path) == len(index) == result.progress.items_backed_up
        for item in index:
            data = index.read(item)
            assert hashlib.sha256(data).hexdigest() == by_path[item.path].sha256
            assert len(data) == by_path[item.path].size
    assert dict(manifest.counts) == result.per_resource
    assert manifest.cluster_version and manifest.cluster_version.startswith("v1.34")

    listing = archive.decode_resource_list(store.get(keys.resource_list))
    assert f"{namespace}/web" in listing["apps/v1/Deployment"]
    assert listing["v1/Namespace"] == [namespace]

    metadata = orjson.loads(store.get(keys.metadata))
    assert metadata["apiVersion"] == "velero.io/v1"
    assert metadata["status"]["phase"] == "Completed"
    assert metadata["spec"]["includedNamespaces"] == [namespace]

    results = backups.results(store, "shop-2")
    assert results["errors"]["namespaces"] == {}
    log = gzip.decompress(store.get(keys.logs)).decode()
    assert "plan:" in log
    assert "pässwörd" not in log and "cMOkc3N3w7ZyZC3inJM" not in log  # secrets never logged


def test_objects_being_deleted_are_skipped_unless_asked(
    kube: KubeClient, namespace: str, fs_store: ObjectStore, spool_dir: Path
) -> None:
    kube.request(
        "POST",
        f"/api/v1/namespaces/{namespace}/configmaps",
        body={"metadata": {"name": "dying", "finalizers": ["ark.test/hold"]}},
    )
    kube.request("DELETE", f"/api/v1/namespaces/{namespace}/configmaps/dying")
    try:
        backup.run(kube, fs_store, name="b-skip", spec=BackupSpec(included_namespaces=[namespace]))
        backup.run(
            kube,
            fs_store,
            name="b-keep",
            spec=BackupSpec(included_namespaces=[namespace], include_objects_being_deleted=True),
        )
        (spool_dir / "a").mkdir()
        (spool_dir / "b").mkdir()
        with backups.open_backup(fs_store, "b-skip", spool_dir / "a") as index:
            assert "configmaps/dying" not in backups.item_keys(index)
        with backups.open_backup(fs_store, "b-keep", spool_dir / "b") as index:
            assert "configmaps/dying" in backups.item_keys(index)
    finally:
        kube.request(
            "PATCH",
            f"/api/v1/namespaces/{namespace}/configmaps/dying",
            body={"metadata": {"finalizers": None}},
            content_type="application/merge-patch+json",
        )
