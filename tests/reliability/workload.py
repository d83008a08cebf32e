"""What the fault suite backs up, and how it judges a result against it.

The source: a few namespaces of ConfigMaps (varied data), Secrets, a ServiceAccount, a Role and
its RoleBinding, a selector-less Service. A Completed backup must hold every one of their
objects; a Completed restore must bring each back whole (``tests.support.compare``: only
server-owned fields differ); a PartiallyFailed restore must name every difference.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ark import control, persistence
from ark.api.backup import TERMINAL_BACKUP_PHASES
from ark.api.kinds import Kind
from ark.api.restore import TERMINAL_RESTORE_PHASES
from ark.kube import KubeApiError, KubeClient
from ark.storage import ObjectStore
from tests.conftest import TEST_LABEL, Cluster
from tests.operator.harness import wait_gone, wait_phase
from tests.reliability.ledger import Row
from tests.support import compare
from tests.support.backups import item_keys, open_backup

BACKUP, RESTORE, DBR = control.BACKUP, control.RESTORE, control.DBR


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def manifests(count: int) -> list[dict[str, Any]]:
    objs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "app"}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "reader"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "app-reads"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "app"}],
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "db", "labels": {"tier": "db"}},
            "spec": {"ports": [{"port": 5432, "targetPort": 5432}]},
        },
    ]
    for i in range(count // 10):
        objs.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": f"secret-{i:04d}"},
                "type": "Opaque",
                "data": {"password": _b64(uuid.uuid4().hex)},
            }
        )
    for i in range(count):
        objs.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"cm-{i:05d}", "labels": {"shard": str(i % 7)}},
                "data": {"index": str(i), "text": f"value {i} " * (1 + i % 40)},
            }
        )
    return objs


_RBAC = "rbac.authorization.k8s.io"
_RESOURCES = {  # kind: (its resource, its group)
    "ServiceAccount": ("serviceaccounts", ""),
    "Secret": ("secrets", ""),
    "ConfigMap": ("configmaps", ""),
    "Service": ("services", ""),
    "Role": ("roles", _RBAC),
    "RoleBinding": ("rolebindings", _RBAC),
}


def _resource_dir(kind: str) -> str:
    resource, group = _RESOURCES[kind]
    return f"{resource}.{group}" if group else resource


def _collection(kind: str, namespace: str) -> str:
    resource, group = _RESOURCES[kind]
    api = f"/apis/{group}/v1" if group else "/api/v1"
    return f"{api}/namespaces/{namespace}/{resource}"


def create_namespace(
    kube: KubeClient, name: str, *, objects: int, labels: dict[str, str] | None = None
) -> None:
    """The namespace and its objects (``keys_of(objects)``), each with ``labels``."""
    extra = labels or {}
    kube.request(
        "POST",
        "/api/v1/namespaces",
        body={"metadata": {"name": name, "labels": {TEST_LABEL: "true", **extra}}},
    )

    def one(obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        meta["labels"] = {**(meta.get("labels") or {}), **extra}
        kube.request("POST", _collection(obj["kind"], name), body=obj)

    with ThreadPoolExecutor(max_workers=32) as pool:
        list(pool.map(one, manifests(objects)))


def keys_of(objects: int) -> list[str]:
    """``resource_dir/name`` of what ``create_namespace(objects=objects)`` creates."""
    return [f"{_resource_dir(o['kind'])}/{o['metadata']['name']}" for o in manifests(objects)]


def delete_namespaces(kube: KubeClient, names: Iterable[str]) -> None:
    for name in names:
        try:
            kube.request("DELETE", f"/api/v1/namespaces/{name}")
        except KubeApiError as exc:
            if not exc.not_found:
                raise


@dataclass
class Source:
    namespaces: list[str]
    dumps: dict[str, dict[str, dict[str, Any]]]
    """namespace -> resource_dir/name -> the object as it stood (restorable ones)."""

    def spec(self) -> dict[str, Any]:
        """A Backup spec of these namespaces."""
        return {"includedNamespaces": self.namespaces}


def make_source(
    kube: KubeClient,
    cluster: Cluster,
    *,
    namespaces: int,
    objects: int,
    labels: dict[str, str] | None = None,
) -> Source:
    names = [f"rel-{uuid.uuid4().hex[:6]}-{i}" for i in range(namespaces)]
    for name in names:
        create_namespace(kube, name, objects=objects, labels=labels)
    time.sleep(1.0)  # the service-account controller's token and root CA ConfigMap
    dumps = {n: compare.restorable(compare.snapshot_namespace(cluster, n)) for n in names}
    return Source(names, dumps)


def create(kube: KubeClient, kind: Kind, namespace: str, name: str, spec: dict[str, Any]) -> None:
    control.create(kube, kind, namespace, {"metadata": {"name": name}, "spec": spec})


def wait_terminal(
    kube: KubeClient, kind: Kind, namespace: str, name: str, *, timeout: float
) -> dict[str, Any] | None:
    """The object once its phase is terminal; None when it is not within ``timeout`` (hung)."""
    phases = {
        str(p) for p in (TERMINAL_BACKUP_PHASES if kind is BACKUP else TERMINAL_RESTORE_PHASES)
    }
    try:
        return wait_phase(kube, kind, namespace, name, phases, timeout=timeout)
    except AssertionError:
        return None


def judge_backup(
    row: Row, store: ObjectStore, obj: dict[str, Any] | None, source: Source, spool: Path
) -> None:
    """Count one backup's outcome: a Completed one must hold every source object."""
    if obj is None:
        row.hung += 1
        return
    name, st = obj["metadata"]["name"], obj.get("status") or {}
    if st.get("phase") != "Completed":
        row.failed_loudly += 1
        row.note(f"backup {name}: {st.get('phase')}: {st.get('failureReason') or st.get('errors')}")
        return
    row.completed += 1
    spool.mkdir(parents=True, exist_ok=True)
    with open_backup(store, name, spool) as index:
        for ns, dump in source.dumps.items():
            missing = set(dump) - item_keys(index, namespace=ns)
            if missing:
                row.lost += len(missing)
                row.note(f"backup {name} Completed without {sorted(missing)[:3]} of {ns}")


