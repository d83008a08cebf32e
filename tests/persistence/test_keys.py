"""The object-store keys of a backup and a restore: Velero's layout, names checked."""

from __future__ import annotations

import pytest

from ark import archive, persistence


def test_backup_keys_follow_velero_layout() -> None:
    keys = persistence.BackupKeys(archive.backup_name("nightly-1"))
    assert keys.prefix == "backups/nightly-1/"
    assert keys.metadata == "backups/nightly-1/velero-backup.json"
    assert keys.contents == "backups/nightly-1/nightly-1.tar.gz"
    assert keys.logs == "backups/nightly-1/nightly-1-logs.gz"
    assert keys.volume_snapshots == "backups/nightly-1/nightly-1-volumesnapshots.json.gz"
    assert keys.resource_list == "backups/nightly-1/nightly-1-resource-list.json.gz"
    assert keys.results == "backups/nightly-1/nightly-1-results.gz"
    assert keys.manifest == "backups/nightly-1/nightly-1-manifest.json.gz"


def test_restore_keys_follow_velero_layout() -> None:
    keys = persistence.RestoreKeys(archive.restore_name("r1"))
    assert keys.prefix == "restores/r1/"
    assert keys.logs == "restores/r1/restore-r1-logs.gz"
    assert keys.results == "restores/r1/restore-r1-results.gz"


def test_backup_keys_validate_their_name() -> None:
    with pytest.raises(archive.InvalidName, match="DNS-1123 subdomain"):
        persistence.BackupKeys(archive.BackupName("../etc"))
