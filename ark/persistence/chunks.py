"""Content-addressed chunks of exported volumes: one stored object per distinct non-zero block.

A chunk is one block, gzip'd (level 1: a block is read once and written once, and level 1 has
most of the gain; level 0, stored, for a block whose start does not compress) and, in an
encrypted location, sealed in ``ark.crypto``'s format under the data key of the backup that
first stored it. The sealed header names that key, so every backup
sharing the chunk opens it with the location's keyring; the chunk's key is the associated
data, so a chunk copied under another name does not open. Zero blocks are never stored.

Names (``keys.chunk_key``: ``plugins/ark/volumes/chunks/<namespace>/<name[:2]>/<name>``):

- a plaintext location: namespace ``sha256``, the name is the block's SHA-256. Anyone who
  may list the bucket can tell whether a block they know (a public image's, a guessable
  file's) is stored; the blocks themselves are readable there anyway.
- an encrypted location: namespace ``hmac-<id>``, the name is HMAC-SHA256 of the block under
  the location's naming key ``<id>``, a random key kept wrapped by the location's key
  (``keys.naming_key``). A listing then tells only how many distinct blocks there are and
  their sizes, not what they hold; dedup still works across the location's backups and
  volumes. An encrypted backup never shares a chunk with a plaintext one (another
  namespace), so it cannot end up naming a chunk stored in the clear.

Two exports that make a naming key at the same moment each write their own; every later
export uses the one whose id sorts first (among those the keyring opens), so the location
converges on one, losing only some dedup meanwhile. A key-encryption key removed from the
location takes its naming keys with it: the next export makes a new one.

``ChunkStore.get`` is the one way a block is read back: bounded (stored, and inflated to the
index's block size exactly), decrypted, and its name recomputed from its content: a chunk that
does not hash to its name is a StoredFileError naming it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import orjson

from ark import crypto
from ark.persistence import encryption, keys, reading
from ark.persistence.errors import StoredFileError
from ark.persistence.limits import FileLimit, Limits
from ark.storage import ObjectNotFound, ObjectStore

_log = logging.getLogger("ark.persistence")

SHA256 = "sha256"
HMAC_SHA256 = "hmac-sha256"
_NAMING_ALGORITHM = "HMAC-SHA256"
_NAMING_CONTEXT = b"ark chunk naming v1"
_GZIP_WBITS = 16 + zlib.MAX_WBITS


@dataclass(frozen=True)
class ChunkNaming:
    """How a location names chunks: by SHA-256, or by HMAC-SHA256 under naming key
    ``key_id``."""

    scheme: str
    key_id: str | None = None
    key: bytes = field(default=b"", repr=False)

    @property
    def encrypted(self) -> bool:
        """Chunks named this way must be encrypted (an encrypted location's)."""
        return self.scheme == HMAC_SHA256

    @property
    def namespace(self) -> str:
        return SHA256 if self.key_id is None else f"hmac-{self.key_id}"

    def name_of(self, block: bytes) -> str:
        if self.key_id is None:
            return hashlib.sha256(block).hexdigest()
        return hmac.new(self.key, block, hashlib.sha256).hexdigest()

    def same_as(self, scheme: str, key_id: str | None) -> bool:
        """Whether an index naming chunks ``scheme``/``key_id`` names them as this does (its
        chunks can be reused)."""
        return (self.scheme, self.key_id) == (scheme, key_id)


PLAIN_NAMING = ChunkNaming(SHA256)


def _hmac_naming(key_id: str, material: bytes) -> ChunkNaming:
    """The naming of key ``key_id``: a key derived from the unwrapped one, so the stored key
    serves this one purpose."""
    derived = hmac.new(material, _NAMING_CONTEXT, hashlib.sha256).digest()
    return ChunkNaming(HMAC_SHA256, key_id, derived)


def _key_id(wrapped: bytes) -> str:
    """A naming key's id: the first 16 hex digits of the SHA-256 of its wrapped form, so a
    key file cannot be swapped for another under the same id."""
    return hashlib.sha256(wrapped).hexdigest()[:16]


_PROBE = 32 * 1024
_INCOMPRESSIBLE = 0.9


def _level(block: bytes) -> int:
    """gzip's level for the block: 1, or 0 (stored, still gzip) when a probe of its start
    does not shrink by a tenth: deflating random or already-compressed data costs about 12 ms
    a block for nothing, storing it under 1 ms."""
    probe = block[:_PROBE]
    return 1 if len(zlib.compress(probe, 1)) < _INCOMPRESSIBLE * len(probe) else 0


def is_zero(block: bytes) -> bool:
    """Whether the block is all zeros (it is not stored: a new volume reads zeros there)."""
    return not block.strip(b"\0")


class ChunkStore:
    """The chunks of one storage location. ``data_key``: what new chunks are sealed with (the
    backup's; None in a plaintext location)."""

    def __init__(
        self,
        objects: ObjectStore,
        naming: ChunkNaming,
        *,
        opener: encryption.Opener,
        data_key: crypto.DataKey | None = None,
        limits: Limits,
    ) -> None:
        if data_key is not None and not naming.encrypted:
            raise ValueError("a plaintext location's chunks are not sealed")
        self.objects = objects
        self.naming = naming
        self._opener = opener
        self._data_key = data_key
        self._limit = limits.chunk

    def key_of(self, name: str) -> str:
        return keys.chunk_key(self.naming.namespace, name)

    def name_of(self, block: bytes) -> str:
        return self.naming.name_of(block)

    def stored_size(self, name: str) -> int | None:
        """The stored size of chunk ``name``; None when it is not stored. (A listing of its own
        key: one request, as HEAD, and it says the size.)"""
        key = self.key_of(name)
        for info in self.objects.list(key):
            if info.key == key:
                return info.size
        return None

    def put(self, name: str, block: bytes) -> int:
        """Store ``block`` (whose name is ``name``) as its chunk; returns the stored size.
        Writing a chunk that is there already rewrites the same content."""
        if self.naming.encrypted and self._data_key is None:
            raise ValueError("an encrypted location's chunks need a data key to be written")
        key = self.key_of(name)
        deflater = zlib.compressobj(_level(block), zlib.DEFLATED, _GZIP_WBITS)
        packed = deflater.compress(block) + deflater.flush()
        if self._data_key is not None:
            packed = b"".join(encryption.seal(packed, self._data_key, key=key))
        self.objects.put(key, packed)
        return len(packed)

    def get(self, name: str, *, size: int) -> bytes:
        """The block of chunk ``name``, which must be ``size`` bytes long. ObjectNotFound when
        it is not stored; StoredFileError when it is over its limit, garbage, not encrypted in
        an encrypted location, or does not hash to its name."""
        key = self.key_of(name)
        what = f"chunk {name}"
        if size > (self._limit.decompressed or 0):
            raise StoredFileError(key, what, f"a block of {size} bytes is over the chunk limit")
        # gzip adds at most ~0.03% to an incompressible block; sealing 16 bytes per 256 KiB
        # and a header: 1/64 plus 64 KiB is far above both.
        limit = FileLimit(
            stored=min(self._limit.stored, size + size // 64 + 65536), decompressed=size
        )
        block = reading.read(
            self.objects,
            key,
            what=what,
            limit=limit,
            decode=lambda src: self._opener.open(
                src, key=key, what=what, sealed=None, must_encrypt=self.naming.encrypted
            ),
        )
        if len(block) != size:
            raise StoredFileError(key, what, f"holds {len(block)} bytes, not a block of {size}")
        if not hmac.compare_digest(self.naming.name_of(block), name):
            raise StoredFileError(key, what, "its content does not hash to its name (altered?)")
        return block


# -- naming keys ---------------------------------------------------------------------------
def _read_naming_key(
    objects: ObjectStore, key_id: str, *, opener: encryption.Opener, limits: Limits
) -> ChunkNaming:
    """Naming key ``key_id`` of the location, unwrapped. ObjectNotFound when it is not there;
    StoredFileError (EncryptionError) when it is garbage or the keyring cannot open it."""
    key = keys.naming_key(key_id)
    what = f"chunk-naming key {key_id}"
    document = reading.read_json(objects, key, what=what, limit=limits.naming_key)
    try:
        kek_id = str(document["keyId"])
        wrapped = base64.b64decode(str(document["wrappedKey"]), validate=True)
        algorithm = document["algorithm"]
    except (KeyError, TypeError, ValueError) as exc:
        raise StoredFileError(key, what, f"not a wrapped key ({exc!r})") from None
    if algorithm != _NAMING_ALGORITHM or _key_id(wrapped) != key_id:
        raise StoredFileError(key, what, "not the key its name says (altered?)")
    material = opener.data_key(kek_id, wrapped, key=key, what=what)
    return _hmac_naming(key_id, material)


def naming_of(
    objects: ObjectStore,
    scheme: str,
    key_id: str | None,
    *,
    opener: encryption.Opener,
    limits: Limits,
    where: str,
) -> ChunkNaming:
    """The naming an index says its chunks have (to read them back)."""
    if scheme == SHA256 and key_id is None:
        return PLAIN_NAMING
    if scheme == HMAC_SHA256 and key_id is not None:
        try:
            return _read_naming_key(objects, key_id, opener=opener, limits=limits)
        except ObjectNotFound:
            raise StoredFileError(
                keys.naming_key(key_id), f"chunk-naming key {key_id}", "missing"
            ) from None
    raise StoredFileError(where, "chunk naming", f"unknown scheme {scheme!r} (key {key_id!r})")


def _naming_key_ids(objects: ObjectStore) -> Iterator[str]:
    for info in objects.list(keys.NAMING_KEYS):
        stem = info.key.removeprefix(keys.NAMING_KEYS).removesuffix(".json")
        if len(stem) == 16 and info.key.endswith(".json"):
            yield stem


def location_naming(
    objects: ObjectStore,
    keyring: crypto.Keyring | None,
    *,
    opener: encryption.Opener,
    limits: Limits,
) -> ChunkNaming:
    """How new chunks are named in this location: by SHA-256 when it does not encrypt, else by
    the first naming key (by id) the keyring opens, made and stored when there is none."""
    if keyring is None or keyring.current is None:
        return PLAIN_NAMING
    for key_id in sorted(_naming_key_ids(objects)):
        try:
            return _read_naming_key(objects, key_id, opener=opener, limits=limits)
        except (ObjectNotFound, StoredFileError) as exc:
            _log.info("chunk-naming key %s not used: %s", key_id, exc)
    try:
        made = keyring.new_data_key()
    except crypto.KeyProblem as exc:
        raise encryption.EncryptionError(
            keys.NAMING_KEYS, "chunk-naming key", encryption.KEY_UNAVAILABLE, str(exc)
        ) from None
    key_id = _key_id(made.wrapped)
    document = {
        "algorithm": _NAMING_ALGORITHM,
        "keyId": made.key_id,
        "wrappedKey": base64.b64encode(made.wrapped).decode(),
    }
    objects.put(keys.naming_key(key_id), orjson.dumps(document))
    return _hmac_naming(key_id, made.key)
