"""Errors raised while writing or reading a backup archive. Every message names the entry."""

from __future__ import annotations


class ArchiveError(Exception):
    """Base class of archive errors."""


class InvalidName(ArchiveError, ValueError):
    """A backup, restore, namespace, resource or object name that cannot be stored."""

    def __init__(self, what: str, value: str, reason: str) -> None:
        super().__init__(f"invalid {what} {value!r}: {reason}")
        self.what = what
        self.value = value
        self.reason = reason

    def __reduce__(self) -> tuple[type[InvalidName], tuple[str, str, str]]:
        return (type(self), (self.what, self.value, self.reason))


class DuplicateItem(ArchiveError):
    """The same object was added to one archive twice."""

    def __init__(self, path: str) -> None:
        super().__init__(f"backup archive entry {path!r}: added twice")
        self.path = path

    def __reduce__(self) -> tuple[type[DuplicateItem], tuple[str]]:
        return (type(self), (self.path,))


class WriterClosed(ArchiveError):
    """An item was added after the archive was closed or aborted."""


class InvalidArchive(ArchiveError):
    """A backup archive that must not be restored from. ``entry`` is the tar path (or None when
    the problem is the archive as a whole), ``cause`` says what is wrong with it."""

    def __init__(self, entry: str | None, cause: str) -> None:
        where = f"backup archive entry {entry!r}" if entry is not None else "backup archive"
        super().__init__(f"{where}: {cause}")
        self.entry = entry
        self.cause = cause

    def __reduce__(self) -> tuple[type[InvalidArchive], tuple[str | None, str]]:
        """Raised in a worker process of a parallel check, and pickled back."""
        return (type(self), (self.entry, self.cause))


class HostileArchive(InvalidArchive):
    """An archive that tries to escape or exhaust: traversal, links, devices, oversized items."""


class CorruptArchive(InvalidArchive):
    """An archive that is damaged or inconsistent: bad gzip, bad JSON, checksum mismatch."""
