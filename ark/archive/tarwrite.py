"""A minimal streaming ``.tar.gz`` writer with deterministic headers, for trusted entries.

tarfile's writer spends most of a small backup's time building headers (pax checks, a copy of
every TarInfo). Entries here are regular files with mode 0644, uid/gid 0, no user or group name
and mtime 0, so the USTAR header is a template plus name, size and checksum. Names longer than
100 bytes go through tarfile's own ``TarInfo.tobuf`` (a pax header), so every archive is what
tarfile itself would write (tests compare the two).
"""

from __future__ import annotations

import tarfile
import zlib
from collections.abc import Iterable
from typing import Protocol

BLOCK = tarfile.BLOCKSIZE
RECORD = tarfile.RECORDSIZE
_NAME_FIELD = 100
GZIP_WBITS = 31
"""zlib with a gzip header (mtime 0, no name: what gzip.compress(mtime=0) writes) and trailer."""
_COMPRESS_CHUNK = 256 * 1024
_ZEROS = bytes(RECORD)


def _reference_header() -> bytes:
    info = tarfile.TarInfo("x")  # mode 0644, uid/gid 0, no user/group names, mtime 0
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


# The fixed fields are taken from tarfile's own header, so the output matches this Python's
# tarfile byte for byte (versions differ in small ways, e.g. device numbers of plain files).
_REFERENCE = _reference_header()
_MODE_UID_GID = _REFERENCE[100:124]
_MTIME = _REFERENCE[136:148]
_AFTER_CHECKSUM = _REFERENCE[156:]
# The checksum is the byte sum of the header with its own field as 8 spaces.
_FIXED_SUM = sum(_MODE_UID_GID) + sum(_MTIME) + 8 * ord(" ") + sum(_AFTER_CHECKSUM)


class RawSink(Protocol):
    def write(self, data: bytes, /) -> object: ...


def header(name: str, size: int) -> bytes:
    """The tar header(s) of a regular file, exactly as tarfile writes them in PAX format."""
    encoded = name.encode("ascii", "surrogateescape") if name.isascii() else b""
    if not encoded or len(encoded) > _NAME_FIELD or size >= 8**11:
        info = tarfile.TarInfo(name)
        info.size = size
        return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
    size_field = b"%011o\0" % size
    # The byte sum of name and size, in C: Adler-32's low half is 1 + the sum of the bytes
    # modulo 65521, and at most 112 bytes of at most 255 sum to less than that.
    checksum = _FIXED_SUM + (zlib.adler32(size_field, zlib.adler32(encoded)) & 0xFFFF) - 1
    return b"".join(
        (
            encoded.ljust(_NAME_FIELD, b"\0"),
            _MODE_UID_GID,
            size_field,
            _MTIME,
            b"%06o\0 " % checksum,
            _AFTER_CHECKSUM,
        )
    )


def padding(size: int) -> bytes:
    """Zeros that bring a member's data up to a whole block."""
    return _ZEROS[: -size % BLOCK]


class TarGzStream:
    """Appends files to a gzip'd tar on ``sink``; not thread-safe (the caller locks)."""

    def __init__(self, sink: RawSink, *, compress_level: int) -> None:
        self._sink = sink
        self._level = compress_level
        self._zlib = zlib.compressobj(compress_level, zlib.DEFLATED, GZIP_WBITS)
        self._pending = bytearray()
        self._offset = 0  # uncompressed bytes so far
        self._written = 0  # compressed bytes given to the sink
        self._member_start = 0  # the tar offset where the current gzip member started

    @property
    def tar_offset(self) -> int:
        """Bytes of tar written so far (where the next entry's header goes)."""
        return self._offset

    @property
    def member_bytes(self) -> int:
        """Bytes of tar in the current gzip member."""
        return self._offset - self._member_start

    def cut(self) -> int:
        """End the current gzip member (its trailer written) and start another; returns the
        compressed bytes written before the new one. Call only between entries."""
        self._compress()
        self._write(self._zlib.flush())
        self._zlib = zlib.compressobj(self._level, zlib.DEFLATED, GZIP_WBITS)
        self._member_start = self._offset
        return self._written

    def _write(self, data: bytes) -> None:
        self._written += len(data)
        self._sink.write(data)

    def add(self, head: bytes, parts: Iterable[bytes]) -> None:
        """One member: ``head`` from :func:`header`, then its data (the ``parts`` in order,
        which may be a stream: the header already holds their size)."""
        self._append(head)
        size = 0
        for chunk in parts:
            self._append(chunk)
            size += len(chunk)
        self._append(padding(size))

    def add_one(self, head: bytes, data: bytes) -> None:
        """:meth:`add` of one piece of data: the path every backed-up item takes."""
        size = len(data)
        if size >= _COMPRESS_CHUNK:
            self.add(head, (data,))
            return
        pad = -size % BLOCK
        pending = self._pending
        pending += head
        pending += data
        pending += _ZEROS[:pad]
        self._offset += len(head) + size + pad
        if len(pending) >= _COMPRESS_CHUNK:
            self._compress()

    def _append(self, data: bytes) -> None:
        self._offset += len(data)
        if len(data) >= _COMPRESS_CHUNK:  # big data goes straight in, without a copy
            self._compress()
            self._write(self._zlib.compress(data))
            return
        self._pending += data
        if len(self._pending) >= _COMPRESS_CHUNK:
            self._compress()

    def finish(self) -> None:
        """End-of-archive (two zero blocks), padding to a whole record, the gzip trailer."""
        end = self._offset + 2 * BLOCK
        self._append(bytes(2 * BLOCK + (-end % RECORD)))
        self._compress()
        self._write(self._zlib.flush())

    def _compress(self) -> None:
        if self._pending:
            self._write(self._zlib.compress(self._pending))
            self._pending.clear()
