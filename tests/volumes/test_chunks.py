"""Chunks in a storage location: named by content, compressed, bounded on read, checked
against their name, and in an encrypted location sealed and named by a keyed hash."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import os

import pytest

from ark import archive, crypto, persistence
from ark.api.backup import BackupPhase, BackupSpec
from ark.persistence import BackupStore, EncryptionError, StoredFileError, keys
from ark.persistence.chunks import is_zero
from ark.persistence.volume_index import BlockEntry, VolumeIndex, VolumeSource, decode
from ark.report import RunLog
from ark.storage import ObjectNotFound, ObjectStore
from tests.support import tampering
from tests.volumes.conftest import BLOCK, ZERO, random_block, text_block

WHERE = "BackupStorageLocation default"


def _ring(key_id: str = "a") -> crypto.Keyring:
    return crypto.Keyring(
        {key_id: crypto.SecretKey(key_id, os.urandom(32))}, current=key_id, where=WHERE
    )


def test_a_chunk_is_named_by_its_sha256_and_stored_compressed(store: ObjectStore) -> None:
    chunks = BackupStore(store).chunk_store("b1")
    block = text_block(b"ark volume export ")
    name = chunks.name_of(block)
    assert name == hashlib.sha256(block).hexdigest()
    assert chunks.stored_size(name) is None
    size = chunks.put(name, block)
    key = f"plugins/ark/volumes/chunks/sha256/{name[:2]}/{name}"
    assert [(i.key, i.size) for i in store.list("plugins/")] == [(key, size)]
    assert size < BLOCK // 100
    assert gzip.decompress(store.get(key)) == block
    assert chunks.stored_size(name) == size
    assert chunks.get(name, size=BLOCK) == block


def test_an_incompressible_block_is_stored_not_deflated_and_still_gzip(
    store: ObjectStore,
) -> None:
    chunks = BackupStore(store).chunk_store("b1")
    block = random_block()
    name = chunks.name_of(block)
    size = chunks.put(name, block)
    stored = store.get(chunks.key_of(name))
    assert BLOCK < size == len(stored) < BLOCK + 1024  # gzip's stored blocks: a few headers
    assert gzip.decompress(stored) == block
    assert chunks.get(name, size=BLOCK) == block


def test_zero_blocks_are_recognised() -> None:
    assert is_zero(ZERO)
    assert not is_zero(ZERO[:-1] + b"\x01")


def test_a_missing_chunk_is_not_found(store: ObjectStore) -> None:
    chunks = BackupStore(store).chunk_store("b1")
    with pytest.raises(ObjectNotFound):
        chunks.get("0" * 64, size=BLOCK)


def test_a_flipped_byte_is_refused_naming_the_chunk(store: ObjectStore) -> None:
    chunks = BackupStore(store).chunk_store("b1")
    block = random_block()
    name = chunks.name_of(block)
    chunks.put(name, block)
    key = chunks.key_of(name)
    data = bytearray(tampering.read(store, key))
    data[len(data) // 2] ^= 0xFF
    store.put(key, bytes(data))
    with pytest.raises(StoredFileError, match=f"chunk {name}"):
        chunks.get(name, size=BLOCK)


def test_another_blocks_content_under_a_name_is_refused(store: ObjectStore) -> None:
    chunks = BackupStore(store).chunk_store("b1")
    block, other = random_block(), random_block()
    name = chunks.name_of(block)
    store.put(chunks.key_of(name), gzip.compress(other))
    with pytest.raises(StoredFileError, match=rf"chunk {name}.*does not hash to its name"):
        chunks.get(name, size=BLOCK)


def test_a_chunk_inflating_past_its_block_is_refused(store: ObjectStore) -> None:
    chunks = BackupStore(store).chunk_store("b1")
    name = "ab" * 32
    store.put(chunks.key_of(name), gzip.compress(bytes(64 * BLOCK)))  # a gzip bomb, small
    with pytest.raises(StoredFileError, match="inflates to more than its limit"):
        chunks.get(name, size=BLOCK)
    store.put(chunks.key_of(name), os.urandom(2 * BLOCK))
    with pytest.raises(StoredFileError, match="larger than its limit"):
        chunks.get(name, size=BLOCK)


def test_an_encrypted_location_seals_chunks_and_names_them_by_keyed_hash(
    store: ObjectStore,
) -> None:
    ring = _ring()
    chunks = BackupStore(store, keyring=ring).chunk_store("b1")
    block = text_block(b"s3cr3t-block ")
    name = chunks.name_of(block)
    assert name != hashlib.sha256(block).hexdigest()
    chunks.put(name, block)
    key = chunks.key_of(name)
    assert key.startswith(f"plugins/ark/volumes/chunks/hmac-{chunks.naming.key_id}/")
    stored = store.get(key)
    assert crypto.is_encrypted(stored)
    assert b"s3cr3t" not in stored
    naming_keys = [i.key for i in store.list(keys.NAMING_KEYS)]
    assert naming_keys == [keys.naming_key(str(chunks.naming.key_id))]
    # another backup, another store object: the same naming key, the chunk is shared
    again = BackupStore(store, keyring=ring).chunk_store("b2")
    assert again.name_of(block) == name
    assert again.stored_size(name) == len(stored)
    assert again.get(name, size=BLOCK) == block


def test_a_plaintext_chunk_in_an_encrypted_namespace_is_refused(store: ObjectStore) -> None:
    chunks = BackupStore(store, keyring=_ring()).chunk_store("b1")
    block = random_block()
    name = chunks.name_of(block)
    store.put(chunks.key_of(name), gzip.compress(block))
    with pytest.raises(EncryptionError, match="not encrypted"):
        chunks.get(name, size=BLOCK)


def test_without_the_key_an_encrypted_locations_chunks_do_not_read(store: ObjectStore) -> None:
    chunks = BackupStore(store, keyring=_ring("a")).chunk_store("b1")
    block = random_block()
    name = chunks.name_of(block)
    chunks.put(name, block)
    index = _index(chunks.naming.scheme, chunks.naming.key_id, [BlockEntry(0, name, 1)])
    with pytest.raises(EncryptionError, match="key 'a'"):
        BackupStore(store, keyring=_ring("b")).chunks_of("b1", index)


def _index(naming: str, key: str | None, blocks: list[BlockEntry]) -> VolumeIndex:
    return VolumeIndex(
        volume="pv-data",
        size_bytes=1 << 30,
        block_size=BLOCK,
        source=VolumeSource("aws", "eu-west-1", "snap-1", "vol-1"),
        naming=naming,
        naming_key=key,
        blocks=blocks,
    )


def test_an_index_round_trips_and_garbage_is_refused(store: ObjectStore) -> None:
    backups = BackupStore(store)
    index = _index("sha256", None, [BlockEntry(0, "a" * 64, 10), BlockEntry(7, "b" * 64, 20)])
    backups.put_volume_index("b1", index)
    assert backups.volume_index("b1", "pv-data") == index
    assert backups.exported_volumes("b1") == ["pv-data"]
    key = keys.BackupKeys(archive.backup_name("b1")).volume_index("pv-data")
    assert key == "backups/b1/volumes/pv-data.index.json.gz"
    out_of_order = index.encode().replace(b"[7,", b"[0,")
    store.put(key, gzip.compress(out_of_order))
    with pytest.raises(StoredFileError, match=r"volume index pv-data of backup b1.*out of order"):
        backups.volume_index("b1", "pv-data")
    with pytest.raises(ValueError, match="version"):
        decode(index.encode().replace(b'"version":1', b'"version":9'))


def _complete(backups: BackupStore, name: str) -> None:
    """A complete (empty) backup: its record written last."""
    with archive.ArchiveWriter(io.BytesIO(), backup_name=name) as writer:
        pass
    now = dt.datetime(2026, 12, 4, tzinfo=dt.UTC)
    status = persistence.RecordStatus(
        phase=BackupPhase.COMPLETED,
        started=now,
        completed=now,
        expiration=None,
        total_items=0,
        items_backed_up=0,
        warnings=0,
        errors=0,
    )
    log = RunLog("test")
    try:
        backups.put_backup(
            name,
            results={"errors": {}},
            log=log,
            complete=persistence.CompleteBackup(
                manifest=writer.manifest,
                snapshots=[],
                record=persistence.backup_record(name, BackupSpec(), status),
            ),
        )
    finally:
        log.close()


def test_an_index_written_after_the_record_is_sealed_with_the_records_key(
    store: ObjectStore,
) -> None:
    ring = _ring()
    _complete(BackupStore(store, keyring=ring), "b1")
    later = BackupStore(store, keyring=ring)  # ``ark backup export-volumes``, another day
    index = _index("hmac-sha256", later.chunk_store("b1").naming.key_id, [])
    later.put_volume_index("b1", index)
    key = keys.BackupKeys(archive.backup_name("b1")).volume_index("pv-data")
    sealed = persistence.sealed_of(BackupStore(store).record("b1"))
    assert sealed is not None
    header = crypto.read_header(io.BytesIO(store.get(key)))
    assert (header.key_id, header.wrapped) == (sealed.key_id, sealed.wrapped)
    assert BackupStore(store, keyring=ring).volume_index("b1", "pv-data") == index


def test_an_index_written_before_the_record_shares_the_backups_key(store: ObjectStore) -> None:
    ring = _ring()
    backups = BackupStore(store, keyring=ring)
    index = _index("hmac-sha256", backups.chunk_store("b1").naming.key_id, [])
    backups.put_volume_index("b1", index)
    _complete(backups, "b1")
    assert BackupStore(store, keyring=ring).volume_index("b1", "pv-data") == index
