"""Small helpers for restore tests: create objects, back a namespace up, restore, look around.

Everything goes through the real API server (ark's own client) and a real object store.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from ark import archive, backup, persistence, restore
from ark.api import BackupPhase, BackupSpec, RestoreSpec
from ark.kube import KubeApiError, KubeClient, discover
from ark.storage import ObjectStore
from tests.support import workloads

Obj = dict[str, Any]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def path_of(kube: KubeClient, obj: Obj, *, namespace: str | None = None) -> str:
    """The item path of ``obj`` (in ``namespace``, else its own)."""
    res = workloads.resolve(discover(kube), obj)
    ns = (namespace or obj["metadata"].get("namespace")) if res.namespaced else None
    path: str = res.path(namespace=ns, name=obj["metadata"]["name"])
    return path


def create(kube: KubeClient, obj: Obj, *, namespace: str | None = None) -> Obj:
    """Create ``obj`` (in ``namespace`` when namespaced); returns the live object."""
    res = workloads.resolve(discover(kube), obj)
    ns = (namespace or obj["metadata"].get("namespace")) if res.namespaced else None
    body = {**obj, "metadata": {**obj["metadata"], **({"namespace": ns} if ns else {})}}
    live: Obj = orjson.loads(kube.request("POST", res.path(namespace=ns), body=body))
    return live


def get(kube: KubeClient, path: str) -> Obj | None:
    try:
        live: Obj = kube.get(path)
    except KubeApiError as exc:
        if exc.not_found:
            return None
        raise
    return live


def delete(kube: KubeClient, path: str) -> None:
    try:
        kube.request("DELETE", path)
    except KubeApiError as exc:
        if not exc.not_found:
            raise


def wait_for(what: str, check: Callable[[], bool], *, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {timeout:.0f}s")
        time.sleep(0.2)


def wait_gone(kube: KubeClient, path: str, *, timeout: float = 60.0) -> None:
    wait_for(f"{path} gone", lambda: get(kube, path) is None, timeout=timeout)


def config_map(name: str, data: dict[str, str], **meta: Any) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, **meta},
        "data": data,
    }


def back_up(
    kube: KubeClient, store: ObjectStore | persistence.BackupStore, namespace: str, **spec: Any
) -> str:
    """Back ``namespace`` up with ark's backup engine; returns the backup's name."""
    name = unique("b")
    result = backup.run(
        kube, store, name=name, spec=BackupSpec(included_namespaces=[namespace], **spec)
    )
    assert result.phase is BackupPhase.COMPLETED, (result.failure_reason, result.issues)
    return name


def run_restore(
    kube: KubeClient,
    store: ObjectStore | persistence.BackupStore,
    backup_name: str,
    *,
    namespace_timeout: float = 120.0,
    limits: archive.Limits | None = None,
    modifiers: restore.Modifiers | None = None,
    name: str | None = None,
    **spec: Any,
) -> restore.RestoreResult:
    """Restore ``backup_name`` as Restore ``name`` (give the same one to run a restore again;
    None: a new name)."""
    return restore.run(
        kube,
        store,
        name=name or unique("r"),
        backup_name=backup_name,
        spec=RestoreSpec(backup_name=backup_name, **spec),
        namespace_timeout=namespace_timeout,
        limits=limits,
        modifiers=modifiers,
    )


def outcome(result: restore.RestoreResult, resource: str, name: str) -> restore.ItemOutcome:
    outcomes = list(result.outcomes)
    found = [o for o in outcomes if o.resource == resource and o.name == name]
    assert len(found) == 1, (resource, name, outcomes)
    return found[0]


def namespace_objects(kube: KubeClient, namespace: str) -> dict[str, Obj]:
    """Every listable object in ``namespace`` (events left out), keyed ``resource_dir/name``."""
    out: dict[str, Obj] = {}
    for res in discover(kube).resources:
        if not res.namespaced or "list" not in res.verbs or res.qualified.startswith("events"):
            continue
        try:
            listed = kube.get(res.path(namespace=namespace))
        except KubeApiError as exc:
            if exc.not_found:
                continue
            raise
        for item in listed.get("items") or ():
            out[f"{res.qualified}/{item['metadata']['name']}"] = item
    return out


def resource_versions(objs: Iterable[tuple[str, Obj]]) -> dict[str, str]:
    return {key: obj["metadata"]["resourceVersion"] for key, obj in objs}


CRDS_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def gadget_crd(group: str) -> Obj:
    """A small namespaced CRD ``gadgets.<group>`` (kind Gadget); give each test its own group."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"gadgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "x-kubernetes-preserve-unknown-fields": True,
                                }
                            },
                        }
                    },
                }
            ],
        },
    }


def gadget(group: str, name: str, spec: dict[str, Any]) -> Obj:
    return {"apiVersion": f"{group}/v1", "kind": "Gadget", "metadata": {"name": name}, "spec": spec}


def established(kube: KubeClient, crd_name: str) -> bool:
    crd = get(kube, f"{CRDS_PATH}/{crd_name}")
    conditions = ((crd or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


def install_crd(kube: KubeClient, crd: Obj) -> Obj:
    """Create ``crd`` and wait until it is Established and its group is discoverable."""
    kube.request("POST", CRDS_PATH, body=crd)
    name = crd["metadata"]["name"]
    group, version = crd["spec"]["group"], crd["spec"]["versions"][0]["name"]
    wait_for(f"CRD {name} Established", lambda: established(kube, name))
    plural = crd["spec"]["names"]["plural"]
    collection = f"/apis/{group}/{version}/{plural}"
    wait_for(f"{collection} served", lambda: get(kube, collection) is not None)
    live: Obj = kube.get(f"{CRDS_PATH}/{name}")
    return live


def remove_crd(kube: KubeClient, name: str) -> None:
    """Delete a CRD (its custom resources go with it) and wait until it is gone."""
    delete(kube, f"{CRDS_PATH}/{name}")
    wait_gone(kube, f"{CRDS_PATH}/{name}")


def merge_patch(kube: KubeClient, path: str, body: Obj) -> Obj:
    live: Obj = orjson.loads(
        kube.request("PATCH", path, body=body, content_type="application/merge-patch+json")
    )
    return live
