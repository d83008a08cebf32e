"""Key-encryption keys: the secret provider's material, wrapping, the keyring and rotation."""

from __future__ import annotations

import base64
import os

import pytest

from ark import crypto


def test_key_material_is_raw_base64_or_hex() -> None:
    key = os.urandom(32)
    assert crypto.key_material(key) == key
    assert crypto.key_material(base64.b64encode(key) + b"\n") == key
    assert crypto.key_material(key.hex().encode()) == key
    with pytest.raises(ValueError, match="256-bit"):
        crypto.key_material(b"password")


def test_the_secret_provider_is_an_entry_point() -> None:
    assert "secret" in crypto.providers()
    kek = crypto.open_key(crypto.KeySource("k1", secret=os.urandom(32)))
    assert kek.unwrap(kek.wrap(b"d" * 32)) == b"d" * 32
    with pytest.raises(ValueError, match="no key provider named 'nope'"):
        crypto.open_key(crypto.KeySource("k1", provider="nope"))


def test_a_wrapped_key_is_bound_to_its_key_id() -> None:
    material = os.urandom(32)
    wrapped = crypto.SecretKey("a", material).wrap(b"d" * 32)
    with pytest.raises(crypto.UnwrapFailed):
        crypto.SecretKey("b", material).unwrap(wrapped)


def test_rotation_new_keys_use_the_current_key_old_ones_still_open() -> None:
    a, b = crypto.SecretKey("a", os.urandom(32)), crypto.SecretKey("b", os.urandom(32))
    old = crypto.Keyring({"a": a}, current="a", where="here").new_data_key()
    ring = crypto.Keyring({"a": a, "b": b}, current="b", where="here")
    new = ring.new_data_key()
    assert new.key_id == "b"
    assert ring.unwrap(old.key_id, old.wrapped) == old.key
    retired = crypto.Keyring({"b": b}, current="b", where="BackupStorageLocation x")
    with pytest.raises(crypto.KeyUnavailable, match=r"key 'a'.*BackupStorageLocation x"):
        retired.unwrap(old.key_id, old.wrapped)


def test_a_listed_key_that_could_not_be_opened_says_why() -> None:
    ring = crypto.Keyring({}, current="a", where="here", broken={"a": "Secret ns/k not found"})
    with pytest.raises(crypto.KeyUnavailable, match="key 'a' of here cannot be used: Secret"):
        ring.new_data_key()
