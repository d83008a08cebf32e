"""Objects nested deeper than orjson writes (255 levels; the API server allows more in custom
resources with free-form fields) are backed up and restored whole."""

from __future__ import annotations

from typing import Any

from ark.api import RestorePhase
from ark.kube import KubeClient
from ark.storage import ObjectStore
from tests.support import restores
from tests.support.restores import outcome


def _nested(depth: int) -> dict[str, Any]:
    root: dict[str, Any] = {}
    here = root
    for _ in range(depth):
        here["n"] = {}
        here = here["n"]
    here["leaf"] = "bottom"
    return root


def test_an_object_nested_300_deep_comes_back_whole(
    kube: KubeClient, namespace: str, fs_store: ObjectStore
) -> None:
    group = f"{restores.unique('deep')}.ark.test"
    crd = restores.install_crd(kube, restores.gadget_crd(group))
    try:
        deep = _nested(300)
        restores.create(kube, restores.gadget(group, "deep", deep), namespace=namespace)
        restores.create(kube, restores.gadget(group, "flat", {"k": 1}), namespace=namespace)
        backup = restores.back_up(kube, fs_store, namespace)  # Completed, no item errors
        path = f"/apis/{group}/v1/namespaces/{namespace}/gadgets/deep"
        restores.delete(kube, path)
        restores.wait_gone(kube, path)

        result = restores.run_restore(kube, fs_store, backup)

        assert result.phase is RestorePhase.COMPLETED, result.issues
        assert outcome(result, f"gadgets.{group}", "deep").outcome == "created"
        assert kube.get(path)["spec"] == deep
    finally:
        restores.remove_crd(kube, crd["metadata"]["name"])
