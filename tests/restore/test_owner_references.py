"""Owner references point at the restored owners' new uids, so the garbage collector keeps the
dependents; a reference to an owner that is not restored is dropped."""

from __future__ import annotations

import time

import orjson

from ark import backup, restore
from ark.api import BackupPhase, BackupSpec, RestorePhase, RestoreSpec
from ark.kube import KubeClient
from ark.storage import ObjectStore
from tests.conftest import NamespaceFactory


def _configmap(kube: KubeClient, ns: str, name: str, owner: dict[str, str] | None = None) -> str:
    meta: dict[str, object] = {"name": name}
    if owner:
        meta["ownerReferences"] = [{"apiVersion": "v1", **owner}]
    body = kube.request(
        "POST", f"/api/v1/namespaces/{ns}/configmaps", body={"metadata": meta, "data": {"k": "v"}}
    )
    return str(orjson.loads(body)["metadata"]["uid"])


def test_dependents_follow_their_restored_owner(
    kube: KubeClient, make_namespace: NamespaceFactory, fs_store: ObjectStore
) -> None:
    store = fs_store
    source = make_namespace("own")
    owner_uid = _configmap(kube, source, "owner")
    _configmap(kube, source, "owned", {"kind": "ConfigMap", "name": "owner", "uid": owner_uid})
    secret = orjson.loads(
        kube.request(
            "POST", f"/api/v1/namespaces/{source}/secrets", body={"metadata": {"name": "kept-out"}}
        )
    )
    _configmap(
        kube,
        source,
        "orphan-to-be",
        {"kind": "Secret", "name": "kept-out", "uid": secret["metadata"]["uid"]},
    )
    made = backup.run(
        kube,
        store,
        name="owners",
        spec=BackupSpec(included_namespaces=[source], included_resources=["configmaps"]),
    )
    assert made.phase == BackupPhase.COMPLETED, made.failure_reason
    target = f"{source}-clone"
    result = restore.run(
        kube,
        store,
        name="owners-clone",
        backup_name="owners",
        spec=RestoreSpec(backup_name="owners", namespace_mapping={source: target}),
    )
    try:
        assert result.phase == RestorePhase.COMPLETED, [str(e) for e in result.issues.errors]
        new_owner = kube.get(f"/api/v1/namespaces/{target}/configmaps/owner")["metadata"]["uid"]
        assert new_owner != owner_uid
        time.sleep(2)  # give the garbage collector a chance to delete a dependent it sees orphaned
        owned = kube.get(f"/api/v1/namespaces/{target}/configmaps/owned")["metadata"]
        assert [r["uid"] for r in owned["ownerReferences"]] == [new_owner]
        orphan = kube.get(f"/api/v1/namespaces/{target}/configmaps/orphan-to-be")["metadata"]
        assert "ownerReferences" not in orphan
    finally:
        kube.request("DELETE", f"/api/v1/namespaces/{target}")
