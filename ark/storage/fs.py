"""The filesystem store: a directory stands in for a bucket (an NFS mount, a local disk, tests).

Location: ``bucket`` is an absolute path to an existing directory; ``prefix`` a sub-directory
below it (created on first write). Config: ``fsync`` (default true: file and directory are
synced before a write counts as done). No credentials.

Writes go to a temporary file in the target directory and are renamed over the key, so readers
see the old object or the new one, never a partial one. Keys cannot leave the directory: '..',
absolute keys and symlinks anywhere below the bucket directory are rejected. Retention locks and
download URLs are not available.
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import BinaryIO

from ark.storage import keys, settings, streaming
from ark.storage.errors import (
    BucketNotFound,
    InvalidKey,
    ObjectNotFound,
    RetentionUnsupported,
    StoreAccessDenied,
    StoreConfigError,
    StoreError,
)
from ark.storage.interface import (
    Listing,
    ObjectInfo,
    Retention,
    RetentionMode,
    StoreLocation,
    Writer,
)

TEMP_PREFIX = ".ark-partial-"
"""Names of in-progress writes; hidden from listings and refused as key segments."""


def open_store(location: StoreLocation) -> FsStore:
    config = settings.Settings(location, known={"fsync"})
    root = Path(location.bucket)
    if not root.is_absolute():
        raise StoreConfigError("bucket", f"{location.bucket!r} is not an absolute directory path")
    return FsStore(location, fsync=config.flag("fsync", default=True))


class FsStore:
    def __init__(self, location: StoreLocation, *, fsync: bool) -> None:
        self._location = location
        self._name = keys.describe(location)
        self._root = Path(location.bucket)
        self._prefix = keys.normalize_prefix(location.prefix)
        self._fsync = fsync

    @property
    def location(self) -> StoreLocation:
        return self._location

    def __repr__(self) -> str:
        return f"FsStore({self._name!r})"

    # -- paths -------------------------------------------------------------------------------

    def _require_root(self) -> None:
        if not self._root.is_dir():
            raise BucketNotFound(f"{self._name}: directory {str(self._root)!r} does not exist")

    def _path(self, relative_name: str) -> Path:
        """The path of a provider name (prefix + key), refusing symlinks below the root."""
        path = self._root
        for segment in relative_name.split("/"):
            if segment.startswith(TEMP_PREFIX):
                raise InvalidKey(f"{self._name}: key segment {segment!r} is reserved")
            path = path / segment
            try:
                mode = path.lstat().st_mode
            except FileNotFoundError:
                continue
            except NotADirectoryError:
                break
            if stat.S_ISLNK(mode):
                raise InvalidKey(f"{self._name}: {relative_name!r} passes through a symlink")
        return path

    def _key_path(self, key: str) -> Path:
        return self._path(keys.join(self._prefix, keys.validate(key, store=self._name)))

    # -- writing -----------------------------------------------------------------------------

    def open_write(self, key: str) -> AbstractContextManager[Writer]:
        return self._write(key)

    @contextmanager
    def _write(self, key: str) -> Iterator[Writer]:
        path = self._key_path(key)
        self._require_root()
        fd, tmp = self._temp_file(path.parent)
        with os.fdopen(fd, "wb") as handle:
            try:
                yield handle
                handle.flush()
                if self._fsync:
                    os.fsync(handle.fileno())
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                self._prune(path.parent)
                raise
        try:
            self._key_path(key)  # a symlink may have appeared while writing
            Path(tmp).replace(path)
        except BaseException as exc:
            Path(tmp).unlink(missing_ok=True)
            if isinstance(exc, IsADirectoryError):
                raise StoreError(
                    f"{self._name}: cannot write {key!r}: a prefix of that name holds objects"
                ) from None
            raise
        if self._fsync:
            _fsync_dir(path.parent)

    def _temp_file(self, directory: Path) -> tuple[int, str]:
        for _ in range(5):  # a concurrent delete may prune the directory in between
            try:
                directory.mkdir(parents=True, exist_ok=True)
                return tempfile.mkstemp(prefix=TEMP_PREFIX, dir=directory)
            except FileNotFoundError:
                continue
            except (FileExistsError, NotADirectoryError):
                raise StoreError(
                    f"{self._name}: cannot write below {str(directory)!r}: an object has that name"
                ) from None
            except PermissionError as exc:
                raise StoreAccessDenied(f"{self._name}: {exc.strerror}: {directory}") from None
        raise StoreError(f"{self._name}: directory {str(directory)!r} keeps disappearing")

    def put(self, key: str, data: bytes | BinaryIO | Iterable[bytes]) -> None:
        with self.open_write(key) as writer:
            streaming.copy_into(writer, data)

    # -- reading -----------------------------------------------------------------------------

    def open_read(self, key: str) -> AbstractContextManager[BinaryIO]:
        path = self._key_path(key)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except (FileNotFoundError, NotADirectoryError):
            self._require_root()
            raise ObjectNotFound(self._name, key) from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise InvalidKey(f"{self._name}: {key!r} is a symlink") from None
            raise StoreError(f"{self._name}: cannot read {key!r}: {exc.strerror}") from None
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            os.close(fd)
            raise ObjectNotFound(self._name, key)
        return os.fdopen(fd, "rb")

    def get(self, key: str) -> bytes:
        with self.open_read(key) as handle:
            return handle.read()

    def exists(self, key: str) -> bool:
        path = self._key_path(key)
        if path.is_file():
            return True
        self._require_root()
        return False

    # -- listing -----------------------------------------------------------------------------

    def _listing_dir(self, prefix: str) -> tuple[Path, str, str]:
        """(directory to scan, its store-relative key prefix, name start to match in it)."""
        keys.validate_prefix(prefix, store=self._name)
        self._require_root()
        head, _, start = prefix.rpartition("/")
        base = keys.join(self._prefix, head).rstrip("/")
        directory = self._path(base) if base else self._root
        return directory, f"{head}/" if head else "", start

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        directory, key_prefix, start = self._listing_dir(prefix)
        yield from _walk(directory, key_prefix, start)

    def list_level(self, prefix: str = "") -> Listing:
        directory, key_prefix, start = self._listing_dir(prefix)
        objects: list[ObjectInfo] = []
        prefixes: list[str] = []
        for entry in _entries(directory, start):
            if entry.is_dir(follow_symlinks=False):
                prefixes.append(f"{key_prefix}{entry.name}/")
            else:
                objects.append(ObjectInfo(f"{key_prefix}{entry.name}", entry.stat().st_size))
        return Listing(objects=objects, prefixes=prefixes)

    # -- deleting, locking, checking ---------------------------------------------------------

    def delete(self, key: str) -> None:
        path = self._key_path(key)
        try:
            path.unlink()
        except (FileNotFoundError, NotADirectoryError):
            self._require_root()
            return
        except IsADirectoryError:
            return
        except PermissionError as exc:
            raise StoreAccessDenied(
                f"{self._name}: cannot delete {key!r}: {exc.strerror}"
            ) from None
        self._prune(path.parent)

    def _prune(self, directory: Path) -> None:
        """Remove directories left empty, up to the store's root, so prefixes vanish with their
        last object as they do in a bucket."""
        stop = self._root
        while directory != stop and stop in directory.parents:
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent

    def download_url(self, key: str, *, ttl: dt.timedelta) -> str | None:
        keys.validate(key, store=self._name)
        return None

    def lock(self, key: str, *, until: dt.datetime, mode: RetentionMode | None = None) -> None:
        raise RetentionUnsupported(f"{self._name}: a filesystem store cannot lock {key!r}")

    def check_locking(self) -> None:
        raise RetentionUnsupported(f"{self._name}: a filesystem store cannot lock objects")

    def retention(self, key: str) -> Retention | None:
        if not self.exists(key):
            raise ObjectNotFound(self._name, key)
        return None  # a filesystem keeps no retention

    def check(self) -> None:
        self._require_root()
        if not os.access(self._root, os.W_OK | os.X_OK):
            raise StoreAccessDenied(f"{self._name}: directory {str(self._root)!r} is not writable")


def _entries(directory: Path, start: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as scan:
            found = [
                e
                for e in scan
                if e.name.startswith(start)
                and not e.name.startswith(TEMP_PREFIX)
                and not e.is_symlink()
            ]
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(found, key=lambda e: e.name)


def _walk(directory: Path, key_prefix: str, start: str) -> Iterator[ObjectInfo]:
    for entry in _entries(directory, start):
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(Path(entry.path), f"{key_prefix}{entry.name}/", "")
        else:
            try:
                size = entry.stat(follow_symlinks=False).st_size
            except FileNotFoundError:  # deleted while listing
                continue
            yield ObjectInfo(f"{key_prefix}{entry.name}", size)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
