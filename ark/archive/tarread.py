"""Walking an untrusted ``.tar.gz`` once, as a stream, without trusting anything in it.

Yields only regular files and directories whose paths are canonical, relative and under
``resources/`` or ``metadata/``; everything else raises HostileArchive before its data is read.
Decompressed bytes and entry counts are bounded, extended headers are size-checked before
tarfile reads them into memory, and the gzip trailer (CRC, length) is checked at the end, so a
truncated upload cannot pass for a short archive.
"""

from __future__ import annotations

import gzip
import tarfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO, Protocol, Self

from ark.archive.errors import CorruptArchive, HostileArchive

MiB = 1024 * 1024
GiB = 1024 * MiB
MAX_EXTENDED_HEADER_BYTES = MiB
"""A pax or GNU long-name header larger than this is refused (tarfile would hold it in memory)."""
ROOTS = ("resources", "metadata")
_CHUNK = 256 * 1024
_STOP = "_ark_stop"


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what one archive may make a restore read. Defaults are generous."""

    max_item_bytes: int = 8 * MiB
    max_items: int = 2_000_000
    """Objects indexed (Velero's preferred-version copies are not counted here)."""
    max_entries: int = 5_000_000
    """Every tar entry: items, their preferred-version copies, directories, metadata."""
    max_total_bytes: int = 20 * GiB
    """Decompressed bytes of the whole tar stream."""


class _SafeTarInfo(tarfile.TarInfo):
    """Refuses oversized pax/GNU extended headers and sparse files before tarfile reads them,
    and records why the header walk stopped (tarfile ends silently on a bad header)."""

    @classmethod
    def fromtarfile(cls, tarfile_: tarfile.TarFile) -> Self:
        try:
            return super().fromtarfile(tarfile_)
        except tarfile.HeaderError as exc:
            why = type(exc).__name__  # tarfile's header errors are not in its typed API
            if why == "EOFHeaderError":
                stop = "end"
            elif why == "InvalidHeaderError":
                stop = f"damaged tar header ({exc})"
            else:
                stop = "truncated: no end-of-archive marker"
            setattr(tarfile_, _STOP, stop)
            raise

    def _proc_member(self, tarfile_: tarfile.TarFile) -> tarfile.TarInfo:
        extended = (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE)
        if self.type in (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, *extended):
            if self.size > MAX_EXTENDED_HEADER_BYTES:
                raise HostileArchive(
                    self.name,
                    f"extended header of {self.size} bytes (limit {MAX_EXTENDED_HEADER_BYTES})",
                )
        elif self.type == tarfile.GNUTYPE_SPARSE:
            raise HostileArchive(self.name, "sparse files are not allowed")
        return super()._proc_member(tarfile_)  # type: ignore[misc,no-any-return]


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _Budget:
    """A reader over the decompressed stream that stops at ``limit`` bytes."""

    __slots__ = ("limit", "raw", "total")

    def __init__(self, raw: _Readable, limit: int) -> None:
        self.raw = raw
        self.limit = limit
        self.total = 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size if size >= 0 else _CHUNK)
        self.total += len(data)
        if self.total > self.limit:
            raise HostileArchive(None, f"decompresses to more than {self.limit} bytes")
        return data


@contextmanager
def _damage_is_corruption(entry: str | None) -> Iterator[None]:
    try:
        yield
    except EOFError:
        raise CorruptArchive(entry, "truncated: the gzip stream ends early") from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise CorruptArchive(entry, f"damaged gzip stream ({exc})") from None
    except tarfile.TarError as exc:
        raise CorruptArchive(entry, f"damaged tar stream ({exc})") from None


def safe_path(name: str) -> str:
    """The entry's path if it is relative, canonical and under one of ROOTS; else HostileArchive."""
    path = name.removeprefix("./")
    if not path:
        raise HostileArchive(name, "empty path")
    if path.startswith("/"):
        raise HostileArchive(name, "absolute path")
    if "\x00" in path:
        raise HostileArchive(name, "NUL in path")
    parts = path.split("/")
    if ".." in parts:
        raise HostileArchive(name, "path traversal ('..')")
    if "" in parts or "." in parts:
        raise HostileArchive(name, "non-canonical path (empty or '.' segment)")
    if parts[0] not in ROOTS:
        raise HostileArchive(name, "outside resources/ and metadata/")
    return path


def _check_type(member: tarfile.TarInfo) -> None:
    if member.type in (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.DIRTYPE):
        return
    if member.issym():
        what = f"symlink (to {member.linkname!r})"
    elif member.islnk():
        what = f"hardlink (to {member.linkname!r})"
    elif member.ischr() or member.isblk():
        what = "device file"
    elif member.isfifo():
        what = "fifo"
    else:
        what = f"unsupported entry type {member.type!r}"
    raise HostileArchive(member.name, f"{what} not allowed")


class Entry:
    """One checked regular-file entry; ``read()`` its data before asking for the next one."""

    __slots__ = ("_stream", "path", "size")

    def __init__(self, stream: TarStream, path: str, size: int) -> None:
        self._stream = stream
        self.path = path
        self.size = size

    def read(self) -> bytes:
        return self._stream.read_current(self)


class TarStream:
    """Iterate with ``for entry in TarStream(src, limits=...)``; directories are skipped."""

    def __init__(self, src: BinaryIO, *, limits: Limits) -> None:
        self._limits = limits
        self._entries = 0
        self._member: tarfile.TarInfo | None = None
        with _damage_is_corruption(None):
            self._gzip = gzip.GzipFile(fileobj=src, mode="rb")
            self._budget = _Budget(self._gzip, limits.max_total_bytes)
            self._tar = tarfile.open(  # noqa: SIM115 (closed with the stream)
                fileobj=self._budget,  # type: ignore[call-overload]
                mode="r|",
                tarinfo=_SafeTarInfo,
            )

    def __iter__(self) -> Iterator[Entry]:
        last: str | None = None
        while True:
            with _damage_is_corruption(last):
                member = self._tar.next()
            self._tar.members.clear()  # stream mode would keep every header otherwise
            if member is None:
                break
            last = member.name
            self._entries += 1
            if self._entries > self._limits.max_entries:
                raise HostileArchive(member.name, f"more than {self._limits.max_entries} entries")
            path = safe_path(member.name)
            _check_type(member)
            if member.isdir():
                continue
            self._member = member
            yield Entry(self, path, member.size)
            self._member = None
        self._finish(last)
        stop = getattr(self._tar, _STOP, None)
        if stop != "end":
            raise CorruptArchive(last, f"tar stream ends badly: {stop or 'unknown reason'}")

    def read_current(self, entry: Entry) -> bytes:
        member = self._member
        if member is None or member.size != entry.size:
            raise RuntimeError(f"{entry.path}: read after the stream moved on")
        with _damage_is_corruption(member.name):
            fileobj = self._tar.extractfile(member)
            assert fileobj is not None
            data: bytes = fileobj.read()
        if len(data) != member.size:
            raise CorruptArchive(member.name, f"truncated: {len(data)} of {member.size} bytes")
        return data

    def _finish(self, last: str | None) -> None:
        """After the end-of-archive blocks only zero padding may follow; then the gzip trailer."""
        buffered = getattr(self._tar.fileobj, "buf", b"")  # read ahead by tarfile's stream
        with _damage_is_corruption(last):
            chunk = bytes(buffered)
            while True:
                if chunk.count(0) != len(chunk):
                    raise CorruptArchive(None, "data after the end of the tar archive")
                chunk = self._budget.read(_CHUNK)
                if not chunk:
                    break
