"""The point of ark: a namespace is lost, and comes back — in place, as a clone beside the
original, or in another cluster."""

from __future__ import annotations

import time
from typing import Any

from kubernetes import client

from ark import backup, restore
from ark.api import BackupPhase, BackupSpec, RestorePhase, RestoreSpec
from ark.kube import KubeClient
from ark.storage import ObjectStore
from tests.conftest import Cluster
from tests.support import compare, workloads


def _wait_gone(cluster: Cluster, namespace: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            cluster.core.read_namespace(namespace)
        except client.ApiException as exc:
            if exc.status == 404:
                return
            raise
        time.sleep(0.5)
    raise AssertionError(f"namespace {namespace} not deleted after {timeout}s")


def _wait_bound(cluster: Cluster, namespace: str, claim: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (
            cluster.core.read_namespaced_persistent_volume_claim(claim, namespace).status.phase
            == "Bound"
        ):
            return
        time.sleep(0.5)
    raise AssertionError(f"PVC {namespace}/{claim} not Bound after {timeout}s")


def _assert_exact(before: dict[str, Any], after: dict[str, Any]) -> None:
    assert compare.differences(before, after) == {}


def test_namespace_deleted_and_restored(
    cluster: Cluster, kube: KubeClient, shop: tuple[str, list[dict[str, Any]]], store: ObjectStore
) -> None:
    namespace, _ = shop
    before = compare.snapshot_namespace(cluster, namespace)
    made = backup.run(
        kube, store, name="before-disaster", spec=BackupSpec(included_namespaces=[namespace])
    )
    assert made.phase == BackupPhase.COMPLETED

    cluster.core.delete_namespace(namespace)  # the disaster
    _wait_gone(cluster, namespace)

    result = restore.run(
        kube,
        store,
        name="after-disaster",
        backup_name="before-disaster",
        spec=RestoreSpec(backup_name="before-disaster"),
    )
    assert result.phase == RestorePhase.COMPLETED, [str(e) for e in result.issues.errors]
    after = compare.snapshot_namespace(cluster, namespace)
    _assert_exact(before, after)
    # Controllers rebuild what they own from the restored owners, without duplicates (in their
    # own time: a loaded machine's controller-manager may not have made the pods yet).
    deadline = time.monotonic() + 60
    while True:
        rs = [k for k in after if k.startswith("replicasets.apps/")]
        pods = [k for k in after if k.startswith("pods/")]
        if (len(rs) >= 1 and len(pods) >= 3) or time.monotonic() > deadline:
            break
        time.sleep(1)
        after = compare.snapshot_namespace(cluster, namespace)
    assert len(rs) == 1
    assert len(pods) == 3  # 2 web + db-0
    # The retained volume is bound again to its restored claim.
    _wait_bound(cluster, namespace, "uploads")
    counts = result.counts
    assert counts.get("failed", 0) == 0
    assert result.progress.items_restored == result.progress.total_items


def test_clone_into_a_new_namespace_leaves_the_original_untouched(
    cluster: Cluster,
    kube: KubeClient,
    shop: tuple[str, list[dict[str, Any]]],
    s3_store: ObjectStore,
) -> None:
    namespace, _ = shop
    clone = f"{namespace}-clone"
    backup.run(kube, s3_store, name="to-clone", spec=BackupSpec(included_namespaces=[namespace]))
    before = compare.snapshot_namespace(cluster, namespace)
    try:
        result = restore.run(
            kube,
            s3_store,
            name="clone",
            backup_name="to-clone",
            spec=RestoreSpec(
                backup_name="to-clone",
                namespace_mapping={namespace: clone},
            ),
        )
        # Beside its original, the clone can have neither the original's volume nor its
        # nodePort: the restore says so, and nothing else differs.
        assert result.phase is RestorePhase.PARTIALLY_FAILED
        assert sorted((e.resource, e.name) for e in result.issues.errors) == [
            ("persistentvolumeclaims", "uploads"),
            ("services", "web-public"),
        ]
        untouched = compare.snapshot_namespace(cluster, namespace)
        # Everything but what controllers keep writing on their own (an HPA's status, every
        # 15 s): a restore that touched the original would change its metadata or spec.
        assert {k: _written_by_users(v) for k, v in compare.restorable(before).items()} == {
            k: _written_by_users(untouched[k]) for k in compare.restorable(before)
        }
        cloned = compare.snapshot_namespace(cluster, clone)
        found = compare.differences(before, cloned, namespace_map={namespace: clone})
        assert found.keys() == {"persistentvolumeclaims/uploads", "services/web-public"}, found
        assert found["persistentvolumeclaims/uploads"] == ["spec.volumeName: missing"]
        assert found["services/web-public"][0].startswith("spec.ports[0].nodePort: ")
        assert compare.unexplained(found, compare.named_in(result.issues.results_document())) == {}
        binding = cloned["rolebindings.rbac.authorization.k8s.io/app-views"]
        assert binding["subjects"][0]["namespace"] == clone
    finally:
        cluster.core.delete_namespace(clone)


def _written_by_users(obj: dict[str, Any]) -> dict[str, Any]:
    meta = {
        k: v
        for k, v in obj["metadata"].items()
        if k not in ("resourceVersion", "managedFields", "generation")
    }
    return {**{k: v for k, v in obj.items() if k != "status"}, "metadata": meta}


def test_restore_into_a_second_cluster(
    cluster: Cluster,
    second_cluster: Cluster,
    kube: KubeClient,
    shop: tuple[str, list[dict[str, Any]]],
    s3_store: ObjectStore,
) -> None:
    namespace, _ = shop
    before = compare.snapshot_namespace(cluster, namespace)
    backup.run(kube, s3_store, name="cross", spec=BackupSpec(included_namespaces=[namespace]))
    with KubeClient.load(kubeconfig=second_cluster.kubeconfig) as other:
        try:
            result = restore.run(
                other,
                s3_store,
                name="cross",
                backup_name="cross",
                spec=RestoreSpec(backup_name="cross"),
            )
            assert result.phase == RestorePhase.COMPLETED, [str(e) for e in result.issues.errors]
            after = compare.snapshot_namespace(second_cluster, namespace)
            _assert_exact(before, after)
            # Cluster-scoped dependencies came along: the CRD (then its CRs), PV, StorageClass.
            crd = other.get(
                f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{workloads.CRD_NAME}"
            )
            assert crd["spec"]["group"] == workloads.CRD_GROUP
            assert f"widgets.{workloads.CRD_GROUP}/blue" in after
            other.get(f"/api/v1/persistentvolumes/shop-uploads-{namespace}")
            other.get(f"/apis/storage.k8s.io/v1/storageclasses/shop-fast-{namespace}")
        finally:
            second_cluster.core.delete_namespace(namespace)
            for path in (
                f"/api/v1/persistentvolumes/shop-uploads-{namespace}",
                f"/apis/storage.k8s.io/v1/storageclasses/shop-fast-{namespace}",
                f"/apis/rbac.authorization.k8s.io/v1/clusterroles/shop-viewer-{namespace}",
            ):
                other.request("DELETE", path)
