"""A location's encryption: every file of a backup but its record is stored encrypted and
reads back the same; the record keeps the key id, the wrapped data key and an HMAC; a key no
longer listed, an altered record, a file from another backup or a plaintext file are refused,
naming the key id and the location."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import io
import os
from collections.abc import Iterator

import orjson
import pytest

from ark import archive, crypto, persistence
from ark.api.backup import BackupPhase, BackupSpec
from ark.persistence import BackupStore, EncryptionError, SnapshotRecord
from ark.report import RunLog
from ark.storage import ObjectStore
from tests.archive.crafting import add_config_map

WHERE = "BackupStorageLocation default"
KEY_A, KEY_B = os.urandom(32), os.urandom(32)
MARKER = b"archive bytes: s3cr3t-value"


def _ring(*ids: str, current: str | None = None) -> crypto.Keyring:
    material = {"a": KEY_A, "b": KEY_B}
    keys = {i: crypto.SecretKey(i, material[i]) for i in ids}
    return crypto.Keyring(keys, current=current or (ids[-1] if ids else None), where=WHERE)


def _manifest(name: str) -> archive.Manifest:
    with archive.ArchiveWriter(io.BytesIO(), backup_name=name) as w:
        add_config_map(w, "settings", namespace="shop")
    return w.manifest


@contextlib.contextmanager
def _log(line: str) -> Iterator[RunLog]:
    log = RunLog("test")
    log.info(line)
    try:
        yield log
    finally:
        log.close()


def _record(name: str) -> dict[str, object]:
    now = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)
    status = persistence.RecordStatus(
        phase=BackupPhase.COMPLETED,
        started=now,
        completed=now,
        expiration=None,
        total_items=1,
        items_backed_up=1,
        warnings=0,
        errors=0,
    )
    return persistence.backup_record(name, BackupSpec(), status)


def _write(backups: BackupStore, name: str) -> None:
    snapshot = SnapshotRecord("pv-1", "ebs", "aws", "eu-west-1", "vol-1", "snap-1", "Completed")
    with backups.open_archive_write(name) as sink:
        sink.write(MARKER)
    with _log("done: s3cr3t-log") as log:
        backups.put_backup(
            name,
            results={"errors": {}, "note": "s3cr3t-result"},
            log=log,
            complete=persistence.CompleteBackup(
                manifest=_manifest(name), snapshots=[snapshot], record=_record(name)
            ),
        )


def _read_all(backups: BackupStore, name: str) -> None:
    document = backups.record(name)
    stored = backups.checked_manifest(name, document)
    assert stored is not None
    assert stored.manifest == _manifest(name)
    assert backups.backup_results(name)["note"] == "s3cr3t-result"
    assert b"s3cr3t-log" in backups.backup_log(name)
    assert [r.snapshot_id for r in backups.snapshots(name)] == ["snap-1"]
    assert backups.resource_list(name) == {"v1/ConfigMap": ["shop/settings"]}
    with backups.open_archive(name) as src:
        assert src.read() == MARKER


def test_every_file_but_the_record_is_encrypted_and_reads_back(store: ObjectStore) -> None:
    backups = BackupStore(store, keyring=_ring("a"))
    _write(backups, "b1")
    for info in store.list("backups/b1/"):
        data = store.get(info.key)
        if info.key.endswith("velero-backup.json"):
            assert not crypto.is_encrypted(data)
            continue
        assert crypto.is_encrypted(data), info.key
        for plain in (b"s3cr3t", base64.b64encode(b"s3cr3t-value"), b"settings", b"snap-1"):
            assert plain not in data, info.key
    document = backups.record("b1")
    annotations = document["metadata"]["annotations"]
    assert orjson.loads(annotations[persistence.ENCRYPTION_ANNOTATION])["keyId"] == "a"
    assert persistence.RECORD_MAC_ANNOTATION in annotations
    _read_all(backups, "b1")


def test_a_backup_whose_key_is_no_longer_listed_is_refused_naming_it(store: ObjectStore) -> None:
    _write(BackupStore(store, keyring=_ring("a")), "b1")
    backups = BackupStore(store, keyring=_ring("b"))
    document = backups.record("b1")  # sync needs no key
    with pytest.raises(EncryptionError) as caught:
        backups.checked_manifest("b1", document)
    assert caught.value.reason == "KeyUnavailable"
    assert "key 'a'" in str(caught.value)
    assert WHERE in str(caught.value)
    with pytest.raises(EncryptionError, match="key 'a'"), backups.open_archive("b1") as src:
        src.read()
    with pytest.raises(EncryptionError, match="key 'a'"):
        backups.backup_log("b1")


def test_a_location_without_keys_says_it_has_none(store: ObjectStore) -> None:
    _write(BackupStore(store, keyring=_ring("a")), "b1")
    with pytest.raises(EncryptionError, match="key 'a', but this storage location has no"):
        BackupStore(store).backup_results("b1")


def test_rotation_an_old_backup_reads_while_its_key_is_listed(store: ObjectStore) -> None:
    _write(BackupStore(store, keyring=_ring("a")), "old")
    rotated = BackupStore(store, keyring=_ring("a", "b", current="b"))
    _write(rotated, "new")
    assert persistence.sealed_of(rotated.record("new")).key_id == "b"
    assert persistence.sealed_of(rotated.record("old")).key_id == "a"
    _read_all(rotated, "old")
    _read_all(rotated, "new")


def test_a_plaintext_backup_still_reads_with_keys(store: ObjectStore) -> None:
    _write(BackupStore(store), "plain")
    _read_all(BackupStore(store, keyring=_ring("a")), "plain")


def test_an_altered_record_is_refused(store: ObjectStore) -> None:
    backups = BackupStore(store, keyring=_ring("a"))
    _write(backups, "b1")
    document = backups.record("b1")
    document["status"]["errors"] = 0
    document["status"]["warnings"] = 7
    with pytest.raises(EncryptionError) as caught:
        backups.checked_manifest("b1", document)
    assert caught.value.reason == "RecordAltered"


def test_a_file_of_another_backup_is_refused(store: ObjectStore) -> None:
    backups = BackupStore(store, keyring=_ring("a"))
    _write(backups, "b1")
    _write(backups, "b2")
    store.put("backups/b1/b1-logs.gz", store.get("backups/b2/b2-logs.gz"))
    with pytest.raises(EncryptionError, match="another backup's data key"):
        backups.backup_log("b1")


def test_an_earlier_backup_of_the_same_name_cannot_lend_its_files(store: ObjectStore) -> None:
    _write(BackupStore(store, keyring=_ring("a")), "b1")
    earlier = store.get("backups/b1/b1.tar.gz")
    _write(BackupStore(store, keyring=_ring("a")), "b1")  # a new data key
    store.put("backups/b1/b1.tar.gz", earlier)
    backups = BackupStore(store, keyring=_ring("a"))
    with pytest.raises(EncryptionError) as caught, backups.open_archive("b1") as src:
        src.read()
    assert caught.value.reason == "Undecryptable"


def test_a_plaintext_file_in_an_encrypted_backup_is_refused(store: ObjectStore) -> None:
    backups = BackupStore(store, keyring=_ring("a"))
    _write(backups, "b1")
    plain = BackupStore(store)
    with _log("forged") as log:
        plain.put_backup("b1", results={"errors": {}}, log=log)
    with pytest.raises(EncryptionError, match="not encrypted, but the record says"):
        backups.backup_results("b1")


def test_a_flipped_byte_in_the_archive_is_refused(store: ObjectStore) -> None:
    backups = BackupStore(store, keyring=_ring("a"))
    _write(backups, "b1")
    data = bytearray(store.get("backups/b1/b1.tar.gz"))
    data[-5] ^= 1
    store.put("backups/b1/b1.tar.gz", bytes(data))
    with (
        pytest.raises(EncryptionError, match="fails authentication"),
        backups.open_archive("b1") as src,
    ):
        src.read()


def test_a_failed_backups_results_and_log_are_encrypted(store: ObjectStore) -> None:
    backups = BackupStore(store, keyring=_ring("a"))
    with _log("failed: s3cr3t") as log:
        backups.put_backup("b2", results={"errors": {"x": "s3cr3t"}}, log=log)
    for info in store.list("backups/b2/"):
        assert b"s3cr3t" not in store.get(info.key)
    assert b"s3cr3t" in backups.backup_log("b2")
    assert backups.backup_results("b2")["errors"] == {"x": "s3cr3t"}


def test_a_restores_files_are_encrypted(store: ObjectStore) -> None:
    backups = BackupStore(store, keyring=_ring("a"))
    with _log("restored s3cr3t") as log:
        outcomes = iter([{"name": "s3cr3t-cm", "outcome": "created"}])
        backups.put_restore("r1", results={"note": "s3cr3t"}, log=log, outcomes=outcomes)
    for info in store.list("restores/r1/"):
        assert b"s3cr3t" not in store.get(info.key)
    assert backups.restore_results("r1") == {
        "note": "s3cr3t",
        "outcomes": [{"name": "s3cr3t-cm", "outcome": "created"}],
    }
    assert b"restored s3cr3t" in backups.restore_log("r1")


def test_a_record_stripped_of_its_encryption_is_refused(store: ObjectStore) -> None:
    backups = BackupStore(store, keyring=_ring("a"))
    _write(backups, "b1")
    document = backups.record("b1")
    del document["metadata"]["annotations"][persistence.ENCRYPTION_ANNOTATION]
    del document["metadata"]["annotations"][persistence.RECORD_MAC_ANNOTATION]
    store.put("backups/b1/velero-backup.json", orjson.dumps(document))
    with pytest.raises(EncryptionError, match="record names no encryption"):
        backups.checked_manifest("b1", document)
    with pytest.raises(EncryptionError, match="record names no encryption"):
        backups.backup_log("b1")
