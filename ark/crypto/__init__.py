"""Client-side encryption: the chunked AES-256-GCM object format and key-encryption keys.

    ring = crypto.Keyring({"k1": crypto.SecretKey("k1", material)}, current="k1", where="...")
    data_key = ring.new_data_key()
    stored = crypto.encrypt(b"...", data_key, name="backups/b1/b1-logs.gz")
    plain = crypto.decrypt(stored, name=..., key_for=lambda h: ring.unwrap(h.key_id, h.wrapped))

Knows nothing of a backup's layout (the persistence layer does) nor of Kubernetes (the
control layer reads the Secrets). Modules: ``stream`` (the format), ``keys`` (KEKs, providers
of the ``ark.key_providers`` entry-point group, the keyring).
"""

from ark.crypto.keys import (
    ENTRY_POINT_GROUP,
    KeyEncryptionKey,
    KeyProblem,
    Keyring,
    KeySource,
    KeyUnavailable,
    SecretKey,
    UnwrapFailed,
    key_material,
    open_key,
    providers,
)
from ark.crypto.stream import (
    CHUNK_SIZE,
    MAGIC,
    DataKey,
    DecryptError,
    DecryptingReader,
    EncryptingWriter,
    Header,
    decrypt,
    encrypt,
    encrypt_chunks,
    is_encrypted,
    read_header,
)

__all__ = [
    "CHUNK_SIZE",
    "ENTRY_POINT_GROUP",
    "MAGIC",
    "DataKey",
    "DecryptError",
    "DecryptingReader",
    "EncryptingWriter",
    "Header",
    "KeyEncryptionKey",
    "KeyProblem",
    "KeySource",
    "KeyUnavailable",
    "Keyring",
    "SecretKey",
    "UnwrapFailed",
    "decrypt",
    "encrypt",
    "encrypt_chunks",
    "is_encrypted",
    "key_material",
    "open_key",
    "providers",
    "read_header",
]
