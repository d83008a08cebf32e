"""Key-encryption keys (KEKs) and the keyring of a storage location.

Envelope encryption: each backup gets a random 256-bit data key; a KEK wraps it, and the
wrapped key is stored with the backup (the record and every object's header). A location lists
several KEKs by id and names the current one: new backups use the current key; a backup whose
key is still listed can be read (rotation).

KEKs come from providers, the ``ark.key_providers`` entry-point group: a callable
``open_key(source: KeySource) -> KeyEncryptionKey``. ``secret`` is built in: the key material is
a Secret's value (32 bytes, raw, base64 or hex), wrapping with AES-256-GCM. A KMS provider
(e.g. AWS KMS: ``config`` names the key, ``secret`` holds credentials) is another entry point.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ark.crypto.stream import DataKey

ENTRY_POINT_GROUP = "ark.key_providers"
DATA_KEY_BYTES = 32


class KeyProblem(Exception):
    """Base of the key errors; the message names the key id and where it was looked for."""


class KeyUnavailable(KeyProblem):
    """A backup's key-encryption key is not listed (or cannot be opened) where it is read."""


class UnwrapFailed(KeyProblem):
    """A wrapped data key does not open with the key of its id (another key by that id, or
    altered)."""


class KeyEncryptionKey(Protocol):
    """Wraps and unwraps data keys. ``unwrap`` raises UnwrapFailed for a wrapped key it did
    not make."""

    @property
    def id(self) -> str: ...

    def wrap(self, data_key: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes) -> bytes: ...


@dataclass(frozen=True)
class KeySource:
    """What a provider opens a key from: its id, the provider's ``config`` and the bytes of
    the Secret key named for it (key material, or a KMS's credentials), if any."""

    id: str
    provider: str = "secret"
    config: Mapping[str, str] = field(default_factory=dict)
    secret: bytes | None = field(default=None, repr=False)


def key_material(raw: bytes) -> bytes:
    """32 bytes of key from a Secret's value: the raw bytes, or their base64 or hex text."""
    if len(raw) == DATA_KEY_BYTES:
        return raw
    text = raw.strip()
    try:
        if len(text) == 2 * DATA_KEY_BYTES:
            return bytes.fromhex(text.decode("ascii"))
        decoded = base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        decoded = b""
    if len(decoded) != DATA_KEY_BYTES:
        raise ValueError(
            "not a 256-bit key: expected 32 bytes, raw or as base64 or hex "
            "(e.g. `openssl rand -base64 32`)"
        )
    return decoded


class SecretKey:
    """A KEK held in a Secret: AES-256-GCM wraps each data key (nonce | ciphertext | tag),
    with the key id as associated data."""

    def __init__(self, key_id: str, material: bytes) -> None:
        self._id = key_id
        self._aead = AESGCM(key_material(material))

    @property
    def id(self) -> str:
        return self._id

    def wrap(self, data_key: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, data_key, self._id.encode())

    def unwrap(self, wrapped: bytes) -> bytes:
        try:
            return self._aead.decrypt(wrapped[:12], wrapped[12:], self._id.encode())
        except (InvalidTag, ValueError):
            raise UnwrapFailed(
                f"the data key does not open with key {self._id!r} (another key by that id?)"
            ) from None


def open_secret_key(source: KeySource) -> KeyEncryptionKey:
    """The ``secret`` provider."""
    if source.secret is None:
        raise ValueError("provider secret needs a Secret key holding the key material")
    return SecretKey(source.id, source.secret)


def providers() -> list[str]:
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def open_key(source: KeySource) -> KeyEncryptionKey:
    """The KEK of ``source`` from its provider; ValueError saying why it cannot be opened."""
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == source.provider]
    if not found:
        known = ", ".join(providers()) or "none"
        raise ValueError(f"no key provider named {source.provider!r} (installed: {known})")
    opened: KeyEncryptionKey = found[0].load()(source)
    return opened


@dataclass(frozen=True)
class Keyring:
    """A location's KEKs by id and the current one (None: new files are not encrypted);
    ``where`` names the location in errors. A key id listed whose key could not be opened is
    in ``broken`` with the reason."""

    keys: Mapping[str, KeyEncryptionKey]
    current: str | None
    where: str
    broken: Mapping[str, str] = field(default_factory=dict)

    def new_data_key(self) -> DataKey:
        """A random data key wrapped by the current KEK."""
        if self.current is None:
            raise KeyUnavailable(f"{self.where} has no current encryption key")
        kek = self.kek(self.current)
        key = os.urandom(DATA_KEY_BYTES)
        return DataKey(key=key, key_id=kek.id, wrapped=kek.wrap(key))

    def kek(self, key_id: str) -> KeyEncryptionKey:
        if key_id in self.broken:
            raise KeyUnavailable(
                f"encryption key {key_id!r} of {self.where} cannot be used: {self.broken[key_id]}"
            )
        if key_id not in self.keys:
            listed = ", ".join(repr(k) for k in sorted(self.keys)) or "none"
            raise KeyUnavailable(
                f"encrypted with key {key_id!r}, which {self.where} does not list "
                f"(spec.encryption.keys: {listed})"
            )
        return self.keys[key_id]

    def unwrap(self, key_id: str, wrapped: bytes) -> bytes:
        try:
            return self.kek(key_id).unwrap(wrapped)
        except UnwrapFailed as exc:
            raise UnwrapFailed(f"{self.where}: {exc}") from None
