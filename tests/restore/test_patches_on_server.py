"""ark's patches give what the API server's give (its JSON Patch and merge patch are the
library Velero's resource modifiers use; its strategic merge is Kubernetes' own, here for the
cases ark covers): the same patch is applied by both (the server's as a dry run) to the same
live object."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from ark.kube import KubeApiError, KubeClient
from ark.restore.patches import Operation, PatchError, apply_json_patch, apply_merge_patch
from ark.restore.strategic import apply_strategic_merge_patch
from tests.support import restores

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "smp", "labels": {"app": "smp"}, "finalizers": ["example.com/a"]},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "smp"}},
        "template": {
            "metadata": {"labels": {"app": "smp"}},
            "spec": {
                "containers": [
                    {
                        "name": "app",
                        "image": "app:1",
                        "args": ["--a", "--b"],
                        "ports": [{"containerPort": 80, "name": "http"}],
                        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                    },
                    {"name": "proxy", "image": "proxy:1"},
                ],
                "volumes": [{"name": "data", "emptyDir": {}}],
                "nodeSelector": {"zone": "a", "disk": "ssd"},
            },
        },
    },
}
SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "smp"},
    "spec": {
        "selector": {"app": "smp"},
        "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}],
    },
}


def template(spec: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"template": {"spec": spec}}}


CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("image-by-name", DEPLOYMENT, template({"containers": [{"name": "app", "image": "app:2"}]})),
    (
        "new-container",
        DEPLOYMENT,
        template({"containers": [{"name": "extra", "image": "extra:1"}]}),
    ),
    (
        "env-ports-mounts",
        DEPLOYMENT,
        template(
            {
                "containers": [
                    {
                        "name": "app",
                        "env": [{"name": "B", "value": "3"}, {"name": "A", "$patch": "delete"}],
                        "ports": [{"containerPort": 80, "name": "web"}, {"containerPort": 9090}],
                        "volumeMounts": [{"name": "cache", "mountPath": "/cache"}],
                    }
                ],
                "volumes": [{"name": "cache", "emptyDir": {"medium": "Memory"}}],
            }
        ),
    ),
    (
        "set-element-order",
        DEPLOYMENT,
        template(
            {
                "containers": [{"name": "proxy", "image": "proxy:2"}],
                "$setElementOrder/containers": [{"name": "proxy"}, {"name": "app"}],
            }
        ),
    ),
    (
        "new-item-between",
        SERVICE,
        {
            "spec": {
                "ports": [{"port": 443, "name": "tls"}, {"port": 8443, "name": "alt"}],
            }
        },
    ),
    ("args-replaced", DEPLOYMENT, template({"containers": [{"name": "app", "args": ["--c"]}]})),
    (
        "containers-replaced",
        DEPLOYMENT,
        template({"containers": [{"name": "only", "image": "only:1"}, {"$patch": "replace"}]}),
    ),
    ("map-replaced", DEPLOYMENT, template({"nodeSelector": {"zone": "b", "$patch": "replace"}})),
    ("key-removed", DEPLOYMENT, template({"nodeSelector": {"disk": None}})),
    ("replicas", DEPLOYMENT, {"spec": {"replicas": 3}}),
    (
        "finalizers-merged",
        DEPLOYMENT,
        {"metadata": {"finalizers": ["example.com/b", "example.com/a"]}},
    ),
    (
        "finalizers-deleted",
        DEPLOYMENT,
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["example.com/a"]}},
    ),
    (
        "service-ports-by-port",
        SERVICE,
        {"spec": {"ports": [{"port": 443, "name": "tls"}, {"port": 8080, "name": "alt"}]}},
    ),
]


def within(ours: Any, theirs: Any, path: str = "") -> list[str]:
    """Where ``ours`` is not contained in ``theirs``: the server fills defaults (protocol,
    imagePullPolicy, ...) into new items, ark does not; lists must match item by item."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        return [d for k, v in ours.items() for d in within(v, theirs.get(k), f"{path}.{k}")]
    if isinstance(ours, list) and isinstance(theirs, list):
        if len(ours) != len(theirs):
            return [f"{path}: {len(ours)} items, the server's {len(theirs)}"]
        return [
            d
            for i, (a, b) in enumerate(zip(ours, theirs, strict=True))
            for d in within(a, b, f"{path}[{i}]")
        ]
    if ours in ([], {}) and theirs is None:
        return []  # the server leaves empty lists and maps out (omitempty)
    return [] if ours == theirs else [f"{path}: {ours!r}, the server's {theirs!r}"]


def dropped(theirs: Any, ours: Any, live: Any, path: str = "") -> list[str]:
    """Keys the server kept from the live object where ark's result has none."""
    out: list[str] = []
    if isinstance(theirs, dict) and isinstance(ours, dict):
        for key, value in theirs.items():
            before = live.get(key) if isinstance(live, dict) else None
            if key not in ours:
                if isinstance(live, dict) and key in live:
                    out.append(f"{path}.{key}")
            else:
                out += dropped(value, ours[key], before, f"{path}.{key}")
    elif isinstance(theirs, list) and isinstance(ours, list):
        for i, (a, b) in enumerate(zip(theirs, ours, strict=False)):
            out += dropped(a, b, _counterpart(a, live), f"{path}[{i}]")
    return out


