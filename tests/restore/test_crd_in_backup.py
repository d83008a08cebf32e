"""Custom resources whose CRD is in the same backup: the CRD is created first and waited for
until it is Established and served, then its custom resources are created."""

from __future__ import annotations

from ark.api import RestorePhase
from ark.kube import KubeClient
from ark.storage import ObjectStore
from tests.support import restores
from tests.support.restores import CRDS_PATH, outcome

CRDS = "customresourcedefinitions.apiextensions.k8s.io"


def test_crd_and_its_resources_come_back_in_order(
    kube: KubeClient, namespace: str, fs_store: ObjectStore, group: str
) -> None:
    crd = restores.install_crd(kube, restores.gadget_crd(group))
    crd_name = crd["metadata"]["name"]
    specs = {"small": {"size": 1, "tags": ["a"]}, "large": {"size": 9, "owner": {"team": "x"}}}
    for name, spec in specs.items():
        restores.create(kube, restores.gadget(group, name, spec), namespace=namespace)
    backup = restores.back_up(kube, fs_store, namespace)
    restores.remove_crd(kube, crd_name)  # its custom resources go with it
    assert restores.get(kube, f"/apis/{group}/v1/namespaces/{namespace}/gadgets") is None

    result = restores.run_restore(kube, fs_store, backup)

    assert result.phase is RestorePhase.COMPLETED, (result.failure_reason, result.issues)
    assert outcome(result, CRDS, crd_name).outcome == "created"
    assert restores.established(kube, crd_name)
    live_crd = kube.get(f"{CRDS_PATH}/{crd_name}")
    assert live_crd["metadata"]["uid"] != crd["metadata"]["uid"]
    assert live_crd["spec"]["versions"] == crd["spec"]["versions"]
    for name, spec in specs.items():
        assert outcome(result, f"gadgets.{group}", name).outcome == "created"
        live = kube.get(f"/apis/{group}/v1/namespaces/{namespace}/gadgets/{name}")
        assert live["spec"] == spec
    assert result.plan is not None
    waves = {p.key[0]: p.wave for p in result.plan.planned()}
    assert waves[CRDS] < waves[f"gadgets.{group}"]


def test_resources_of_a_crd_that_stays_are_restored(
    kube: KubeClient, namespace: str, fs_store: ObjectStore, group: str
) -> None:
    crd = restores.install_crd(kube, restores.gadget_crd(group))
    restores.create(kube, restores.gadget(group, "g1", {"size": 1}), namespace=namespace)
    backup = restores.back_up(kube, fs_store, namespace)
    path = f"/apis/{group}/v1/namespaces/{namespace}/gadgets/g1"
    kube.request("DELETE", path)
    restores.wait_gone(kube, path)

    result = restores.run_restore(kube, fs_store, backup)

    assert result.phase is RestorePhase.COMPLETED, (result.failure_reason, result.issues)
    assert outcome(result, CRDS, crd["metadata"]["name"]).outcome == "skipped-exists"
    assert (
        kube.get(f"{CRDS_PATH}/{crd['metadata']['name']}")["metadata"]["uid"]
        == (crd["metadata"]["uid"])
    )
    assert kube.get(path)["spec"] == {"size": 1}
