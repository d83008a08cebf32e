"""Walking an untrusted ``.tar.gz`` once, as a stream, without trusting anything in it.

Yields only regular files and directories whose paths are canonical, relative and under
``resources/`` or ``metadata/``; everything else raises HostileArchive before its data is read.
Decompressed bytes and entry counts are bounded, extended headers are size-checked before they
are read, every header's checksum is checked, and the gzip trailer (CRC, length) is checked at
the end, so a truncated upload cannot pass for a short archive.

The headers are parsed here, not by ``tarfile`` (whose per-entry parsing was most of a
restore's or verify's CPU per item), and only the tar that ark's writer and Velero's (Go's
``archive/tar``) write is read: ustar headers (a long name split into prefix and name), pax
extended headers (``x``: ``path``, ``linkpath``, ``size``; other keys are ignored) and GNU long
names (``L``, ``K``), regular files and directories. Any other entry type (links, devices,
fifos, sparse files, global or Solaris extended headers) is refused.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

from ark.archive.errors import CorruptArchive, HostileArchive

MiB = 1024 * 1024
GiB = 1024 * MiB
MAX_EXTENDED_HEADER_BYTES = MiB
"""A pax or GNU long-name header larger than this is refused (it is held in memory)."""
ROOTS = ("resources", "metadata")
BLOCK = 512
_ZERO_BLOCK = bytes(BLOCK)
_NOT_NAMES = ("", ".", "..")
_SAFE_FOLDERS = 4096
"""Folders remembered as checked (a bound: a hostile archive may have a folder per entry)."""
_READ = 256 * 1024
"""Compressed bytes read from the source at a time."""
_STEP = MiB
"""Decompressed bytes made at a time at most (a gzip bomb is stopped at its budget)."""
_GZIP_WBITS = 31
_MAGICS = (b"ustar\x0000", b"ustar  \x00", bytes(8))
"""POSIX ustar/pax, GNU, and old (v7) headers."""
_REGULAR = (b"0", b"\x00")
_DIRECTORY = b"5"
_PAX, _LONG_NAME, _LONG_LINK = b"x", b"L", b"K"
_EXTENDED = (_PAX, _LONG_NAME, _LONG_LINK)
_LINKS = (b"1", b"2")
_REFUSED = {
    b"1": "hardlink",
    b"2": "symlink",
    b"3": "device file",
    b"4": "device file",
    b"6": "fifo",
}


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


class _Damaged(Exception):
    """A header that is not a valid one (the cause); the stream names the entry before it."""

    def __str__(self) -> str:
        return f"damaged tar header ({self.args[0]})"


class _Truncated(_Damaged):
    """The tar stream ends inside a header or without the end-of-archive marker."""

    def __str__(self) -> str:
        return f"truncated: {self.args[0]}"


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


def _text(field: bytes) -> str:
    """A NUL-terminated name field (as tarfile decodes it: UTF-8, undecodable bytes kept)."""
    return field.partition(b"\x00")[0].decode("utf-8", "surrogateescape")


def _number(field: bytes) -> int:
    """An octal field (NUL or space terminated), or GNU's base-256 for large values."""
    if field[-1] == 0 and field[:-1].isdigit():  # what ark and Go write: digits, then NUL
        try:
            return int(field[:-1], 8)
        except ValueError:
            raise _Damaged(f"invalid octal number {field!r} in a header field") from None
    if field[0] & 0x80:
        if field[0] != 0x80:
            raise _Damaged("negative number in a header field")
        return int.from_bytes(field[1:], "big")
    digits = field.partition(b"\x00")[0].strip(b" ")
    if not digits:
        return 0
    if not digits.isdigit():
        raise _Damaged(f"invalid number {digits!r} in a header field")
    try:
        return int(digits, 8)
    except ValueError:
        raise _Damaged(f"invalid octal number {digits!r} in a header field") from None


