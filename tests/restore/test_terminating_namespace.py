"""A restore into a namespace that is still being deleted waits until it is gone and creates it
afresh; if it outlives the wait, its items fail with a message that says so."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from ark.api import RestorePhase
from ark.kube import KubeApiError, KubeClient
from ark.storage import ObjectStore
from tests.conftest import NamespaceFactory
from tests.support import restores
from tests.support.restores import config_map, outcome

HOLD = "ark.test/hold"


def _hold_path(namespace: str) -> str:
    return f"/api/v1/namespaces/{namespace}/configmaps/hold"


def _release(kube: KubeClient, namespace: str) -> None:
    try:
        restores.merge_patch(kube, _hold_path(namespace), {"metadata": {"finalizers": None}})
    except KubeApiError as exc:
        if not exc.not_found:  # gone already: nothing holds the namespace
            raise


@pytest.fixture
def terminating(kube: KubeClient, make_namespace: NamespaceFactory) -> Iterator[str]:
    """A namespace held in Terminating by a finalizer on a ConfigMap inside it."""
    name = make_namespace("dying")
    restores.create(kube, config_map("hold", {"k": "v"}, finalizers=[HOLD]), namespace=name)
    kube.request("DELETE", f"/api/v1/namespaces/{name}")
    restores.wait_for(
        f"namespace {name} Terminating",
        lambda: kube.get(f"/api/v1/namespaces/{name}")["status"]["phase"] == "Terminating",
    )
    yield name
    _release(kube, name)


@pytest.fixture
def backup(kube: KubeClient, namespace: str, fs_store: ObjectStore) -> tuple[str, str]:
    """(namespace, backup) of a namespace with two ConfigMaps."""
    restores.create(kube, config_map("a", {"k": "1"}), namespace=namespace)
    restores.create(kube, config_map("b", {"k": "2"}), namespace=namespace)
    return namespace, restores.back_up(kube, fs_store, namespace)


def test_waits_for_a_terminating_namespace_then_restores(
    kube: KubeClient, fs_store: ObjectStore, backup: tuple[str, str], terminating: str
) -> None:
    source, name = backup
    releaser = threading.Timer(2.0, _release, args=(kube, terminating))
    releaser.start()
    started = time.monotonic()
    try:
        result = restores.run_restore(
            kube, fs_store, name, namespace_mapping={source: terminating}, namespace_timeout=60
        )
    finally:
        releaser.join()

    assert time.monotonic() - started >= 2.0
    assert result.phase is RestorePhase.COMPLETED, (result.failure_reason, result.issues)
    live = kube.get(f"/api/v1/namespaces/{terminating}")
    assert live["status"]["phase"] == "Active"
    assert "deletionTimestamp" not in live["metadata"]
    for cm, value in (("a", "1"), ("b", "2")):
        path = f"/api/v1/namespaces/{terminating}/configmaps/{cm}"
        assert kube.get(path)["data"] == {"k": value}
        assert outcome(result, "configmaps", cm).outcome == "created"
    assert restores.get(kube, _hold_path(terminating)) is None
    assert outcome(result, "namespaces", source).outcome == "created"


def test_items_fail_clearly_when_the_namespace_stays_terminating(
    kube: KubeClient, fs_store: ObjectStore, backup: tuple[str, str], terminating: str
) -> None:
    source, name = backup

    result = restores.run_restore(
        kube, fs_store, name, namespace_mapping={source: terminating}, namespace_timeout=1
    )

    assert result.phase is RestorePhase.PARTIALLY_FAILED
    message = f"namespace '{terminating}' is terminating (waited 1s)"
    for resource, item in (("namespaces", source), ("configmaps", "a"), ("configmaps", "b")):
        got = outcome(result, resource, item)
        assert (got.outcome, got.message) == ("failed", message), resource
    errors = {(e.resource, e.name): e.message for e in result.issues.errors}
    assert errors[("configmaps", "a")] == f"cannot restore: {message}"
    assert errors[("configmaps", "b")] == f"cannot restore: {message}"
    # nothing went in: the namespace still holds only what held it
    assert restores.get(kube, f"/api/v1/namespaces/{terminating}/configmaps/a") is None
    assert kube.get(f"/api/v1/namespaces/{terminating}")["status"]["phase"] == "Terminating"
