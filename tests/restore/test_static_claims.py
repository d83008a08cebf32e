"""A claim that names its volume (a static claim) never comes back unable to bind: in a clone
beside its original the volume is the original's, so the clone's claim gets a new volume where
its class provisions (and the restore says the data was not copied), or the item fails saying
what to do. The original's volume is never touched. (Volumes restored from snapshots under a
new name: tests/restore/test_volumes.py.)"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ark.api import RestorePhase
from ark.kube import KubeClient
from ark.storage import ObjectStore
from tests.conftest import Cluster
from tests.support import restores

PVS = "/api/v1/persistentvolumes"
CLASSES = "/apis/storage.k8s.io/v1/storageclasses"


@pytest.fixture
def static_claim(kube: KubeClient, namespace: str, csi_driver: str) -> Iterator[Callable[..., str]]:
    """make(provisioner): a storage class with that provisioner, a hostPath volume of that
    class (reclaim policy Retain unless ``reclaim``) reserved for claim ``data`` in the test
    namespace, and the claim, bound. Returns the volume's name."""
    made: list[str] = []

    def make(provisioner: str, *, reclaim: str = "Retain") -> str:
        name = restores.unique("static")
        made.append(name)
        restores.create(
            kube,
            {
                "apiVersion": "storage.k8s.io/v1",
                "kind": "StorageClass",
                "metadata": {"name": name},
                "provisioner": csi_driver if provisioner == "csi" else provisioner,
                "volumeBindingMode": "Immediate",
            },
        )
        restores.create(
            kube,
            {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {"name": name},
                "spec": {
                    "capacity": {"storage": "1Gi"},
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": name,
                    "persistentVolumeReclaimPolicy": reclaim,
                    "claimRef": {"namespace": namespace, "name": "data"},
                    "hostPath": {"path": f"/tmp/{name}"},
                },
            },
        )
        restores.create(kube, _claim(name, volume=name), namespace=namespace)
        restores.wait_for("the static claim bound", lambda: _phase(kube, namespace) == "Bound")
        return name

    yield make
    for name in made:
        restores.delete(kube, f"{PVS}/{name}")
        restores.delete(kube, f"{CLASSES}/{name}")


def _claim(storage_class: str, *, volume: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "labels": {"app": "static"}},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": storage_class,
            "volumeName": volume,
            "resources": {"requests": {"storage": "1Gi"}},
        },
    }


