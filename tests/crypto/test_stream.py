"""The encrypted object format: every size round-trips; truncation, a flipped byte, swapped
chunks, another object's bytes and a wrong key fail, naming the key id."""

from __future__ import annotations

import io
import os
from collections.abc import Callable

import pytest

from ark import crypto

NAME = "backups/b1/b1.tar.gz"
CHUNK = 64


def _ring(key_id: str = "k1", material: bytes | None = None) -> crypto.Keyring:
    kek = crypto.SecretKey(key_id, material or os.urandom(32))
    return crypto.Keyring({key_id: kek}, current=key_id, where="BackupStorageLocation default")


RING = _ring()


def _key_for(ring: crypto.Keyring) -> Callable[[crypto.Header], bytes]:
    return lambda h: ring.unwrap(h.key_id, h.wrapped)


def _seal(data: bytes, *, name: str = NAME, ring: crypto.Keyring = RING) -> bytes:
    return crypto.encrypt(data, ring.new_data_key(), name=name, chunk_size=CHUNK)


def _open(stored: bytes, *, name: str = NAME, ring: crypto.Keyring = RING) -> bytes:
    return crypto.decrypt(stored, name=name, key_for=_key_for(ring))


def _header_size(stored: bytes) -> int:
    src = io.BytesIO(stored)
    crypto.read_header(src)
    return src.tell()


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 10 * CHUNK + 7])
def test_every_size_round_trips(size: int) -> None:
    data = os.urandom(size)
    stored = _seal(data)
    # A few random bytes may well occur somewhere in a ciphertext by chance; 16 may not.
    assert data not in stored or size < 16
    assert _open(stored) == data


def test_the_writer_and_the_chunk_iterator_write_the_same_format() -> None:
    data = os.urandom(5 * CHUNK + 3)
    sink = io.BytesIO()
    writer = crypto.EncryptingWriter(sink, RING.new_data_key(), name=NAME, chunk_size=CHUNK)
    for i in range(0, len(data), 50):
        writer.write(data[i : i + 50])
    writer.close()
    assert _open(sink.getvalue()) == data
    pieces = [data[:7], data[7:200], data[200:]]
    stored = b"".join(
        crypto.encrypt_chunks(pieces, RING.new_data_key(), name=NAME, chunk_size=CHUNK)
    )
    assert _open(stored) == data


def test_reads_of_any_size_return_the_plaintext() -> None:
    data = os.urandom(4 * CHUNK + 9)
    reader = crypto.DecryptingReader(io.BytesIO(_seal(data)), name=NAME, key_for=_key_for(RING))
    got = bytearray()
    while piece := reader.read(37):
        got += piece
    assert bytes(got) == data


def test_the_header_names_the_key_and_its_wrapped_data_key() -> None:
    data_key = RING.new_data_key()
    stored = crypto.encrypt(b"x", data_key, name=NAME)
    header = crypto.read_header(io.BytesIO(stored))
    assert (header.key_id, header.wrapped) == ("k1", data_key.wrapped)
    assert header.chunk_size == crypto.CHUNK_SIZE
    assert crypto.is_encrypted(stored)
    assert "key=" not in repr(data_key)


@pytest.mark.parametrize("cut", [1, CHUNK + 16, 2 * (CHUNK + 16)])
def test_a_truncated_object_fails(cut: int) -> None:
    stored = _seal(os.urandom(3 * CHUNK))
    with pytest.raises(crypto.DecryptError, match=r"truncated|authentication") as caught:
        _open(stored[:-cut])
    assert caught.value.key_id == "k1"


def test_truncation_at_a_chunk_boundary_is_named() -> None:
    stored = _seal(os.urandom(3 * CHUNK))
    end = _header_size(stored) + 2 * (CHUNK + 16)
    with pytest.raises(crypto.DecryptError, match="truncated after chunk 1"):
        _open(stored[:end])


def test_a_flipped_byte_fails() -> None:
    stored = bytearray(_seal(os.urandom(3 * CHUNK)))
    stored[_header_size(bytes(stored)) + CHUNK + 20] ^= 1
    with pytest.raises(crypto.DecryptError, match="chunk 1 fails authentication"):
        _open(bytes(stored))


def test_a_flipped_header_byte_fails() -> None:
    stored = bytearray(_seal(b"some data"))
    stored[10] ^= 1  # inside the nonce prefix
    with pytest.raises(crypto.DecryptError, match="chunk 0"):
        _open(bytes(stored))


def test_swapped_chunks_fail() -> None:
    stored = _seal(os.urandom(3 * CHUNK))
    start, block = _header_size(stored), CHUNK + 16
    header, chunks = stored[:start], stored[start:]
    swapped = header + chunks[block : 2 * block] + chunks[:block] + chunks[2 * block :]
    with pytest.raises(crypto.DecryptError, match="chunk 0 fails authentication"):
        _open(swapped)


def test_an_object_stored_under_another_name_fails() -> None:
    stored = _seal(b"the log of backup b2", name="backups/b2/b2-logs.gz")
    with pytest.raises(crypto.DecryptError, match="another object's"):
        _open(stored, name="backups/b1/b1-logs.gz")


def test_a_wrong_key_by_the_same_id_fails_naming_it() -> None:
    stored = _seal(b"secret")
    with pytest.raises(crypto.UnwrapFailed, match="'k1'"):
        _open(stored, ring=_ring("k1"))


def test_a_key_not_listed_fails_naming_its_id_and_the_location() -> None:
    stored = _seal(b"secret")
    with pytest.raises(crypto.KeyUnavailable) as caught:
        _open(stored, ring=_ring("k2"))
    assert "'k1'" in str(caught.value)
    assert "BackupStorageLocation default" in str(caught.value)


def test_plaintext_is_refused() -> None:
    with pytest.raises(crypto.DecryptError, match="not encrypted by ark"):
        _open(b"\x1f\x8b plain gzip")


def test_a_hostile_chunk_size_is_refused() -> None:
    stored = bytearray(_seal(b"x"))
    stored[7:11] = (1 << 30).to_bytes(4, "big")
    with pytest.raises(crypto.DecryptError, match="chunk size"):
        _open(bytes(stored))
