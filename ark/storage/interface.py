"""The contract every object-store provider implements.

Keys are '/'-separated relative paths inside the store's bucket and prefix. Providers are found
through the entry-point group ``ark.object_stores``; each entry point names a factory
``(location: StoreLocation) -> ObjectStore``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import BinaryIO, Literal, Protocol, runtime_checkable

DEFAULT_PART_SIZE = 16 * 1024 * 1024


@dataclass(frozen=True)
class StoreLocation:
    """Where a store lives: what a BackupStorageLocation says, with its credentials resolved.

    ``config`` holds provider-specific keys (e.g. ``s3Url``, ``region``, ``s3ForcePathStyle``);
    ``credentials`` holds the decoded keys of the credential Secret. Credentials are never
    included in ``repr`` so they cannot leak into logs.
    """

    provider: str
    bucket: str
    prefix: str = ""
    config: Mapping[str, str] = field(default_factory=dict)
    credentials: Mapping[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int


RetentionMode = Literal["Governance", "Compliance"]
"""S3's names. Governance: a principal with a bypass permission may still delete (S3
GOVERNANCE; Azure and GCS "Unlocked", whose policy can be shortened or removed). Compliance:
nobody can delete before the end (S3 COMPLIANCE; Azure and GCS "Locked")."""


@dataclass(frozen=True)
class Retention:
    """An object's retention, as the store reports it."""

    mode: RetentionMode
    until: dt.datetime
    """Timezone-aware; the object cannot be deleted before it."""

    def active(self, now: dt.datetime) -> bool:
        return self.until > now


@dataclass(frozen=True)
class Listing:
    """One level of a listing: objects directly under a prefix and the sub-prefixes below it."""

    objects: list[ObjectInfo]
    prefixes: list[str]


class Writer(Protocol):
    """A streaming upload. Closing the context commits; an exception inside it aborts, so a
    reader never sees a partial object under the key."""

    def write(self, data: bytes | bytearray | memoryview, /) -> int: ...


@runtime_checkable
class ObjectStore(Protocol):
    """A bucket (or container, or directory) plus an optional key prefix."""

    @property
    def location(self) -> StoreLocation: ...

    def open_write(self, key: str) -> AbstractContextManager[Writer]:
        """Stream an object in; memory use is bounded by the part size, not the object size."""
        ...

    def put(self, key: str, data: bytes | BinaryIO | Iterable[bytes]) -> None:
        """Write a whole object from bytes, a readable binary file, or an iterator of chunks."""
        ...

    def open_read(self, key: str) -> AbstractContextManager[BinaryIO]:
        """Stream an object out. Raises ObjectNotFound for a missing key."""
        ...

    def get(self, key: str) -> bytes:
        """A small object, whole. Raises ObjectNotFound for a missing key."""
        ...

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix``, recursively, paging as needed."""
        ...

    def list_level(self, prefix: str = "") -> Listing:
        """Objects and common prefixes one level below ``prefix`` (which should end in '/')."""
        ...

    def delete(self, key: str) -> None:
        """Delete an object; deleting a missing key is not an error."""
        ...

    def download_url(self, key: str, *, ttl: dt.timedelta) -> str | None:
        """A time-limited URL to fetch the object, or None where the provider has none."""
        ...

    def lock(self, key: str, *, until: dt.datetime, mode: RetentionMode | None = None) -> None:
        """Make the object undeletable until ``until`` (retention lock), in ``mode`` (None: the
        location's ``retentionMode`` setting). Raises RetentionUnsupported where the provider
        or bucket cannot."""
        ...

    def retention(self, key: str) -> Retention | None:
        """The object's retention (expired or not), or None when it has none or the provider
        keeps none. Raises ObjectNotFound for a missing key."""
        ...

    def check_locking(self) -> None:
        """Raise RetentionUnsupported naming the cause when the bucket cannot lock objects
        (S3 Object Lock off, no version-level immutability, no object retention); return when
        it can or when these credentials may not ask (a lock then says so when it is tried)."""
        ...

    def check(self) -> None:
        """Verify the bucket is reachable with these credentials; raise a StoreError naming the
        cause otherwise (used to mark a BackupStorageLocation Available/Unavailable)."""
        ...
