"""A BackupStorageLocation with spec.encryption, through the operator: the key is a Secret in
its namespace; backups are written encrypted (no Secret value in the bucket) and restore; a
current key whose Secret is missing fails validation naming it; a backup whose key was dropped
from the list fails its restore naming the key, and restores nothing."""

from __future__ import annotations

import base64
import os
import secrets
from typing import Any

from ark import control, crypto
from ark.kube import KubeClient
from ark.storage import ObjectStore
from tests.conftest import NamespaceFactory, S3Server
from tests.operator.conftest import bsl_body
from tests.operator.harness import Operator, status, wait_phase
from tests.support import restores

BACKUP, RESTORE, BSL = control.BACKUP, control.RESTORE, control.BSL


def _secret(kube: KubeClient, namespace: str, name: str, data: dict[str, str]) -> None:
    body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": data}
    kube.request("POST", f"/api/v1/namespaces/{namespace}/secrets", body=body)


def _encryption(current: str, *ids: str) -> dict[str, Any]:
    keys = [{"id": i, "secret": {"name": "ark-backup-keys", "key": i}} for i in ids]
    return {"current": current, "keys": keys}


def _restore(kube: KubeClient, ns: str, name: str, backup: str, mapping: dict[str, str]) -> Any:
    body = {"metadata": {"name": name}, "spec": {"backupName": backup, "namespaceMapping": mapping}}
    control.create(kube, RESTORE, ns, body)
    return wait_phase(
        kube, RESTORE, ns, name, {"Completed", "PartiallyFailed", "Failed", "FailedValidation"}
    )["status"]


def test_an_encrypted_location_through_the_operator(
    kube: KubeClient,
    op_namespace: str,
    operator: Operator,
    s3_bucket: str,
    minio: S3Server,
    store: ObjectStore,
    make_namespace: NamespaceFactory,
) -> None:
    keys = {"k1": base64.b64encode(os.urandom(32)).decode()}
    _secret(kube, op_namespace, "ark-backup-keys", keys)
    body = bsl_body("default", s3_bucket, minio, encryption=_encryption("k1", "k1"))
    control.create(kube, BSL, op_namespace, body)
    wait_phase(kube, BSL, op_namespace, "default", {"Available"}, timeout=30)
    app = make_namespace("app")
    value = f"pw-{secrets.token_hex(12)}"
    _secret(kube, app, "db-creds", {"password": value})

    control.create(
        kube,
        BACKUP,
        op_namespace,
        {"metadata": {"name": "enc"}, "spec": {"includedNamespaces": [app]}},
    )
    wait_phase(kube, BACKUP, op_namespace, "enc", {"Completed"})
    assert status(kube, BACKUP, op_namespace, "enc")["encryptionKey"] == "k1"

    stored = {o.key: store.get(o.key) for o in store.list("backups/enc/")}
    assert len(stored) == 7
    for key, data in stored.items():
        assert value.encode() not in data and base64.b64encode(value.encode()) not in data, key
        assert crypto.is_encrypted(data) == (not key.endswith("velero-backup.json")), key

    clone = f"{app}-clone"
    try:
        st = _restore(kube, op_namespace, "r1", "enc", {app: clone})
        assert st["phase"] == "Completed", st
        restored = kube.get(f"/api/v1/namespaces/{clone}/secrets/db-creds")
        assert base64.b64decode(restored["data"]["password"]).decode() == value
    finally:
        kube.request("DELETE", f"/api/v1/namespaces/{clone}")

    # Rotation done wrong: k2 added and made current, k1 dropped while a backup needs it.
    keys2 = {"k2": base64.b64encode(os.urandom(32)).decode()}
    kube.request(
        "PATCH",
        f"/api/v1/namespaces/{op_namespace}/secrets/ark-backup-keys",
        body={"stringData": keys2},
        content_type="application/merge-patch+json",
    )
    control.patch(
        kube, BSL, op_namespace, "default", {"spec": {"encryption": _encryption("k2", "k2")}}
    )
    lost = f"{app}-lost"
    st = _restore(kube, op_namespace, "r2", "enc", {app: lost})
    assert st["phase"] in ("Failed", "FailedValidation"), st
    message = " ".join([st.get("failureReason") or "", *(st.get("validationErrors") or [])])
    assert "key 'k1'" in message and "BackupStorageLocation default" in message, st
    assert restores.get(kube, f"/api/v1/namespaces/{lost}") is None


def test_a_current_key_whose_secret_is_missing_fails_validation(
    kube: KubeClient,
    op_namespace: str,
    operator: Operator,
    s3_bucket: str,
    minio: S3Server,
    make_namespace: NamespaceFactory,
) -> None:
    body = bsl_body("default", s3_bucket, minio, encryption=_encryption("k1", "k1"))
    control.create(kube, BSL, op_namespace, body)
    app = make_namespace("app")
    control.create(
        kube,
        BACKUP,
        op_namespace,
        {"metadata": {"name": "nokey"}, "spec": {"includedNamespaces": [app]}},
    )
    wait_phase(kube, BACKUP, op_namespace, "nokey", {"FailedValidation", "Failed"})
    st = status(kube, BACKUP, op_namespace, "nokey")
    text = " ".join([st.get("failureReason") or "", *(st.get("validationErrors") or [])])
    assert "encryption key 'k1'" in text and "not found" in text, st
