"""How a location's encryption applies to a backup's files: which key seals what, and what
the record keeps.

With a keyring (``spec.encryption`` of the location), every file of a backup but its record
is stored in ``ark.crypto``'s format under the backup's data key, with the file's key (its
name in the bucket) as associated data. The record stays plaintext (sync reads it without
keys) and keeps, in annotations, the key id and the wrapped data key, and an HMAC-SHA256 of
itself under a key derived from the data key: the record's content (spec, status, the
manifest's digest) cannot be altered without the key. Every file of an encrypted backup must
open with the record's data key, so a file from another backup is refused. A restore's files
get a data key of their own (no record: their header says which).

Files without ark's header are read as plaintext (backups written before encryption was set,
or by Velero) unless the record says the backup is encrypted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from ark import crypto
from ark.persistence.errors import StoredFileError
from ark.persistence.reading import Readable

ENCRYPTION_ANNOTATION = "ark.dev/encryption"
"""JSON: ``{"algorithm": "AES-256-GCM", "keyId": ..., "wrappedKey": base64}``."""
RECORD_MAC_ANNOTATION = "ark.dev/record-hmac-sha256"
"""Hex HMAC-SHA256 of the record without this annotation (sorted keys, compact JSON)."""
ALGORITHM = "AES-256-GCM"

KEY_UNAVAILABLE = "KeyUnavailable"
UNDECRYPTABLE = "Undecryptable"
RECORD_ALTERED = "RecordAltered"


class EncryptionError(StoredFileError):
    """A file of an encrypted backup cannot be read: ``reason`` is ``KeyUnavailable`` (its
    key is not listed, or the location has no keys), ``Undecryptable`` (altered, truncated,
    another backup's, or plaintext where the record says encrypted) or ``RecordAltered`` (the
    record's HMAC does not match)."""

    def __init__(self, key: str, what: str, reason: str, cause: str) -> None:
        super().__init__(key, what, cause)
        self.reason = reason


@dataclass(frozen=True)
class Sealed:
    """What a record says about its backup's encryption."""

    key_id: str
    wrapped: bytes
    mac: str | None


PLAINTEXT = Sealed(key_id="", wrapped=b"", mac=None)
"""What a record that names no encryption says: the backup's files are plaintext."""


def _annotations(document: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = document.get("metadata") or {}
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    return annotations if isinstance(annotations, dict) else {}


def sealed_of(document: Mapping[str, Any]) -> Sealed | None:
    """The encryption a record names; None for a plaintext backup. ValueError when the
    annotation is garbage."""
    sealed = expected_of(document)
    return None if sealed is PLAINTEXT else sealed


def expected_of(document: Mapping[str, Any]) -> Sealed:
    """The encryption a record names; PLAINTEXT when it names none."""
    raw = _annotations(document).get(ENCRYPTION_ANNOTATION)
    if raw is None:
        return PLAINTEXT
    value = orjson.loads(raw) if isinstance(raw, str) else None
    if not isinstance(value, dict) or value.get("algorithm") != ALGORITHM:
        raise ValueError(f"annotation {ENCRYPTION_ANNOTATION} is not ark's ({raw!r:.80})")
    mac = _annotations(document).get(RECORD_MAC_ANNOTATION)
    return Sealed(
        key_id=str(value.get("keyId")),
        wrapped=base64.b64decode(str(value.get("wrappedKey"))),
        mac=mac if isinstance(mac, str) else None,
    )


def _with_annotations(document: Mapping[str, Any], added: Mapping[str, str]) -> dict[str, Any]:
    metadata = dict(document.get("metadata") or {})
    metadata["annotations"] = {**(metadata.get("annotations") or {}), **added}
    return {**document, "metadata": metadata}


def _mac(document: Mapping[str, Any], data_key: bytes) -> str:
    annotations = {k: v for k, v in _annotations(document).items() if k != RECORD_MAC_ANNOTATION}
    metadata = {**(document.get("metadata") or {}), "annotations": annotations}
    content = orjson.dumps({**document, "metadata": metadata}, option=orjson.OPT_SORT_KEYS)
    mac_key = hmac.new(data_key, b"ark record hmac v1", hashlib.sha256).digest()
    return hmac.new(mac_key, content, hashlib.sha256).hexdigest()


def sealed_record(document: Mapping[str, Any], data_key: crypto.DataKey) -> dict[str, Any]:
    """The record with its encryption annotation and, over all of it, its HMAC."""
    value = {
        "algorithm": ALGORITHM,
        "keyId": data_key.key_id,
        "wrappedKey": base64.b64encode(data_key.wrapped).decode(),
    }
    named = _with_annotations(document, {ENCRYPTION_ANNOTATION: orjson.dumps(value).decode()})
    return _with_annotations(named, {RECORD_MAC_ANNOTATION: _mac(named, data_key.key)})


def check_record(document: Mapping[str, Any], data_key: bytes, *, key: str, what: str) -> None:
    """EncryptionError (RecordAltered) unless the record's HMAC is its own."""
    sealed = sealed_of(document)
    expected = _mac(document, data_key)
    if sealed is None or sealed.mac is None or not hmac.compare_digest(sealed.mac, expected):
        raise EncryptionError(
            key, what, RECORD_ALTERED, "altered: its HMAC does not match its content"
        )


def seal(data: bytes | Iterable[bytes], data_key: crypto.DataKey, *, key: str) -> Iterator[bytes]:
    """The stored chunks of a file (bytes, or chunks of it) kept as ``key``."""
    chunks = [data] if isinstance(data, bytes) else data
    return crypto.encrypt_chunks(chunks, data_key, name=key)


class _Peeked:
    """A stream whose first bytes were read already."""

    def __init__(self, first: bytes, src: Readable) -> None:
        self._first = first
        self._src = src

    def read(self, size: int = -1, /) -> bytes:
        if self._first:
            if size < 0:
                head, self._first = self._first, b""
                return head + self._src.read()
            head, self._first = self._first[:size], self._first[size:]
            return head
        return self._src.read(size)


class _Raw(io.RawIOBase):
    """A plain stream as a raw one, to be buffered."""

    def __init__(self, src: Readable) -> None:
        super().__init__()
        self._src = src

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        data = self._src.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _Checked(io.RawIOBase):
    """A DecryptingReader whose errors are the persistence layer's."""

    def __init__(self, reader: crypto.DecryptingReader, key: str, what: str) -> None:
        super().__init__()
        self._reader = reader
        self._key = key
        self._what = what

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        try:
            return self._reader.readinto(buffer)
        except crypto.DecryptError as exc:
            raise EncryptionError(self._key, self._what, UNDECRYPTABLE, exc.cause) from None


class Opener:
    """Opens stored files, decrypting those in ark's format with ``keyring``'s keys (each
    data key is unwrapped once: a KMS is asked once per backup)."""

    def __init__(self, keyring: crypto.Keyring | None, *, where: str) -> None:
        self.keyring = keyring
        self.where = where
        self._unwrapped: dict[tuple[str, bytes], bytes] = {}

    def data_key(self, key_id: str, wrapped: bytes, *, key: str, what: str) -> bytes:
        if self.keyring is None:
            raise EncryptionError(
                key,
                what,
                KEY_UNAVAILABLE,
                f"encrypted with key {key_id!r}, but {self.where} has no spec.encryption",
            )
        found = self._unwrapped.get((key_id, wrapped))
        if found is not None:
            return found
        try:
            found = self.keyring.unwrap(key_id, wrapped)
        except crypto.KeyProblem as exc:
            raise EncryptionError(key, what, KEY_UNAVAILABLE, str(exc)) from None
        self._unwrapped[key_id, wrapped] = found
        return found

    def open(
        self,
        src: Readable,
        *,
        key: str,
        what: str,
        sealed: Sealed | None,
        must_encrypt: bool = False,
    ) -> io.BufferedReader:
        """``src`` decrypted when it is in ark's format. ``sealed``: what the backup's record
        says (None: there is no record, as for a failed backup's files or a restore's). With
        an encryption, the file must be encrypted under the record's data key; with PLAINTEXT
        it must not be (the record's annotation removed would otherwise go unseen).
        ``must_encrypt``: the file must be encrypted, under any data key the keyring opens (a
        chunk, shared by backups with keys of their own)."""
        first = b""
        while len(first) < len(crypto.MAGIC) and (
            piece := src.read(len(crypto.MAGIC) - len(first))
        ):
            first += piece
        peeked = _Peeked(first, src)
        if not crypto.is_encrypted(first):
            if must_encrypt or (sealed is not None and sealed is not PLAINTEXT):
                why = (
                    "every chunk of an encrypted location must be"
                    if must_encrypt
                    else "the record says it must be"
                )
                raise EncryptionError(key, what, UNDECRYPTABLE, f"not encrypted, but {why}")
            return io.BufferedReader(_Raw(peeked), buffer_size=1 << 20)
        if sealed is PLAINTEXT:
            raise EncryptionError(
                key,
                what,
                UNDECRYPTABLE,
                "encrypted, but the backup's record names no encryption (altered?)",
            )

        def key_for(header: crypto.Header) -> bytes:
            if sealed is not None and (header.key_id, header.wrapped) != (
                sealed.key_id,
                sealed.wrapped,
            ):
                raise EncryptionError(
                    key, what, UNDECRYPTABLE, "encrypted under another backup's data key"
                )
            return self.data_key(header.key_id, header.wrapped, key=key, what=what)

        try:
            reader = crypto.DecryptingReader(peeked, name=key, key_for=key_for)
        except crypto.DecryptError as exc:
            raise EncryptionError(key, what, UNDECRYPTABLE, exc.cause) from None
        return io.BufferedReader(_Checked(reader, key, what), buffer_size=1 << 20)
