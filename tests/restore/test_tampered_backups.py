"""Restoring an ark backup that was tampered with fails before touching the cluster, the reason
named: a flipped byte in the archive, another backup's manifest, no manifest, an altered
manifest. (A Velero-written backup, whose record keeps no digest, still restores with a
warning: tests/restore/test_velero_backup.py.)"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ark.api import RestorePhase
from ark.kube import KubeClient
from ark.storage import ObjectStore
from tests.support import restores, tampering

Tamper = Callable[[ObjectStore, str, str], None]

CASES: dict[str, tuple[Tamper, tuple[str, ...]]] = {
    "flipped-byte": (
        lambda store, name, _other: tampering.flip_byte(store, name),
        ("gzip", "checksum mismatch", "damaged", "truncated", "invalid"),
    ),
    "swapped-manifest": (
        tampering.swap_manifest,
        ("ManifestOfAnotherBackup",),
    ),
    "removed-manifest": (
        lambda store, name, _other: tampering.remove_manifest(store, name),
        ("ManifestMissing",),
    ),
    "altered-manifest": (
        lambda store, name, _other: tampering.alter_manifest(store, name),
        ("ManifestAltered",),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_tampered_backup_fails_and_restores_nothing(
    case: str,
    kube: KubeClient,
    fs_store: ObjectStore,
    namespace: str,
    fresh_namespace: Callable[[str], str],
) -> None:
    for i in range(20):
        restores.create(kube, restores.config_map(f"cm-{i}", {"k": "v" * 500}), namespace=namespace)
    name = restores.back_up(kube, fs_store, namespace)
    other = restores.back_up(kube, fs_store, namespace)
    tamper, causes = CASES[case]
    tamper(fs_store, name, other)
    target = fresh_namespace("tampered")

    result = restores.run_restore(kube, fs_store, name, namespace_mapping={namespace: target})

    assert result.phase is RestorePhase.FAILED
    assert result.failure_reason is not None
    assert "nothing restored" in result.failure_reason
    assert any(cause in result.failure_reason for cause in causes), result.failure_reason
    assert list(result.outcomes) == []
    assert restores.get(kube, f"/api/v1/namespaces/{target}") is None


def test_an_untampered_backup_restores_without_a_manifest_warning(
    kube: KubeClient,
    fs_store: ObjectStore,
    namespace: str,
    fresh_namespace: Callable[[str], str],
) -> None:
    restores.create(kube, restores.config_map("cm", {"k": "v"}), namespace=namespace)
    name = restores.back_up(kube, fs_store, namespace)
    target = fresh_namespace("intact")

    result = restores.run_restore(kube, fs_store, name, namespace_mapping={namespace: target})

    assert result.phase is RestorePhase.COMPLETED, result.failure_reason
    assert not [w for w in result.issues.warnings if "manifest" in str(w)]
