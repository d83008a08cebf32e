"""A backup written with a retention has every object locked, the record too; deleting it
while any object is locked is refused before anything is deleted."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest

from ark import persistence, storage
from ark.persistence import BackupStore
from ark.report import RunLog
from ark.storage import ObjectStore, Retention, StoreLocation
from tests.conftest import S3Server, s3_location
from tests.persistence.test_store import _manifest, _record
from tests.storage import backends

DAY = dt.timedelta(days=1)


def _write(backups: BackupStore, *, retention: Retention | None) -> None:
    with backups.open_archive_write("b1") as sink:
        sink.write(b"archive bytes")
    log = RunLog("test")
    log.info("done")
    try:
        backups.put_backup(
            "b1",
            results={"errors": {}},
            log=log,
            complete=persistence.CompleteBackup(
                manifest=_manifest(), snapshots=[], record=_record()
            ),
            retention=retention,
        )
    finally:
        log.close()


def _governance(days: int = 1) -> Retention:
    until = dt.datetime.now(dt.UTC).replace(microsecond=0) + days * DAY
    return Retention(mode="Governance", until=until)


@pytest.fixture
def locked_store(minio: S3Server, locked_bucket: str) -> ObjectStore:
    return storage.open_store(s3_location(minio, locked_bucket))


@pytest.fixture
def gcs_store(fake_gcs: str) -> Iterator[ObjectStore]:
    backend = backends.GcsBackend(endpoint=fake_gcs)
    try:
        yield storage.open_store(backend.new_location(retention=True))
    finally:
        backend.cleanup()


def _keys(store: ObjectStore) -> list[str]:
    return sorted(o.key for o in store.list("backups/b1/"))


def test_every_object_of_a_backup_is_locked_on_minio(
    minio: S3Server, locked_bucket: str, locked_store: ObjectStore
) -> None:
    backups = BackupStore(locked_store)
    lock = _governance()
    _write(backups, retention=lock)
    s3: Any = minio.client()
    found = _keys(locked_store)
    assert "backups/b1/velero-backup.json" in found
    assert "backups/b1/b1.tar.gz" in found
    assert len(found) == 7  # record, archive, results, log, snapshots, manifest, resources
    for key in found:
        head = s3.head_object(Bucket=locked_bucket, Key=f"cluster-a/{key}")
        assert head["ObjectLockMode"] == "GOVERNANCE", key
        assert head["ObjectLockRetainUntilDate"] == lock.until, key
    assert backups.active_lock("b1") == lock


def test_deleting_a_locked_backup_is_refused_and_every_object_stays(
    minio: S3Server, locked_bucket: str, locked_store: ObjectStore
) -> None:
    backups = BackupStore(locked_store)
    lock = _governance()
    _write(backups, retention=lock)
    before = _keys(locked_store)
    until = lock.until.isoformat().replace("+00:00", "Z")
    with pytest.raises(
        persistence.BackupLocked, match=re.escape(f"Governance object lock until {until}")
    ):
        backups.delete_backup("b1")
    assert _keys(locked_store) == before
    s3: Any = minio.client()
    markers = s3.list_object_versions(Bucket=locked_bucket).get("DeleteMarkers", [])
    assert markers == []  # nothing hidden behind a delete marker either


def test_one_locked_object_keeps_the_whole_backup(locked_store: ObjectStore) -> None:
    """The record is deleted first; it is not locked here, the archive is: the refusal must
    come before the record goes."""
    backups = BackupStore(locked_store)
    _write(backups, retention=None)
    lock = _governance(2)
    locked_store.lock("backups/b1/b1.tar.gz", until=lock.until, mode=lock.mode)
    before = _keys(locked_store)
    with pytest.raises(persistence.BackupLocked, match=r"1 of its 7 objects"):
        backups.delete_backup("b1")
    assert _keys(locked_store) == before
    assert backups.has_record("b1")


def test_a_backup_whose_lock_ended_is_deleted(locked_store: ObjectStore) -> None:
    backups = BackupStore(locked_store)
    _write(backups, retention=None)
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
    locked_store.lock("backups/b1/b1.tar.gz", until=soon, mode="Governance")
    assert backups.active_lock("b1") is not None
    assert backups.active_lock("b1", now=soon + dt.timedelta(seconds=1)) is None


def test_an_unlocked_backup_on_a_locking_bucket_is_deleted(locked_store: ObjectStore) -> None:
    backups = BackupStore(locked_store)
    _write(backups, retention=None)
    assert backups.active_lock("b1") is None
    backups.delete_backup("b1")
    assert _keys(locked_store) == []


def test_every_object_of_a_backup_is_locked_on_fake_gcs(gcs_store: ObjectStore) -> None:
    """fake-gcs-server stores object retention (ark refuses the delete; the server does not)."""
    backups = BackupStore(gcs_store)
    lock = _governance()
    _write(backups, retention=lock)
    for key in _keys(gcs_store):
        found = gcs_store.retention(key)
        assert found is not None and found.mode == "Governance", key
        assert abs((found.until - lock.until).total_seconds()) < 1, key
    before = _keys(gcs_store)
    with pytest.raises(persistence.BackupLocked, match="Governance object lock"):
        backups.delete_backup("b1")
    assert _keys(gcs_store) == before


@pytest.mark.parametrize("where", ["azurite", "fs", "unlocked-minio"])
def test_a_store_that_cannot_lock_leaves_no_complete_backup(
    where: str, request: pytest.FixtureRequest, tmp_path: Any
) -> None:
    """Azurite answers immutability policies with APINotImplemented; fs and a bucket created
    without Object Lock cannot lock: the backup fails and its record is not left behind."""
    if where == "azurite":
        backend: backends.Backend = backends.AzureBackend(server=request.getfixturevalue("azurite"))
        location: StoreLocation = backend.new_location()
    elif where == "fs":
        backend = backends.new_fs_backend()
        location = backend.new_location()
    else:
        minio: S3Server = request.getfixturevalue("minio")
        location = s3_location(minio, request.getfixturevalue("s3_bucket"))
        backend = backends.new_fs_backend()  # nothing of its own to clean
    try:
        backups = BackupStore(storage.open_store(location))
        with pytest.raises(storage.RetentionUnsupported):
            _write(backups, retention=_governance())
        assert not backups.has_record("b1")
    finally:
        backend.cleanup()
