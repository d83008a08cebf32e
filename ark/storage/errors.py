"""Errors raised by object stores. Every message names the store and the key or setting."""

from __future__ import annotations


class StoreError(Exception):
    """Base class of object-store errors."""


class ObjectNotFound(StoreError):
    def __init__(self, store: str, key: str) -> None:
        super().__init__(f"{store}: object {key!r} not found")
        self.key = key


class StoreConfigError(StoreError):
    """A BackupStorageLocation's provider, bucket, config key or credentials are invalid."""

    def __init__(self, setting: str, reason: str) -> None:
        super().__init__(f"invalid storage configuration {setting!r}: {reason}")
        self.setting = setting


class StoreAccessDenied(StoreError):
    """The credentials were refused."""


class BucketNotFound(StoreError):
    """The bucket, container or directory does not exist."""


class StoreUnavailable(StoreError):
    """The service could not be reached or failed."""


class InvalidKey(StoreError):
    """A key that could escape the store (``..``, absolute, symlinks) or is otherwise invalid."""


class RetentionUnsupported(StoreError):
    """The provider or bucket cannot lock objects against deletion."""


class ObjectLocked(StoreError):
    """A delete was refused because the object is under a retention lock."""
