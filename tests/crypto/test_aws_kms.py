"""The aws-kms key provider on moto's KMS (a real server on loopback): data keys wrapped and
unwrapped by KMS, bound to the key id, a backup written and read through it; bad configs and a
key KMS does not have are named."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
from typing import Any

import boto3
import pytest

from ark import archive, crypto, persistence
from ark.api.backup import BackupPhase, BackupSpec
from ark.persistence import BackupStore
from ark.report import RunLog
from ark.storage import ObjectStore
from tests.archive.crafting import add_config_map

CLOUD = b"[default]\naws_access_key_id = ark-test\naws_secret_access_key = ark-secret\n"
REGION = "us-east-1"


def _kms(endpoint: str) -> Any:
    return boto3.client(
        "kms",
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="ark-test",
        aws_secret_access_key="ark-secret",
    )


@pytest.fixture
def kms_key(moto_endpoint: str) -> str:
    arn: str = _kms(moto_endpoint).create_key(Description="ark test")["KeyMetadata"]["Arn"]
    return arn


def _source(key_id: str, arn: str, endpoint: str) -> crypto.KeySource:
    return crypto.KeySource(
        key_id, provider="aws-kms", config={"keyId": arn, "kmsUrl": endpoint}, secret=CLOUD
    )


def test_kms_wraps_and_unwraps_data_keys_bound_to_the_key_id(
    kms_key: str, moto_endpoint: str
) -> None:
    kek = crypto.open_key(_source("kms1", kms_key, moto_endpoint))
    wrapped = kek.wrap(b"d" * 32)
    assert b"d" * 32 not in wrapped
    assert kek.unwrap(wrapped) == b"d" * 32
    other_id = crypto.open_key(_source("kms2", kms_key, moto_endpoint))
    with pytest.raises(crypto.UnwrapFailed, match="'kms2'"):
        other_id.unwrap(wrapped)


def test_a_backup_encrypted_under_kms_reads_back(
    kms_key: str, moto_endpoint: str, fs_store: ObjectStore
) -> None:
    kek = crypto.open_key(_source("kms1", kms_key, moto_endpoint))
    ring = crypto.Keyring({"kms1": kek}, current="kms1", where="BackupStorageLocation kms")
    backups = BackupStore(fs_store, keyring=ring)
    with archive.ArchiveWriter(io.BytesIO(), backup_name="b1") as w:
        add_config_map(w, "settings", namespace="shop")
    with backups.open_archive_write("b1") as sink:
        sink.write(b"archive: kms-s3cr3t")
    with contextlib.closing(RunLog("test")) as log:
        log.info("kms-s3cr3t")
        record = persistence.backup_record("b1", BackupSpec(), _status())
        backups.put_backup(
            "b1",
            results={},
            log=log,
            complete=persistence.CompleteBackup(manifest=w.manifest, snapshots=[], record=record),
        )
    for info in fs_store.list("backups/b1/"):
        assert b"kms-s3cr3t" not in fs_store.get(info.key)
    reader = BackupStore(fs_store, keyring=ring)
    assert reader.checked_manifest("b1", reader.record("b1")) is not None
    with reader.open_archive("b1") as src:
        assert src.read() == b"archive: kms-s3cr3t"
    assert b"kms-s3cr3t" in reader.backup_log("b1")


def test_a_key_kms_does_not_have_is_named(moto_endpoint: str) -> None:
    missing = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"
    kek = crypto.open_key(_source("kms1", missing, moto_endpoint))
    ring = crypto.Keyring({"kms1": kek}, current="kms1", where="BackupStorageLocation kms")
    with pytest.raises(crypto.KeyUnavailable, match=r"key 'kms1': AWS KMS Encrypt .*NotFound"):
        ring.new_data_key()


@pytest.mark.parametrize(
    ("config", "secret", "cause"),
    [
        ({}, CLOUD, "config.keyId is required"),
        ({"keyId": "alias/ark"}, CLOUD, "config.region is required"),
        ({"keyId": "alias/ark", "region": REGION, "colour": "blue"}, CLOUD, "unknown config"),
        ({"keyId": "alias/ark", "region": REGION}, b"not ini", "not an AWS ini"),
    ],
)
def test_a_config_kms_cannot_use_is_refused(
    config: dict[str, str], secret: bytes, cause: str
) -> None:
    with pytest.raises(ValueError, match=cause):
        crypto.open_key(crypto.KeySource("k", provider="aws-kms", config=config, secret=secret))


def _status() -> persistence.RecordStatus:
    now = dt.datetime(2026, 12, 3, tzinfo=dt.UTC)
    return persistence.RecordStatus(
        phase=BackupPhase.COMPLETED,
        started=now,
        completed=now,
        expiration=None,
        total_items=1,
        items_backed_up=1,
        warnings=0,
        errors=0,
    )
