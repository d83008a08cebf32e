"""Whole-file reads with a size limit: the one place a backup's or a restore's file is read.

A gzip file is inflated while it streams in, never past its limit (``zlib`` with
``max_length``), so neither a large object nor a gzip bomb is ever held whole.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import orjson

from ark.persistence.errors import StoredFileError
from ark.persistence.limits import FileLimit
from ark.storage import ObjectStore

_CHUNK = 1 << 20
_GZIP_WBITS = 16 + zlib.MAX_WBITS
_BLANK = b" \t\r\n"


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def read(
    objects: ObjectStore,
    key: str,
    *,
    what: str,
    limit: FileLimit,
    opening: bytes = b"",
    on_stored: Callable[[bytes], object] | None = None,
    decode: Callable[[Readable], Readable] | None = None,
) -> bytes:
    """The file's bytes, inflated when ``limit.decompressed`` is set. ``opening`` lists the
    bytes the content may start with (after blanks): a JSON object or list starts with ``{``
    or ``[``, so garbage is refused at its first byte rather than at the limit.
    ``on_stored`` is given every stored (not inflated) chunk as it is read: a digest's update.
    ``decode`` turns the stored stream into the file's (decryption); limits apply after it.

    Raises ObjectNotFound for a missing file, StoredFileError for one over its limit or not
    gzip, any other StoreError for a store that cannot be read."""
    with _opened(objects, key, on_stored=on_stored, decode=decode) as src:
        if limit.decompressed is None:
            data = _read_stored(src, key, what=what, limit=limit.stored)
            _check_opening(data, key, what=what, opening=opening)
            return data
        return bytes(
            _inflate(
                src, key, what=what, limit=limit.stored, cap=limit.decompressed, opening=opening
            )
        )


def read_text(
    objects: ObjectStore,
    key: str,
    *,
    what: str,
    limit: FileLimit,
    opening: bytes = b"",
    on_stored: Callable[[bytes], object] | None = None,
    decode: Callable[[Readable], Readable] | None = None,
) -> str:
    """:func:`read` of a gzip'd UTF-8 file, as text: the file is held once inflated and once
    as text, not twice inflated (a 100,000-item manifest is 13 MB). StoredFileError when it
    is not UTF-8."""
    assert limit.decompressed is not None, "read_text is for gzip'd files"
    with _opened(objects, key, on_stored=on_stored, decode=decode) as src:
        data = _inflate(
            src, key, what=what, limit=limit.stored, cap=limit.decompressed, opening=opening
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StoredFileError(key, what, f"not UTF-8 ({exc.reason} at byte {exc.start})") from None


@contextlib.contextmanager
def _opened(
    objects: ObjectStore,
    key: str,
    *,
    on_stored: Callable[[bytes], object] | None,
    decode: Callable[[Readable], Readable] | None,
) -> Iterator[Readable]:
    """The stored file as read: its stored chunks handed to ``on_stored``, then decoded."""
    with objects.open_read(key) as raw:
        src: Readable = raw if on_stored is None else _Tap(raw, on_stored)
        yield src if decode is None else decode(src)


def read_json(
    objects: ObjectStore,
    key: str,
    *,
    what: str,
    limit: FileLimit,
    decode: Callable[[Readable], Readable] | None = None,
) -> Any:
    """The file's JSON document (a JSON object or list)."""
    data = read(objects, key, what=what, limit=limit, opening=b"{[", decode=decode)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise StoredFileError(key, what, f"not JSON ({exc})") from None


class _Tap:
    """A stream whose reads are also handed to ``seen``."""

    def __init__(self, src: Readable, seen: Callable[[bytes], object]) -> None:
        self._src = src
        self._seen = seen

    def read(self, size: int = -1, /) -> bytes:
        chunk = self._src.read(size)
        self._seen(chunk)
        return chunk


def _size(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 else f"{n} bytes"


def _read_stored(src: Readable, key: str, *, what: str, limit: int) -> bytes:
    pieces: list[bytes] = []
    size = 0
    while chunk := src.read(min(_CHUNK, limit + 1 - size)):
        pieces.append(chunk)
        size += len(chunk)
        if size > limit:
            raise StoredFileError(key, what, f"larger than its limit of {_size(limit)}")
    return b"".join(pieces)


def _check_opening(data: bytes, key: str, *, what: str, opening: bytes) -> bool:
    """False while ``data`` is blank (nothing to check yet); raises when it starts wrong."""
    first = data.lstrip(_BLANK)[:1]
    if not opening or not first:
        return not opening
    if first not in opening:
        expected = " or ".join(repr(chr(b)) for b in opening)
        raise StoredFileError(key, what, f"not JSON (starts with {first!r}, not {expected})")
    return True


def _inflate(
    src: Readable, key: str, *, what: str, limit: int, cap: int, opening: bytes
) -> bytearray:
    # One buffer grown in place: a list of pieces joined at the end would hold the file
    # twice (a 100,000-item manifest is 13 MB inflated).
    out = bytearray()
    size = 0
    inflater = zlib.decompressobj(_GZIP_WBITS)
    stored = 0
    checked = not opening
    started = False
    while chunk := src.read(_CHUNK):
        stored += len(chunk)
        if stored > limit:
            raise StoredFileError(key, what, f"larger than its limit of {_size(limit)}")
        data = chunk
        while data:
            if inflater.eof:  # the next gzip member (gzip allows several, one after another)
                inflater = zlib.decompressobj(_GZIP_WBITS)
            started = True
            try:
                piece = inflater.decompress(data, min(_CHUNK, cap + 1 - size))
            except zlib.error as exc:
                raise StoredFileError(key, what, f"not gzip ({exc})") from None
            size += len(piece)
            if size > cap:
                raise StoredFileError(key, what, f"inflates to more than its limit of {_size(cap)}")
            if piece:
                out += piece
                if not checked:
                    checked = _check_opening(piece, key, what=what, opening=opening)
            data = inflater.unused_data if inflater.eof else inflater.unconsumed_tail
    if started and not inflater.eof:
        raise StoredFileError(key, what, "not gzip (truncated)")
    return out