def judge_restore(
    row: Row,
    cluster: Cluster,
    store: ObjectStore,
    obj: dict[str, Any] | None,
    source: Source,
    mapping: dict[str, str],
) -> None:
    """Count one restore's outcome: Completed must be exact, PartiallyFailed must name every
    difference (failed loudly), Failed is loud."""
    if obj is None:
        row.hung += 1
        return
    name, st = obj["metadata"]["name"], obj.get("status") or {}
    phase = st.get("phase")
    found: dict[str, list[str]] = {}
    for ns, dump in source.dumps.items():
        after = compare.snapshot_namespace(cluster, mapping[ns])
        found.update(compare.differences(dump, after, namespace_map=mapping))
    if phase == "Completed":
        row.completed += 1
        if found:
            row.lost += len(found)
            row.note(f"restore {name} Completed but {dict(list(found.items())[:2])}")
        return
    row.failed_loudly += 1
    row.note(f"restore {name}: {phase}: {st.get('failureReason') or st.get('errors')}")
    if phase == "PartiallyFailed":
        unexplained = compare.unexplained(found, compare.named_in(restore_results(store, name)))
        if unexplained:
            row.lost += len(unexplained)
            row.note(f"restore {name} PartiallyFailed, unnamed: {list(unexplained)[:3]}")


def restore_results(store: ObjectStore, name: str) -> dict[str, Any]:
    return persistence.BackupStore(store).restore_results(name)


def delete_backups(
    row: Row, kube: KubeClient, namespace: str, store: ObjectStore, names: Iterable[str]
) -> None:
    """Delete each backup the way users do (a DeleteBackupRequest); whatever stays in the
    bucket under its folder afterwards is orphaned."""
    names = list(names)
    for name in names:
        body = {"metadata": {"name": f"del-{name}"}, "spec": {"backupName": name}}
        control.create(kube, DBR, namespace, body)
    for name in names:
        wait_gone(kube, BACKUP, namespace, name, timeout=120)
        left = [info.key for info in store.list(f"backups/{name}/")]
        if left:
            row.orphaned += len(left)
            row.note(f"deleted backup {name} left {left[:3]}")
