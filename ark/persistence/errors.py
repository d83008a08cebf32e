"""Errors of the persistence layer. Every message names the file and the cause."""

from __future__ import annotations

import datetime as dt

from ark.storage.errors import StoreError
from ark.storage.interface import Retention


class StoredFileError(StoreError):
    """A file kept next to a backup or a restore that cannot be used: larger than its limit,
    or garbage (bad gzip, bad JSON, wrong shape). A StoreError, so whatever gives up on an
    unreachable store gives up on an unreadable file too."""

    def __init__(self, key: str, what: str, cause: str) -> None:
        super().__init__(f"{what} ({key}): {cause}")
        self.key = key
        self.what = what
        self.cause = cause


class ManifestMismatch(StoredFileError):
    """ark's manifest of a backup is not the one its record names: ``reason`` is
    ``ManifestMissing`` (the record says ark wrote the backup, with a manifest, and there is
    none), ``ManifestOfAnotherBackup`` (it names another backup) or ``ManifestAltered`` (its
    SHA-256 is not the one the record keeps). Such a backup must not be restored."""

    def __init__(self, key: str, what: str, reason: str, cause: str) -> None:
        super().__init__(key, what, cause)
        self.reason = reason


def _ts(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class BackupLocked(StoreError):
    """A backup some of whose objects are under a retention lock that has not ended: nothing of
    it may be deleted (deleting the unlocked ones would leave a broken backup behind)."""

    def __init__(self, name: str, lock: Retention, *, locked: int, total: int) -> None:
        super().__init__(
            f"backup {name} is under {lock.mode} object lock until {_ts(lock.until)} "
            f"({locked} of its {total} objects): it cannot be deleted before then; "
            "nothing was deleted"
        )
        self.name = name
        self.lock = lock