def _counterpart(item: Any, live: Any) -> Any:
    """The live list's item with the same merge key as ``item``."""
    if not isinstance(item, dict) or not isinstance(live, list):
        return None
    for key in ("name", "port", "containerPort", "mountPath"):
        if key in item:
            return next((x for x in live if isinstance(x, dict) and x.get(key) == item[key]), None)
    return None


@pytest.mark.parametrize(("obj", "patch"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_the_same_result_as_the_api_server(
    kube: KubeClient, namespace: str, obj: dict[str, Any], patch: dict[str, Any]
) -> None:
    live = restores.create(kube, obj, namespace=namespace)
    path = restores.path_of(kube, live)
    try:
        theirs = orjson.loads(
            kube.request(
                "PATCH",
                path,
                body=patch,
                content_type="application/strategic-merge-patch+json",
                query={"dryRun": "All"},
            )
        )
        ours = apply_strategic_merge_patch(live, patch)
        server_set = ("resourceVersion", "generation", "managedFields")
        for section in ("spec", "metadata"):
            mine = {k: v for k, v in ours[section].items() if k not in server_set}
            assert within(mine, theirs[section]) == []
            assert dropped(theirs[section], ours[section], live[section]) == []
    finally:
        restores.merge_patch(kube, path, {"metadata": {"finalizers": None}})
        restores.delete(kube, path)


JSON_PATCHES: list[tuple[str, list[dict[str, Any]]]] = [
    ("replace-replicas", [{"op": "replace", "path": "/spec/replicas", "value": 3}]),
    (
        "add-remove-labels",
        [
            {"op": "add", "path": "/metadata/labels/tier", "value": "web"},
            {"op": "remove", "path": "/metadata/labels/app"},
        ],
    ),
    (
        "insert-and-append",
        [
            {
                "op": "add",
                "path": "/spec/template/spec/containers/0/args/1",
                "value": "--between",
            },
            {"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": "--last"},
        ],
    ),
    (
        "copy-and-move",
        [
            {
                "op": "copy",
                "from": "/spec/template/spec/containers/1/image",
                "path": "/spec/template/spec/containers/0/image",
            },
            {
                "op": "move",
                "from": "/spec/template/spec/nodeSelector/disk",
                "path": "/spec/template/spec/nodeSelector/storage",
            },
        ],
    ),
    (
        "test-then-replace",
        [
            {"op": "test", "path": "/spec/template/spec/containers/1/image", "value": "proxy:1"},
            {"op": "replace", "path": "/spec/template/spec/containers/1/image", "value": "p:2"},
        ],
    ),
    ("test-fails", [{"op": "test", "path": "/spec/replicas", "value": 2}]),
    ("remove-missing", [{"op": "remove", "path": "/spec/paused"}]),
    ("index-out-of-range", [{"op": "add", "path": "/spec/template/spec/volumes/5", "value": {}}]),
]


def test_replace_of_a_missing_key_is_refused_as_velero_does() -> None:
    """The API server's json-patch (evanphx v4) lets ``replace`` add a missing key; RFC 6902
    and the v5 Velero's resource modifiers use refuse it, and so does ark."""
    with pytest.raises(PatchError, match="/spec/hostname does not exist"):
        apply_json_patch({"spec": {}}, [Operation(op="replace", path="/spec/hostname", value=1)])


@pytest.mark.parametrize("ops", [c[1] for c in JSON_PATCHES], ids=[c[0] for c in JSON_PATCHES])
def test_json_patch_as_the_api_server(
    kube: KubeClient, namespace: str, ops: list[dict[str, Any]]
) -> None:
    live = restores.create(kube, DEPLOYMENT, namespace=namespace)
    path = restores.path_of(kube, live)
    operations = [
        Operation(op=o["op"], path=o["path"], value=o.get("value"), from_=o.get("from", ""))
        for o in ops
    ]
    try:
        try:
            theirs = orjson.loads(
                kube.request(
                    "PATCH",
                    path,
                    body=ops,
                    content_type="application/json-patch+json",
                    query={"dryRun": "All"},
                )
            )
        except KubeApiError:
            with pytest.raises(PatchError):  # a failed test included
                apply_json_patch(live, operations)
            return
        ours = apply_json_patch(live, operations)
        assert within(ours["spec"], theirs["spec"]) == []
        assert dropped(theirs["spec"], ours["spec"], live["spec"]) == []
        assert ours["metadata"]["labels"] == theirs["metadata"]["labels"]
    finally:
        restores.merge_patch(kube, path, {"metadata": {"finalizers": None}})
        restores.delete(kube, path)


def test_merge_patch_as_the_api_server(kube: KubeClient, namespace: str) -> None:
    live = restores.create(kube, DEPLOYMENT, namespace=namespace)
    path = restores.path_of(kube, live)
    patch = {
        "metadata": {"labels": {"app": None, "tier": "web"}},
        "spec": {
            "replicas": 2,
            "template": {"spec": {"containers": [{"name": "only", "image": "only:1"}]}},
        },
    }
    try:
        theirs = orjson.loads(
            kube.request(
                "PATCH",
                path,
                body=patch,
                content_type="application/merge-patch+json",
                query={"dryRun": "All"},
            )
        )
        ours = apply_merge_patch(live, patch)
        assert within(ours["spec"], theirs["spec"]) == []
        assert ours["metadata"]["labels"] == theirs["metadata"]["labels"] == {"tier": "web"}
    finally:
        restores.merge_patch(kube, path, {"metadata": {"finalizers": None}})
        restores.delete(kube, path)