def _check_sum(head: bytes) -> None:
    """The header's checksum: the byte sum with the checksum field as spaces, unsigned (as
    every writer since POSIX) or signed (as some old ones)."""
    stored = _number(head[148:156])
    # Adler-32's low half is 1 + the byte sum modulo 65521: exact for these pieces, each
    # under 65521 even when every byte is 255, and far cheaper than summing in Python.
    unsigned = (
        (zlib.adler32(head[:148]) & 0xFFFF)
        + (zlib.adler32(head[156:356]) & 0xFFFF)
        + (zlib.adler32(head[356:]) & 0xFFFF)
        - 3
        + 8 * 32
    )
    if stored == unsigned:
        return
    high = sum(1 for b in head[:148] + head[156:] if b >= 0x80)
    if stored != unsigned - 256 * high:
        raise _Damaged("bad checksum")


def _pax_records(data: bytes) -> dict[bytes, bytes]:
    """The ``"<length> <key>=<value>\\n"`` records of a pax header, every byte accounted for."""
    records: dict[bytes, bytes] = {}
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos, pos + 20)
        digits = data[pos:space] if space > pos else b""
        if not digits.isdigit():
            raise _Damaged("invalid pax record length")
        end = pos + int(digits)
        if end <= space + 1 or end > len(data) or data[end - 1] != 0x0A:
            raise _Damaged("invalid pax record")
        key, eq, value = data[space + 1 : end - 1].partition(b"=")
        if not eq or not key:
            raise _Damaged("invalid pax record")
        records[key] = value
        pos = end
    return records


class _Header:
    """One entry's header, with what extended headers before it said."""

    __slots__ = ("linkname", "name", "size", "type")

    def __init__(self, name: str, size: int, type_: bytes, linkname: str) -> None:
        self.name = name
        self.size = size
        self.type = type_
        self.linkname = linkname


def _entry_header(head: bytes, size: int, type_: bytes, extended: dict[bytes, bytes]) -> _Header:
    """An entry's name, size, type and link target: from its ustar header, a GNU long name or
    link before it, a pax header before it (each over the one before)."""
    name = _text(head[:100])
    if head[257:263] == b"ustar\x00" and head[345] and type_ != b"S":
        name = _text(head[345:500]) + "/" + name
    linkname = _text(head[157:257]) if type_ in _LINKS else ""  # only a refused link's error
    if _LONG_NAME in extended:
        name = _text(extended[_LONG_NAME])
    if _LONG_LINK in extended:
        linkname = _text(extended[_LONG_LINK])
    if _PAX in extended:
        pax = _pax_records(extended[_PAX])
        if any(key.startswith(b"GNU.sparse.") for key in pax):
            raise HostileArchive(name, "sparse files are not allowed")
        name = pax[b"path"].decode("utf-8", "surrogateescape") if b"path" in pax else name
        if b"linkpath" in pax:
            linkname = pax[b"linkpath"].decode("utf-8", "surrogateescape")
        if b"size" in pax:
            if not pax[b"size"].isdigit():
                raise _Damaged("invalid pax size")
            size = int(pax[b"size"])
    if type_ == b"\x00" and name.endswith("/"):  # an old-style directory
        type_ = _DIRECTORY
    if type_ == _DIRECTORY:
        name = name.rstrip("/")
    return _Header(name, size, type_, linkname)


