"""An encrypted backup, end to end on a real cluster and real stores (fs and MinIO): no byte
ark wrote holds a Secret's values; it restores whole with the location's keys; with its key no
longer listed the restore fails naming the key and the location, and creates nothing; after
rotation it still restores while its key is listed. The keys come from real Secrets through
``control.bsl_keyring``."""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Callable

import pytest

from ark import control, crypto, persistence
from ark.api import RestorePhase
from ark.api.locations import BackupStorageLocationSpec
from ark.backup import verify
from ark.kube import KubeClient
from ark.storage import ObjectStore
from tests.support import restores

KEY_A, KEY_B = os.urandom(32), os.urandom(32)


def _key_secret(kube: KubeClient, namespace: str) -> str:
    """A Secret holding keys a and b (base64 and hex text: both forms are accepted)."""
    name = restores.unique("keys")
    restores.create(
        kube,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name},
            "stringData": {"a": base64.b64encode(KEY_A).decode(), "b": KEY_B.hex()},
        },
        namespace=namespace,
    )
    return name


def _ring(
    kube: KubeClient, namespace: str, secret: str, ids: list[str], current: str
) -> crypto.Keyring:
    spec = BackupStorageLocationSpec.model_validate(
        {
            "provider": "fs",
            "objectStorage": {"bucket": "/unused"},
            "encryption": {
                "current": current,
                "keys": [{"id": i, "secret": {"name": secret, "key": i}} for i in ids],
            },
        }
    )
    bsl = control.StorageLocation(name="vault", spec=spec, phase=None)
    return control.bsl_keyring(kube, namespace, bsl)


def _secret_values() -> dict[str, str]:
    return {"password": f"pw-{secrets.token_hex(12)}", "token": f"tok-{secrets.token_hex(12)}"}


def _make_secret(kube: KubeClient, namespace: str, values: dict[str, str]) -> None:
    restores.create(
        kube,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "db-creds", "labels": {"app": "shop"}},
            "type": "Opaque",
            "stringData": values,
        },
        namespace=namespace,
    )


def _everything_stored(store: ObjectStore, name: str) -> dict[str, bytes]:
    return {info.key: store.get(info.key) for info in store.list(f"backups/{name}/")}


def test_an_encrypted_backup_hides_secrets_and_restores_them_whole(
    kube: KubeClient,
    store: ObjectStore,
    namespace: str,
    make_namespace: Callable[[str], str],
    fresh_namespace: Callable[[str], str],
) -> None:
    keys_ns = make_namespace("keys")
    secret = _key_secret(kube, keys_ns)
    values = _secret_values()
    _make_secret(kube, namespace, values)
    backups = persistence.BackupStore(store, keyring=_ring(kube, keys_ns, secret, ["a"], "a"))

    name = restores.back_up(kube, backups, namespace)

    stored = _everything_stored(store, name)
    assert len(stored) == 7
    for value in values.values():
        forms = [value.encode(), base64.b64encode(value.encode())]
        for key, data in stored.items():
            assert not any(form in data for form in forms), f"{value} in {key}"
    assert verify.run(backups, name).ok

    target = fresh_namespace("decrypted")
    result = restores.run_restore(kube, backups, name, namespace_mapping={namespace: target})

    assert result.phase is RestorePhase.COMPLETED, (result.failure_reason, result.issues)
    original = restores.get(kube, f"/api/v1/namespaces/{namespace}/secrets/db-creds")
    restored = restores.get(kube, f"/api/v1/namespaces/{target}/secrets/db-creds")
    assert original is not None and restored is not None
    assert restored["data"] == original["data"]
    assert restored["type"] == original["type"]
    assert restored["metadata"]["labels"] == original["metadata"]["labels"]
    assert {k: base64.b64decode(v).decode() for k, v in restored["data"].items()} == values


def test_without_its_key_a_backup_restores_nothing_and_names_the_key(
    kube: KubeClient,
    store: ObjectStore,
    namespace: str,
    make_namespace: Callable[[str], str],
    fresh_namespace: Callable[[str], str],
) -> None:
    keys_ns = make_namespace("keys")
    secret = _key_secret(kube, keys_ns)
    _make_secret(kube, namespace, _secret_values())
    ring_a = _ring(kube, keys_ns, secret, ["a"], "a")
    name = restores.back_up(kube, persistence.BackupStore(store, keyring=ring_a), namespace)
    only_b = persistence.BackupStore(store, keyring=_ring(kube, keys_ns, secret, ["b"], "b"))
    target = fresh_namespace("keyless")

    result = restores.run_restore(kube, only_b, name, namespace_mapping={namespace: target})

    assert result.phase is RestorePhase.FAILED
    assert result.failure_reason is not None
    assert "KeyUnavailable" in result.failure_reason
    assert "key 'a'" in result.failure_reason
    assert "BackupStorageLocation vault" in result.failure_reason
    assert "nothing restored" in result.failure_reason
    assert list(result.outcomes) == []
    assert restores.get(kube, f"/api/v1/namespaces/{target}") is None
    checked = verify.run(only_b, name)
    assert checked.reason == "KeyUnavailable"


def test_after_rotation_old_backups_restore_while_their_key_is_listed(
    kube: KubeClient,
    store: ObjectStore,
    namespace: str,
    make_namespace: Callable[[str], str],
    fresh_namespace: Callable[[str], str],
) -> None:
    keys_ns = make_namespace("keys")
    secret = _key_secret(kube, keys_ns)
    values = _secret_values()
    _make_secret(kube, namespace, values)
    ring_a = _ring(kube, keys_ns, secret, ["a"], "a")
    old = restores.back_up(kube, persistence.BackupStore(store, keyring=ring_a), namespace)
    rotated = persistence.BackupStore(store, keyring=_ring(kube, keys_ns, secret, ["a", "b"], "b"))
    new = restores.back_up(kube, rotated, namespace)
    assert persistence.sealed_of(rotated.record(new)).key_id == "b"
    assert persistence.sealed_of(rotated.record(old)).key_id == "a"

    for name in (old, new):
        target = fresh_namespace("rotated")
        result = restores.run_restore(kube, rotated, name, namespace_mapping={namespace: target})
        assert result.phase is RestorePhase.COMPLETED, (result.failure_reason, result.issues)
        restored = restores.get(kube, f"/api/v1/namespaces/{target}/secrets/db-creds")
        assert restored is not None
        assert {k: base64.b64decode(v).decode() for k, v in restored["data"].items()} == values


def test_a_key_whose_secret_is_missing_is_named(kube: KubeClient, namespace: str) -> None:
    ring = _ring(kube, namespace, "no-such-secret", ["a"], "a")
    with pytest.raises(crypto.KeyUnavailable, match=r"key 'a' of BackupStorageLocation vault"):
        ring.new_data_key()