def _phase(kube: KubeClient, namespace: str) -> str | None:
    found = restores.get(kube, f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/data")
    return None if found is None else (found.get("status") or {}).get("phase")


def _volume(kube: KubeClient, name: str) -> dict[str, Any]:
    """The PersistentVolume as its owner wrote it (what only the server changes left out)."""
    pv: dict[str, Any] = kube.get(f"{PVS}/{name}")
    pv["metadata"].pop("managedFields", None)
    return pv


def test_a_clone_beside_its_original_gets_a_new_volume_and_says_the_data_was_not_copied(
    kube: KubeClient,
    namespace: str,
    fs_store: ObjectStore,
    fresh_namespace: Callable[[str], str],
    static_claim: Callable[..., str],
) -> None:
    volume = static_claim("csi")
    original = _volume(kube, volume)
    backup = restores.back_up(kube, fs_store, namespace)
    clone = fresh_namespace("clone")

    result = restores.run_restore(kube, fs_store, backup, namespace_mapping={namespace: clone})

    assert result.phase is RestorePhase.PARTIALLY_FAILED
    [error] = [str(e) for e in result.issues.errors]
    assert f"PersistentVolume {volume} is bound to claim {namespace}/data" in error, error
    assert "the volume's data was not copied" in error and clone in error, error
    assert restores.outcome(result, "persistentvolumeclaims", "data").outcome == "created"
    # The clone's claim binds a volume its class provisioned; the original's is as it was.
    restores.wait_for("the clone's claim bound", lambda: _phase(kube, clone) == "Bound", timeout=60)
    cloned = kube.get(f"/api/v1/namespaces/{clone}/persistentvolumeclaims/data")
    assert cloned["spec"]["volumeName"] not in (volume, None)
    assert cloned["spec"]["storageClassName"] == volume
    assert _volume(kube, volume) == original
    assert _phase(kube, namespace) == "Bound"


def test_a_clone_whose_class_cannot_provision_fails_the_claim_saying_what_to_do(
    kube: KubeClient,
    namespace: str,
    fs_store: ObjectStore,
    fresh_namespace: Callable[[str], str],
    static_claim: Callable[..., str],
) -> None:
    volume = static_claim("kubernetes.io/no-provisioner")
    original = _volume(kube, volume)
    restores.create(kube, restores.config_map("settings", {"k": "v"}), namespace=namespace)
    backup = restores.back_up(kube, fs_store, namespace)
    clone = fresh_namespace("clone")

    dry = restores.run_restore(
        kube, fs_store, backup, namespace_mapping={namespace: clone}, dry_run=True
    )
    result = restores.run_restore(kube, fs_store, backup, namespace_mapping={namespace: clone})

    for run in (dry, result):
        assert run.phase is RestorePhase.PARTIALLY_FAILED
        claim = restores.outcome(run, "persistentvolumeclaims", "data")
        assert claim.outcome == "failed"
        assert claim.message is not None
        assert f"PersistentVolume {volume} is bound to claim {namespace}/data" in claim.message
        assert f"storage class '{volume}' cannot provision" in claim.message
        assert "storageClassMapping" in claim.message
    assert restores.get(kube, f"/api/v1/namespaces/{clone}/persistentvolumeclaims/data") is None
    assert kube.get(f"/api/v1/namespaces/{clone}/configmaps/settings")["data"] == {"k": "v"}
    assert _volume(kube, volume) == original


def test_a_claim_whose_released_volume_was_left_out_binds_it_again_after_a_disaster(
    kube: KubeClient,
    fs_store: ObjectStore,
    fresh_namespace: Callable[[str], str],
    static_claim: Callable[..., str],
    namespace: str,
) -> None:
    volume = static_claim("kubernetes.io/no-provisioner")
    backup = restores.back_up(kube, fs_store, namespace)
    restores.delete(kube, f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/data")
    restores.wait_for(
        "the volume released",
        lambda: (kube.get(f"{PVS}/{volume}").get("status") or {}).get("phase") == "Released",
    )

    result = restores.run_restore(kube, fs_store, backup, excluded_resources=["persistentvolumes"])

    assert result.phase is RestorePhase.COMPLETED, [str(e) for e in result.issues.errors]
    restores.wait_for("the claim bound again", lambda: _phase(kube, namespace) == "Bound")
    claim = kube.get(f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/data")
    assert claim["spec"]["volumeName"] == volume


def test_a_volume_that_deletes_its_disk_is_not_restored_into_another_cluster_without_a_snapshot(
    kube: KubeClient,
    second_cluster: Cluster,
    namespace: str,
    fs_store: ObjectStore,
    static_claim: Callable[..., str],
) -> None:
    """Restored there, the volume would point at the original's disk, and deleting its claim in
    the other cluster would delete that disk: its claim gets a new volume instead."""
    volume = static_claim("csi", reclaim="Delete")
    backup = restores.back_up(kube, fs_store, namespace)
    with KubeClient.load(kubeconfig=second_cluster.kubeconfig) as other:
        try:
            result = restores.run_restore(other, fs_store, backup)

            assert result.phase is RestorePhase.PARTIALLY_FAILED
            pv = restores.outcome(result, "persistentvolumes", volume)
            assert pv.outcome == "skipped" and pv.message is not None
            assert "reclaim policy is Delete" in pv.message, pv.message
            assert restores.get(other, f"{PVS}/{volume}") is None
            [error] = [str(e) for e in result.issues.errors]
            assert f"PersistentVolume {volume} is not restored" in error, error
            assert "the volume's data was not copied" in error, error
            claim = other.get(f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/data")
            assert "volumeName" not in claim["spec"]
        finally:
            restores.delete(other, f"/api/v1/namespaces/{namespace}")
            restores.delete(other, f"{CLASSES}/{volume}")
