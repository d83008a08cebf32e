"""Errors of the persistence layer. Every message names the file and the cause."""

from __future__ import annotations

from ark.storage.errors import StoreError


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
