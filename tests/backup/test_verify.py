"""Verifying a stored backup: a fresh one passes with every checksum matched; a tampered one
(flipped byte, another backup's manifest, no manifest, altered manifest, a resource list that
lies) fails with the reason named; a Velero-written one passes on everything it can be checked
for; the record keeps the manifest's digest."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from ark import archive, crypto, persistence
from ark.archive import checkpool
from ark.backup import verify
from ark.kube import KubeClient
from ark.storage import ObjectStore
from tests.archive.crafting import VELERO_BACKUP
from tests.support import restores, segments, tampering


@pytest.fixture
def backed_up(kube: KubeClient, fs_store: ObjectStore, namespace: str) -> str:
    for i in range(3):
        restores.create(kube, restores.config_map(f"cm-{i}", {"k": str(i)}), namespace=namespace)
    return restores.back_up(kube, fs_store, namespace)


def _reasons(result: verify.Verification) -> set[str]:
    return {p.reason for p in result.problems}


def test_a_fresh_backup_verifies_with_every_checksum(backed_up: str, fs_store: ObjectStore) -> None:
    result = verify.run(persistence.BackupStore(fs_store), backed_up)

    assert result.ok, result.problems
    assert result.reason == "Verified"
    assert result.items >= 4  # the namespace and its ConfigMaps
    assert result.checksummed == result.items
    assert result.bytes > 0
    status = result.status()
    assert status["verified"] is True
    assert status["items"] == result.items
    assert status["problems"] is None


def test_the_record_keeps_the_stored_manifests_digest(
    backed_up: str, fs_store: ObjectStore
) -> None:
    record = persistence.BackupStore(fs_store).record(backed_up)
    stored = tampering.read(fs_store, tampering.keys(backed_up).manifest)

    assert persistence.manifest_digest_of(record) == hashlib.sha256(stored).hexdigest()


def test_a_flipped_byte_in_the_archive_fails(backed_up: str, fs_store: ObjectStore) -> None:
    tampering.flip_byte(fs_store, backed_up)

    result = verify.run(persistence.BackupStore(fs_store), backed_up)

    assert not result.ok
    assert _reasons(result) & {"CorruptArchive", "ChecksumMismatch"}, result.problems


def test_another_backups_manifest_fails(
    backed_up: str, kube: KubeClient, fs_store: ObjectStore, namespace: str
) -> None:
    other = restores.back_up(kube, fs_store, namespace)
    tampering.swap_manifest(fs_store, backed_up, other)

    result = verify.run(persistence.BackupStore(fs_store), backed_up)

    assert result.reason == "ManifestOfAnotherBackup"
    assert other in str(result.problems[0])


def test_a_removed_manifest_fails(backed_up: str, fs_store: ObjectStore) -> None:
    tampering.remove_manifest(fs_store, backed_up)

    result = verify.run(persistence.BackupStore(fs_store), backed_up)

    assert result.reason == "ManifestMissing"
    assert result.checksummed == 0
    assert result.items >= 4  # the archive is still walked and parsed


def test_an_altered_manifest_fails(backed_up: str, fs_store: ObjectStore) -> None:
    tampering.alter_manifest(fs_store, backed_up)

    result = verify.run(persistence.BackupStore(fs_store), backed_up)

    assert result.reason == "ManifestAltered"
    assert "the record keeps" in str(result.problems[0])


def test_a_resource_list_that_lies_fails(backed_up: str, fs_store: ObjectStore) -> None:
    store = persistence.BackupStore(fs_store)
    listing = store.resource_list(backed_up)
    listing["v1/ConfigMap"] = [*listing["v1/ConfigMap"], "elsewhere/ghost"]
    fs_store.put(tampering.keys(backed_up).resource_list, archive.encode_resource_list(listing))

    result = verify.run(store, backed_up)

    assert result.reason == "ResourceListMismatch"
    assert "elsewhere/ghost" in str(result.problems[0])


def test_a_missing_backup_fails(fs_store: ObjectStore) -> None:
    result = verify.run(persistence.BackupStore(fs_store), "never-written")

    assert result.reason == "RecordMissing"


def test_a_velero_backup_verifies_without_checksums(fs_store: ObjectStore) -> None:
    for path in sorted(Path(VELERO_BACKUP).iterdir()):
        fs_store.put(f"backups/{VELERO_BACKUP.name}/{path.name}", path.read_bytes())

    result = verify.run(persistence.BackupStore(fs_store), VELERO_BACKUP.name)

    assert result.ok, result.problems
    assert result.items > 0
    assert result.checksummed == 0
    assert "no ark manifest" in result.summary()


# -- a backup in segments, checked in worker processes ---------------------------------------


@pytest.fixture
def in_segments(
    kube: KubeClient, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> Callable[[ObjectStore | persistence.BackupStore], str]:
    """Backs ``namespace`` (40 ConfigMaps of 1 KB) up in segments of 4 KiB of tar, verified
    as on a machine of 3 CPUs whatever this one has."""
    segments.small_segments(monkeypatch, 4 * 1024)
    segments.slower_here(monkeypatch, 0.05)
    monkeypatch.setattr(checkpool, "usable_cpus", lambda: 3)
    for i in range(40):
        data = {"v": f"{i}" * 1000}
        restores.create(kube, restores.config_map(f"cm-{i}", data), namespace=namespace)
    return lambda store: restores.back_up(kube, store, namespace)


def test_a_backup_in_segments_verifies_in_worker_processes(
    in_segments: Callable[[ObjectStore | persistence.BackupStore], str], store: ObjectStore
) -> None:
    name = in_segments(store)
    backups = persistence.BackupStore(store)
    manifest = backups.manifest(name)
    assert manifest is not None and len(manifest.segments) > 3

    result = verify.run(backups, name)

    assert result.ok, result.problems
    assert result.checksummed == result.items >= 41
    assert result.workers >= 1 and result.workers_peak_rss > 0


def test_an_encrypted_backup_in_segments_verifies_in_worker_processes(
    in_segments: Callable[[ObjectStore | persistence.BackupStore], str], s3_store: ObjectStore
) -> None:
    """The segments' offsets are the plaintext archive's: the stream is decrypted on the way."""
    key = crypto.SecretKey("k1", os.urandom(32))
    backups = persistence.BackupStore(
        s3_store, keyring=crypto.Keyring({"k1": key}, current="k1", where="test location")
    )
    name = in_segments(backups)

    result = verify.run(backups, name)

    assert result.ok, result.problems
    assert result.checksummed == result.items >= 41 and result.workers >= 1


def test_a_changed_item_in_a_middle_segment_fails_with_its_path(
    in_segments: Callable[[ObjectStore | persistence.BackupStore], str], fs_store: ObjectStore
) -> None:
    name = in_segments(fs_store)
    backups = persistence.BackupStore(fs_store)
    manifest = backups.manifest(name)
    assert manifest is not None
    tampering.change_item_in_segment(fs_store, name, 2)

    result = verify.run(backups, name)

    assert result.reason == "ChecksumMismatch"
    path = manifest.compact_items.path(manifest.segments[2].first_item)
    assert path in str(result.problems[0])
