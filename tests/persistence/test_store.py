"""A backup's and a restore's files written through BackupStore read back the same, in
Velero's layout; deleting them leaves nothing."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
from collections.abc import Iterator

from ark import archive, persistence
from ark.api.backup import BackupPhase, BackupSpec
from ark.persistence import BackupStore, SnapshotRecord
from ark.report import RunLog
from ark.storage import ObjectStore
from tests.archive.crafting import add_config_map


def _manifest() -> archive.Manifest:
    with archive.ArchiveWriter(io.BytesIO(), backup_name="b1") as w:
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


def _record() -> dict[str, object]:
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
        cluster_uid="uid-1",
    )
    return persistence.backup_record("b1", BackupSpec(), status)


def test_a_complete_backup_reads_back_and_is_deleted_record_first(store: ObjectStore) -> None:
    backups = BackupStore(store)
    snapshot = SnapshotRecord("pv-1", "ebs", "aws", "eu-west-1", "vol-1", "snap-1", "Completed")
    with backups.open_archive_write("b1") as sink:
        sink.write(b"archive bytes")
    with _log("done") as log:
        backups.put_backup(
            "b1",
            results={"errors": {}},
            log=log,
            complete=persistence.CompleteBackup(
                manifest=_manifest(), snapshots=[snapshot], record=_record()
            ),
        )
    keys = {info.key for info in store.list("backups/b1/")}
    assert keys == {
        "backups/b1/velero-backup.json",
        "backups/b1/b1.tar.gz",
        "backups/b1/b1-results.gz",
        "backups/b1/b1-logs.gz",
        "backups/b1/b1-volumesnapshots.json.gz",
        "backups/b1/b1-manifest.json.gz",
        "backups/b1/b1-resource-list.json.gz",
    }
    assert backups.backup_names() == {"b1"}
    record = backups.complete_record("b1")
    assert record is not None
    assert persistence.writer_of(record) == "uid-1"
    assert backups.backup_results("b1") == {"errors": {}}
    assert b'"msg":"done"' in backups.backup_log("b1")
    assert [r.snapshot_id for r in backups.snapshots("b1")] == ["snap-1"]
    assert backups.manifest("b1") == _manifest()
    assert backups.resource_list("b1") == {"v1/ConfigMap": ["shop/settings"]}
    with backups.open_archive("b1") as src:
        assert src.read() == b"archive bytes"
    assert backups.delete_backup("b1") == 6  # the record goes first, uncounted
    assert not backups.has_files("b1")
    assert backups.backup_names() == set()


def test_an_incomplete_backup_keeps_results_and_log_only(store: ObjectStore) -> None:
    backups = BackupStore(store)
    with _log("failed") as log:
        backups.put_backup("b2", results={"errors": {}}, log=log)
    assert {info.key for info in store.list("backups/b2/")} == {
        "backups/b2/b2-results.gz",
        "backups/b2/b2-logs.gz",
    }
    assert backups.complete_record("b2") is None


def test_a_restores_files_read_back_and_go(store: ObjectStore) -> None:
    backups = BackupStore(store)
    with _log("line") as log:
        outcomes = ({"name": f"cm-{i}", "outcome": "created"} for i in range(3))
        backups.put_restore(
            "r1", results={"summary": {"phase": "Completed"}}, log=log, outcomes=outcomes
        )
    assert {info.key for info in store.list("restores/r1/")} == {
        "restores/r1/restore-r1-results.gz",
        "restores/r1/restore-r1-logs.gz",
    }
    assert backups.restore_results("r1") == {
        "summary": {"phase": "Completed"},
        "outcomes": [{"name": f"cm-{i}", "outcome": "created"} for i in range(3)],
    }
    assert b'"msg":"line"' in backups.restore_log("r1")
    assert backups.delete_restore("r1") == 2
    assert not any(True for _ in store.list("restores/r1/"))