@contextmanager
def _gzip_damage(entry: str | None) -> Iterator[None]:
    try:
        yield
    except zlib.error as exc:
        raise CorruptArchive(entry, f"damaged gzip stream ({exc})") from None


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

    def __init__(
        self, src: BinaryIO, *, limits: Limits, segment: tuple[int, int] | None = None
    ) -> None:
        """``segment`` is (tar offset, tar bytes) when ``src`` is one segment of an archive
        (its gzip members from one entry's header to another's, as ark's manifest lists
        them): exactly that much tar, ending at an entry boundary with no end-of-archive
        marker. Errors name where in the tar stream the segment starts."""
        self._src = src
        self._limits = limits
        self._segment = segment
        self._zlib: zlib._Decompress | None = zlib.decompressobj(_GZIP_WBITS)
        self._input = b""  # compressed bytes read but not yet given to the decompressor
        self._total = 0  # decompressed bytes so far
        self._buf = b""
        self._pos = 0
        self._last: str | None = None  # the last entry's name, for errors after it
        self._current: Entry | None = None
        self._unread = 0  # bytes (data and padding) of the current entry not yet consumed
        self._safe_folders: set[str] = set()  # folders of entries whose paths were safe

    # -- the decompressed stream ---------------------------------------------------------
    def _more(self) -> bytes:
        """The next piece of the tar stream; b"" after the last gzip member, whose trailer
        (CRC, length) zlib has checked. Zero padding and further members may follow a member,
        as ``gzip`` reads them."""
        while (z := self._zlib) is not None:
            if z.eof:
                self._next_member(z.unused_data)
                continue
            data = z.unconsumed_tail or self._input or self._src.read(_READ)
            self._input = b""
            if not data:
                raise CorruptArchive(self._where(), "truncated: the gzip stream ends early")
            with _gzip_damage(self._where()):
                out = z.decompress(data, _STEP)
            if out:
                self._total += len(out)
                if self._total > self._limits.max_total_bytes:
                    limit = self._limits.max_total_bytes
                    raise HostileArchive(None, f"decompresses to more than {limit} bytes")
                if self._segment is not None and self._total > self._segment[1]:
                    raise CorruptArchive(
                        self._where(), f"holds more than the manifest's {self._segment[1]} bytes"
                    )
                return out
        return b""

    def _where(self) -> str | None:
        """The last entry's name, for errors after it; in a segment before its first entry,
        where the segment starts."""
        if self._last is None and self._segment is not None and self._segment[0]:
            return f"(the segment at tar offset {self._segment[0]})"
        return self._last

    def _next_member(self, rest: bytes) -> None:
        rest = rest.lstrip(b"\x00")
        while not rest:
            rest = self._src.read(_READ)
            if not rest:
                self._zlib = None
                return
            rest = rest.lstrip(b"\x00")
        self._zlib = zlib.decompressobj(_GZIP_WBITS)
        self._input = rest

    def _take(self, size: int) -> bytes:
        """The next ``size`` bytes of the tar stream (fewer only at its end)."""
        buf, pos = self._buf, self._pos
        end = pos + size
        if end <= len(buf):
            self._pos = end
            return buf[pos:end]
        parts = [buf[pos:]]
        have = len(parts[0])
        while have < size and (more := self._more()):
            parts.append(more)
            have += len(more)
        joined = b"".join(parts)
        self._buf, self._pos = joined, min(size, len(joined))
        return joined[:size]

    def _skip(self, size: int) -> int:
        """Drop the next ``size`` bytes without holding them; returns how many there were."""
        skipped = min(size, len(self._buf) - self._pos)
        self._pos += skipped
        while skipped < size and (more := self._more()):
            step = min(size - skipped, len(more))
            self._buf, self._pos = more, step
            skipped += step
        return skipped

    # -- headers ---------------------------------------------------------------------------
    def _header(self) -> _Header | None:
        """The next entry's header with its extended headers applied; None at the end marker."""
        extended: dict[bytes, bytes] = {}  # type -> data of the extended headers before it
        while True:
            buf, pos = self._buf, self._pos
            if pos + BLOCK <= len(buf):  # _take's fast path, inline: once per entry
                head = buf[pos : pos + BLOCK]
                self._pos = pos + BLOCK
            elif self._segment is not None and not extended and self._at_end():
                return None
            else:
                head = self._take(BLOCK)
            if len(head) < BLOCK:
                raise _Truncated("no end-of-archive marker")
            if head == _ZERO_BLOCK:
                if extended:
                    raise _Damaged("an extended header without an entry")
                return None
            _check_sum(head)
            if head[257:265] not in _MAGICS:
                raise _Damaged("not a ustar, pax or GNU tar header")
            type_ = head[156:157]
            size = _number(head[124:136])
            if type_ not in _EXTENDED:
                return _entry_header(head, size, type_, extended)
            if type_ in extended:
                raise _Damaged("two extended headers of one kind for one entry")
            extended[type_] = self._extended(_text(head[:100]), size)

    def _at_end(self) -> bool:
        """Whether a segment's tar ends here: every byte of it read, at an entry boundary."""
        if self._pos < len(self._buf):
            return False
        more = self._more()
        self._buf, self._pos = more, 0
        if more:
            return False
        assert self._segment is not None, "only a segment ends without a marker"
        expected = self._segment[1]
        if self._total != expected:
            raise _Truncated(f"{self._total} of the manifest's {expected} bytes")
        return True

    def _extended(self, name: str, size: int) -> bytes:
        if size > MAX_EXTENDED_HEADER_BYTES:
            raise HostileArchive(
                name, f"extended header of {size} bytes (limit {MAX_EXTENDED_HEADER_BYTES})"
            )
        data = self._take(size)
        if len(data) < size or self._skip(-size % BLOCK) < -size % BLOCK:
            raise _Truncated("an extended header ends early")
        return data

    # -- entries ---------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Entry]:
        entries = 0
        while True:
            try:
                header = self._header()
            except _Damaged as exc:
                raise CorruptArchive(self._where(), f"tar stream ends badly: {exc}") from None
            if header is None:
                break
            self._last = header.name
            entries += 1
            if entries > self._limits.max_entries:
                raise HostileArchive(header.name, f"more than {self._limits.max_entries} entries")
            path = self._safe_path(header.name)
            if header.type not in _REGULAR and header.type != _DIRECTORY:
                _check_type(header)
            if header.type == _DIRECTORY:
                continue  # a directory has no data (tarfile and Go ignore its size too)
            entry = Entry(self, path, header.size)
            self._current, self._unread = entry, header.size + (-header.size % BLOCK)
            yield entry
            self._current = None
            if self._skip(self._unread) < self._unread:
                raise CorruptArchive(header.name, "truncated: the entry's data ends early")
        self._finish()

    def _safe_path(self, name: str) -> str:
        """:func:`safe_path`, the folder of an archive's many entries in one checked once."""
        folder, _, leaf = name.rpartition("/")
        if folder in self._safe_folders and leaf not in _NOT_NAMES and "\x00" not in leaf:
            return name
        path = safe_path(name)
        if path == name and folder and len(self._safe_folders) < _SAFE_FOLDERS:
            self._safe_folders.add(folder)
        return path

    def read_current(self, entry: Entry) -> bytes:
        if entry is not self._current or self._unread != entry.size + (-entry.size % BLOCK):
            raise RuntimeError(f"{entry.path}: read after the stream moved on")
        data = self._take(entry.size)
        self._unread -= len(data)
        if len(data) != entry.size:
            raise CorruptArchive(self._last, f"truncated: {len(data)} of {entry.size} bytes")
        return data

    def _finish(self) -> None:
        """After the end-of-archive block only zero padding may follow; then the gzip trailer."""
        if self._segment is not None:
            return  # _at_end found the end
        chunk = self._buf[self._pos :]
        self._buf, self._pos = b"", 0
        while chunk:
            if chunk.count(0) != len(chunk):
                raise CorruptArchive(None, "data after the end of the tar archive")
            chunk = self._more()


def _check_type(header: _Header) -> None:
    if header.type in _REGULAR or header.type == _DIRECTORY:
        return
    what = _REFUSED.get(header.type)
    if what in {"symlink", "hardlink"}:
        what = f"{what} (to {header.linkname!r})"
    elif header.type == b"S":
        raise HostileArchive(header.name, "sparse files are not allowed")
    elif what is None:
        what = f"unsupported entry type {header.type!r}"
    raise HostileArchive(header.name, f"{what} not allowed")
