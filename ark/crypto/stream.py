"""ark's encrypted object format: AES-256-GCM in chunks, streamed both ways.

An object is a header, then chunks::

    header  = b"ARKENC" | version (1 byte) | chunk size (4) | nonce prefix (8)
              | key id length (1) | key id | wrapped data key length (2) | wrapped data key
    chunk i = AES-256-GCM(data key, nonce = prefix | i (4 bytes), plaintext of chunk size
              bytes or fewer for the last, AAD = SHA-256(header | object name) | i (8) | final (1))

(big-endian). The data key is the backup's; the header carries its id and wrapped form so the
object says which key-encryption key opens it. The last chunk (possibly empty) alone is marked
final, so a truncated object fails; the index in the nonce and the AAD makes reordered chunks
fail; the object's name in the AAD makes an object copied to another name (another backup's
file) fail. Memory is two chunks, whatever the object's size. Pure: no I/O but the streams
given.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ark._streams import read_up_to

MAGIC = b"ARKENC"
VERSION = 1
CHUNK_SIZE = 256 * 1024
MAX_CHUNK_SIZE = 16 << 20
"""A header asking for bigger chunks is refused (it would make a reader hold them)."""
TAG = 16
_FIXED = struct.Struct(">6sBI8s")
_MAX_CHUNKS = 1 << 32


class DecryptError(Exception):
    """An encrypted object cannot be read: not ark's format, altered, truncated or another
    object's. The message says which; ``key_id`` is the key named by its header, if read."""

    def __init__(self, cause: str, *, key_id: str | None = None) -> None:
        super().__init__(cause)
        self.cause = cause
        self.key_id = key_id


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class Writable(Protocol):
    def write(self, data: bytes | bytearray | memoryview, /) -> int: ...


@dataclass(frozen=True)
class DataKey:
    """A backup's data key with the id of the key-encryption key that wrapped it."""

    key: bytes
    key_id: str
    wrapped: bytes

    def __repr__(self) -> str:  # never the key itself
        return f"DataKey(key_id={self.key_id!r})"


@dataclass(frozen=True)
class Header:
    chunk_size: int
    prefix: bytes
    key_id: str
    wrapped: bytes

    def encode(self) -> bytes:
        key_id = self.key_id.encode()
        return b"".join(
            (
                _FIXED.pack(MAGIC, VERSION, self.chunk_size, self.prefix),
                struct.pack(">B", len(key_id)),
                key_id,
                struct.pack(">H", len(self.wrapped)),
                self.wrapped,
            )
        )


def is_encrypted(start: bytes) -> bool:
    """Whether bytes (an object's first ones) start ark's encrypted format."""
    return start.startswith(MAGIC)


def read_header(src: Readable) -> Header:
    fixed = read_up_to(src, _FIXED.size)
    if not fixed.startswith(MAGIC[: len(fixed)]) or len(fixed) < len(MAGIC):
        raise DecryptError("not encrypted by ark (no ARKENC header)")
    if len(fixed) < _FIXED.size:
        raise DecryptError("truncated header")
    _, version, chunk_size, prefix = _FIXED.unpack(fixed)
    if version != VERSION:
        raise DecryptError(f"encryption format version {version}, this ark reads {VERSION}")
    if not 0 < chunk_size <= MAX_CHUNK_SIZE:
        raise DecryptError(f"chunk size {chunk_size} out of range")
    length = read_up_to(src, 1)
    key_id_bytes = read_up_to(src, length[0]) if length else b""
    wrapped_length = read_up_to(src, 2)
    if not length or len(key_id_bytes) < length[0] or len(wrapped_length) < 2:
        raise DecryptError("truncated header")
    key_id = key_id_bytes.decode("utf-8", "replace")
    wrapped = read_up_to(src, struct.unpack(">H", wrapped_length)[0])
    if len(wrapped) < struct.unpack(">H", wrapped_length)[0]:
        raise DecryptError("truncated header", key_id=key_id)
    return Header(chunk_size=chunk_size, prefix=prefix, key_id=key_id, wrapped=wrapped)


def _context(header: Header, name: str) -> bytes:
    return hashlib.sha256(header.encode() + b"\0" + name.encode()).digest()


def _nonce(prefix: bytes, index: int) -> bytes:
    return prefix + struct.pack(">I", index)


def _aad(context: bytes, index: int, *, final: bool) -> bytes:
    return context + struct.pack(">QB", index, 1 if final else 0)


