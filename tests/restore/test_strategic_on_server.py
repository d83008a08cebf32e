"""ark's strategic merge patch gives what the API server's gives, for the cases it covers: the
same patch is applied by both (the server's as a dry run) to the same live object."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from ark.kube import KubeClient
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
