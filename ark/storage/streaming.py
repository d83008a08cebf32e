"""Bounded-memory streaming shared by the providers.

Uploads go through one buffer of at most ``part_size`` bytes: a provider implements
:class:`PartUploader` (one request for a small object, or numbered parts then a commit) and
:func:`part_writer` turns it into the context-managed :class:`~ark.storage.interface.Writer` the
contract promises. Downloads wrap a provider's ``read(n)`` in a buffered binary file.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import BinaryIO, Protocol

from ark.storage.interface import Writer

CHUNK_SIZE = 1024 * 1024
"""How much is read or handed on at a time when copying streams."""


class PartUploader(Protocol):
    """One upload, as the provider sees it. Parts arrive in order, numbered from 1; ``part`` is
    only valid during the call (the buffer is reused)."""

    def put_whole(self, data: memoryview, /) -> None:
        """The object fits in one part: store it in one request."""
        ...

    def upload_part(self, number: int, part: memoryview, /) -> None: ...

    def complete(self, parts: int, /) -> None:
        """Commit the uploaded parts as the object."""
        ...

    def abort(self) -> None:
        """Discard uploaded parts; called at most once, after any number of parts."""
        ...


class _PartWriter:
    """Buffers a part at a time. The buffer grows with the data up to ``part_size`` (in place:
    large reallocations remap pages rather than copy them), so a small object never costs a
    whole part's memory (16 MiB by default); from the first part on it stays that size."""

    def __init__(self, uploader: PartUploader, part_size: int) -> None:
        self._uploader = uploader
        self._part_size = part_size
        self._buffer = bytearray()
        self._view: memoryview | None = None  # once the buffer is whole: it no longer grows
        self._filled = 0
        self._parts = 0

    def write(self, data: bytes | bytearray | memoryview, /) -> int:
        source = memoryview(data).cast("B")
        offset = 0
        while offset < len(source):
            if self._filled == self._part_size:  # flush only once more data is known to follow
                self._flush()
            take = min(self._part_size - self._filled, len(source) - offset)
            if self._view is None:
                self._buffer += source[offset : offset + take]
            else:
                self._view[self._filled : self._filled + take] = source[offset : offset + take]
            self._filled += take
            offset += take
        return len(source)

    def _whole(self) -> memoryview:
        if self._view is None:
            self._view = memoryview(self._buffer)
        return self._view

    def _flush(self) -> None:
        self._parts += 1
        self._uploader.upload_part(self._parts, self._whole()[: self._filled])
        self._filled = 0

    def finish(self) -> None:
        if self._parts == 0:
            self._uploader.put_whole(self._whole()[: self._filled])
        else:
            if self._filled:
                self._flush()
            self._uploader.complete(self._parts)

    def release(self) -> None:
        if self._view is not None:
            self._view.release()


@contextmanager
def part_writer(uploader: PartUploader, *, part_size: int) -> Iterator[Writer]:
    """A Writer that commits through ``uploader`` on a clean exit and aborts on an exception."""
    writer = _PartWriter(uploader, part_size)
    try:
        yield writer
        writer.finish()
    except BaseException:
        uploader.abort()
        raise
    finally:
        writer.release()


def chunks(data: bytes | BinaryIO | Iterable[bytes]) -> Iterator[bytes | memoryview]:
    """The pieces of ``data`` (bytes, a readable binary file, or an iterable of chunks)."""
    if isinstance(data, bytes | bytearray | memoryview):
        view = memoryview(data)
        for start in range(0, len(view), CHUNK_SIZE):
            yield view[start : start + CHUNK_SIZE]
        return
    read = getattr(data, "read", None)
    if callable(read):
        while chunk := read(CHUNK_SIZE):
            yield chunk
        return
    for chunk in data:
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise TypeError(f"object data must be bytes chunks, got {type(chunk).__name__}")
        yield chunk


def copy_into(writer: Writer, data: bytes | BinaryIO | Iterable[bytes]) -> None:
    for chunk in chunks(data):
        writer.write(chunk)


class ViewReader(io.RawIOBase):
    """A seekable, read-only file over a memoryview, without copying it (for request bodies
    that SDKs hash, sign and send in pieces)."""

    def __init__(self, view: memoryview) -> None:
        super().__init__()
        self._view = view
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        target = memoryview(buffer).cast("B")
        take = max(0, min(len(target), len(self._view) - self._pos))
        target[:take] = self._view[self._pos : self._pos + take]
        self._pos += take
        return take

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._view)}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def __len__(self) -> int:
        return len(self._view)


class _CallbackReader(io.RawIOBase):
    def __init__(self, read: Callable[[int], bytes], close: Callable[[], None]) -> None:
        super().__init__()
        self._read = read
        self._close = close

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        target = memoryview(buffer).cast("B")
        data = self._read(len(target))
        target[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            try:
                self._close()
            finally:
                super().close()


def reader(read: Callable[[int], bytes], *, close: Callable[[], None]) -> BinaryIO:
    """A buffered binary file over ``read(n)`` (which returns at most n bytes, b"" at the end);
    closing it calls ``close``."""
    return io.BufferedReader(_CallbackReader(read, close), buffer_size=CHUNK_SIZE)