class _Sealer:
    def __init__(self, data_key: DataKey, name: str, chunk_size: int) -> None:
        self.header = Header(
            chunk_size=chunk_size, prefix=os.urandom(8), key_id=data_key.key_id,
            wrapped=data_key.wrapped,
        )  # fmt: skip
        self._aead = AESGCM(data_key.key)
        self._context = _context(self.header, name)
        self._index = 0

    def seal(self, plain: bytes, *, final: bool) -> bytes:
        if self._index >= _MAX_CHUNKS:
            raise ValueError("object too large for its chunk size")
        nonce = _nonce(self.header.prefix, self._index)
        sealed = self._aead.encrypt(nonce, plain, _aad(self._context, self._index, final=final))
        self._index += 1
        return sealed


def encrypt_chunks(
    chunks: Iterable[bytes], data_key: DataKey, *, name: str, chunk_size: int = CHUNK_SIZE
) -> Iterator[bytes]:
    """The encrypted object of the plaintext ``chunks`` (any sizes), as stored under ``name``."""
    sealer = _Sealer(data_key, name, chunk_size)
    yield sealer.header.encode()
    pending = bytearray()
    for chunk in chunks:
        pending += chunk
        # Keep at least one byte back: the last chunk is sealed as final at the end.
        while len(pending) > chunk_size:
            yield sealer.seal(bytes(pending[:chunk_size]), final=False)
            del pending[:chunk_size]
    yield sealer.seal(bytes(pending), final=True)


def encrypt(data: bytes, data_key: DataKey, *, name: str, chunk_size: int = CHUNK_SIZE) -> bytes:
    return b"".join(encrypt_chunks([data], data_key, name=name, chunk_size=chunk_size))


class EncryptingWriter:
    """A writer that encrypts into ``sink``; ``close()`` writes the final chunk (it does not
    close the sink)."""

    def __init__(
        self, sink: Writable, data_key: DataKey, *, name: str, chunk_size: int = CHUNK_SIZE
    ) -> None:
        self._sink = sink
        self._sealer = _Sealer(data_key, name, chunk_size)
        self._chunk_size = chunk_size
        self._pending = bytearray()
        self._closed = False
        sink.write(self._sealer.header.encode())

    def write(self, data: bytes | bytearray | memoryview, /) -> int:
        if self._closed:
            raise ValueError("write to a closed EncryptingWriter")
        self._pending += data
        size = self._chunk_size
        while len(self._pending) > size:
            self._sink.write(self._sealer.seal(bytes(self._pending[:size]), final=False))
            del self._pending[:size]
        return len(data)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._sink.write(self._sealer.seal(bytes(self._pending), final=True))
            self._pending.clear()


class DecryptingReader(io.RawIOBase):
    """The plaintext of an encrypted object read from ``src``. ``key_for`` gives the data key
    of a header (raising what it raises when it has none). Raises DecryptError when the
    object was altered, truncated, reordered or is another object's; nothing unauthenticated
    is ever returned."""

    def __init__(self, src: Readable, *, name: str, key_for: Callable[[Header], bytes]) -> None:
        super().__init__()
        self._src = src
        self.header = read_header(src)
        self._aead = AESGCM(key_for(self.header))
        self._context = _context(self.header, name)
        self._block = self.header.chunk_size + TAG
        self._index = 0
        self._next = read_up_to(src, self._block)
        self._plain = b""
        self._offset = 0
        self._done = False

    def readable(self) -> bool:
        return True

    def _fail(self, cause: str) -> DecryptError:
        return DecryptError(cause, key_id=self.header.key_id)

    def _advance(self) -> None:
        sealed = self._next
        if len(sealed) < TAG:
            raise self._fail(f"truncated: chunk {self._index} is missing or cut")
        final = len(sealed) < self._block
        if not final:
            self._next = read_up_to(self._src, self._block)
            final = not self._next
        nonce = _nonce(self.header.prefix, self._index)
        try:
            plain = self._aead.decrypt(nonce, sealed, _aad(self._context, self._index, final=final))
        except InvalidTag:
            raise self._fail(self._why(sealed, nonce, final=final)) from None
        self._index += 1
        self._plain, self._offset, self._done = plain, 0, final

    def _why(self, sealed: bytes, nonce: bytes, *, final: bool) -> str:
        if final:
            try:
                self._aead.decrypt(nonce, sealed, _aad(self._context, self._index, final=False))
            except InvalidTag:
                pass
            else:
                return f"truncated after chunk {self._index}"
        return (
            f"chunk {self._index} fails authentication (altered, out of place, another "
            "object's, or not encrypted with this data key)"
        )

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        while self._offset >= len(self._plain):
            if self._done:
                return 0
            self._advance()
        n = min(len(buffer), len(self._plain) - self._offset)
        buffer[:n] = self._plain[self._offset : self._offset + n]
        self._offset += n
        return n


def decrypt(data: bytes, *, name: str, key_for: Callable[[Header], bytes]) -> bytes:
    return DecryptingReader(io.BytesIO(data), name=name, key_for=key_for).readall()
