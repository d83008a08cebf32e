"""A backup written by real Velero (1.18.3) restores: every object it was made from comes back
with equal spec and data, and what controllers make (Pods, ReplicaSets, EndpointSlices,
ControllerRevisions) is left to them — never duplicated."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ark.api import RestorePhase
from ark.kube import KubeClient
from ark.storage import ObjectStore
from tests.archive.crafting import FIXTURES, VELERO_BACKUP
from tests.support import restores
from tests.support.restores import CRDS_PATH, outcome

SOURCE = FIXTURES / "velero-1.18.3" / "source-guestbook.yaml"
BACKUP = VELERO_BACKUP.name
CRD = "guestbooks.demo.example.org"
# What the backup holds that controllers made (names as in the archive).
BACKED_UP_PODS = {"frontend-5758df767-kvpst", "frontend-5758df767-zsbd5", "redis-0"}


@pytest.fixture
def no_guestbook_crd(kube: KubeClient) -> Iterator[None]:
    """The fixture's CRD must come from the backup: absent before, removed after."""
    restores.remove_crd(kube, CRD)
    yield
    restores.remove_crd(kube, CRD)


@pytest.fixture
def velero_store(s3_store: ObjectStore) -> ObjectStore:
    """A MinIO bucket holding the Velero backup folder exactly as Velero left it."""
    for path in sorted(Path(VELERO_BACKUP).iterdir()):
        s3_store.put(f"backups/{BACKUP}/{path.name}", path.read_bytes())
    return s3_store


def _contains(live: Any, want: Any, where: str) -> None:
    """Everything in ``want`` is in ``live`` (the server adds defaults, never changes ours)."""
    if isinstance(want, dict):
        assert isinstance(live, dict), where
        for key, value in want.items():
            _contains(live.get(key), value, f"{where}.{key}")
    elif isinstance(want, list):
        assert isinstance(live, list) and len(live) == len(want), where
        for i, (got, value) in enumerate(zip(live, want, strict=True)):
            _contains(got, value, f"{where}[{i}]")
    else:
        assert live == want, f"{where}: {live!r} != {want!r}"


def _path(kube: KubeClient, obj: dict[str, Any], target: str) -> str:
    if obj["kind"] == "Namespace":
        return f"/api/v1/namespaces/{target}"
    return restores.path_of(kube, obj, namespace=target)


def _expected(obj: dict[str, Any], target: str) -> dict[str, Any]:
    """The parts of a source manifest a restore must bring back unchanged."""
    want = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    if obj["kind"] == "Secret":
        data = {k: base64.b64encode(v.encode()).decode() for k, v in want.pop("stringData").items()}
        want["data"] = data
    for subject in want.get("subjects") or ():
        subject["namespace"] = target  # namespace mapping rewrites subjects
    labels = obj["metadata"].get("labels")
    if labels:
        want["metadata"] = {"labels": labels}
    return want


def _controlled(kube: KubeClient, target: str) -> dict[str, list[dict[str, Any]]]:
    lists = {
        "pods": f"/api/v1/namespaces/{target}/pods",
        "replicasets": f"/apis/apps/v1/namespaces/{target}/replicasets",
        "controllerrevisions": f"/apis/apps/v1/namespaces/{target}/controllerrevisions",
        "endpointslices": f"/apis/discovery.k8s.io/v1/namespaces/{target}/endpointslices",
        "persistentvolumeclaims": f"/api/v1/namespaces/{target}/persistentvolumeclaims",
    }
    return {kind: kube.get(path)["items"] for kind, path in lists.items()}


def test_a_velero_backup_restores_every_object_it_was_made_from(
    kube: KubeClient,
    velero_store: ObjectStore,
    fresh_namespace: Callable[[str], str],
    no_guestbook_crd: None,
) -> None:
    target = fresh_namespace("guestbook")

    result = restores.run_restore(
        kube, velero_store, BACKUP, namespace_mapping={"guestbook": target}
    )

    assert result.phase is RestorePhase.COMPLETED, (result.failure_reason, result.issues)
    assert [w.message for w in result.issues.warnings] == [
        f"backup {BACKUP} has no ark manifest (written by Velero?): "
        "item checksums could not be verified"
    ]
    sources = [d for d in yaml.safe_load_all(SOURCE.read_text()) if d]
    for obj in sources:
        live = restores.get(kube, _path(kube, obj, target))
        if obj["metadata"]["name"] == "skip-me":
            assert live is None  # excluded from the backup by its label
            continue
        assert live is not None, (obj["kind"], obj["metadata"]["name"])
        _contains(live, _expected(obj, target), f"{obj['kind']} {obj['metadata']['name']}")
    assert outcome(result, "customresourcedefinitions.apiextensions.k8s.io", CRD).outcome == (
        "created"
    )
    assert restores.established(kube, CRD)
    assert kube.get(f"{CRDS_PATH}/{CRD}")["spec"]["group"] == "demo.example.org"


def test_what_controllers_make_is_left_to_them(
    kube: KubeClient,
    velero_store: ObjectStore,
    fresh_namespace: Callable[[str], str],
    no_guestbook_crd: None,
) -> None:
    target = fresh_namespace("guestbook")

    result = restores.run_restore(
        kube, velero_store, BACKUP, namespace_mapping={"guestbook": target}
    )

    assert result.phase is RestorePhase.COMPLETED, (result.failure_reason, result.issues)
    for resource, name in [
        ("pods", "frontend-5758df767-kvpst"),
        ("pods", "frontend-5758df767-zsbd5"),
        ("pods", "redis-0"),
        ("replicasets.apps", "frontend-5758df767"),
        ("controllerrevisions.apps", "redis-5d67988465"),
        ("endpointslices.discovery.k8s.io", "frontend-fgrcv"),
        ("endpointslices.discovery.k8s.io", "redis-84tz9"),
        ("endpoints", "frontend"),
    ]:
        assert outcome(result, resource, name).outcome == "skipped", (resource, name)
    expected_counts = {
        "pods": 3,
        "replicasets": 1,
        "controllerrevisions": 1,
        "endpointslices": 2,
        "persistentvolumeclaims": 1,
    }
    restores.wait_for(
        "the controllers' objects",
        lambda: {k: len(v) for k, v in _controlled(kube, target).items()} == expected_counts,
    )
    made = _controlled(kube, target)
    deployment_uid = kube.get(f"/apis/apps/v1/namespaces/{target}/deployments/frontend")[
        "metadata"
    ]["uid"]
    (replicaset,) = made["replicasets"]
    assert replicaset["metadata"]["ownerReferences"][0]["uid"] == deployment_uid
    frontend_pods = {p["metadata"]["name"] for p in made["pods"]} - {"redis-0"}
    assert len(frontend_pods) == 2
    assert not frontend_pods & BACKED_UP_PODS  # made by the new ReplicaSet, not restored
    for pod in made["pods"]:
        assert pod["metadata"]["ownerReferences"][0]["controller"] is True
    for endpoint_slice in made["endpointslices"]:
        labels = endpoint_slice["metadata"]["labels"]
        assert labels["endpointslice.kubernetes.io/managed-by"] == "endpointslice-controller.k8s.io"
