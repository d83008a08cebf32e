"""A BackupStorageLocation's provider, config and credentials: errors name the key at fault."""

from __future__ import annotations

import dataclasses

import pytest

from ark import storage
from tests.storage import backends

MINIMAL = {
    "fs": storage.StoreLocation(provider="fs", bucket="/tmp/ark-config-test"),
    "aws": storage.StoreLocation(
        provider="aws",
        bucket="b",
        config={"region": "us-east-1"},
        credentials={"aws_access_key_id": "AKIDEXAMPLE", "aws_secret_access_key": "s3cr3t-value"},
    ),
    "azure": storage.StoreLocation(
        provider="azure",
        bucket="c",
        config={"storageAccount": "acct"},
        credentials={"AZURE_STORAGE_ACCOUNT_ACCESS_KEY": "a2V5LXZhbHVl"},
    ),
    "gcp": storage.StoreLocation(provider="gcp", bucket="b", config={"anonymous": "true"}),
}


def _with(location: storage.StoreLocation, **config: str) -> storage.StoreLocation:
    return dataclasses.replace(location, config={**location.config, **config})


def test_installed_providers_come_from_entry_points() -> None:
    assert storage.providers() == ["aws", "azure", "fs", "gcp", "s3"]


def test_unknown_provider_lists_the_installed_ones() -> None:
    with pytest.raises(storage.StoreConfigError, match=r"'provider'.*'dropbox'.*aws, azure, fs"):
        storage.open_store(storage.StoreLocation(provider="dropbox", bucket="b"))


@pytest.mark.parametrize("provider", sorted(MINIMAL))
def test_velero_provider_names_are_accepted(provider: str) -> None:
    location = dataclasses.replace(MINIMAL[provider], provider=f"velero.io/{provider}")
    store = storage.open_store(location)
    assert store.location.provider == provider
    assert isinstance(store, storage.ObjectStore)


@pytest.mark.parametrize("provider", sorted(MINIMAL))
def test_an_unknown_config_key_is_named(provider: str) -> None:
    with pytest.raises(storage.StoreConfigError, match=r"'config\.s3URL'.*known settings") as err:
        storage.open_store(_with(MINIMAL[provider], s3URL="http://typo"))
    assert err.value.setting == "config.s3URL"


@pytest.mark.parametrize(
    ("provider", "key", "value", "reason"),
    [
        ("aws", "s3ForcePathStyle", "sometimes", "not a boolean"),
        ("aws", "partSizeBytes", "1024", "outside the allowed range"),
        ("aws", "checksumAlgorithm", "MD4", "not one of"),
        ("aws", "serverSideEncryption", "rot13", "not one of"),
        ("aws", "retentionMode", "forever", "not one of"),
        ("aws", "customerKeyEncryptionFile", "/nonexistent/key", "cannot read it"),
        ("azure", "blockSizeInBytes", "ten", "not an integer"),
        ("azure", "storageAccountURI", "ftp://x", "not an http"),
        ("gcp", "partSizeBytes", "300000", "not a multiple of 256 KiB"),
        ("gcp", "storeEndpoint", "localhost:4443", "not an http"),
        ("fs", "fsync", "maybe", "not a boolean"),
    ],
)
def test_a_bad_config_value_is_named(provider: str, key: str, value: str, reason: str) -> None:
    with pytest.raises(storage.StoreConfigError, match=reason) as err:
        storage.open_store(_with(MINIMAL[provider], **{key: value}))
    assert err.value.setting == f"config.{key}"


def test_fs_bucket_must_be_an_absolute_path() -> None:
    with pytest.raises(storage.StoreConfigError, match="not an absolute directory") as err:
        storage.open_store(storage.StoreLocation(provider="fs", bucket="relative/dir"))
    assert err.value.setting == "bucket"


@pytest.mark.parametrize("provider", sorted(MINIMAL))
def test_an_empty_bucket_is_named(provider: str) -> None:
    with pytest.raises(storage.StoreConfigError) as err:
        storage.open_store(dataclasses.replace(MINIMAL[provider], bucket=""))
    assert err.value.setting == "bucket"


def test_a_prefix_that_escapes_is_a_config_error() -> None:
    with pytest.raises(storage.StoreConfigError) as err:
        storage.open_store(dataclasses.replace(MINIMAL["aws"], prefix="a/../../b"))
    assert err.value.setting == "prefix"


def test_credentials_never_appear_in_reprs_or_errors() -> None:
    location = MINIMAL["aws"]
    store = storage.open_store(location)
    assert "s3cr3t-value" not in repr(location)
    assert "s3cr3t-value" not in repr(store)
    half = dataclasses.replace(location, credentials={"aws_secret_access_key": "s3cr3t-value"})
    with pytest.raises(storage.StoreConfigError) as err:
        storage.open_store(half)
    assert err.value.setting == "credentials.aws_access_key_id"
    assert "s3cr3t-value" not in str(err.value)


def test_s3_unusable_secret_keys_are_listed_by_name_only() -> None:
    location = dataclasses.replace(MINIMAL["aws"], credentials={"password": "hunter2"})
    with pytest.raises(storage.StoreConfigError, match=r"\(password\)") as err:
        storage.open_store(location)
    assert "hunter2" not in str(err.value)


def test_s3_velero_cloud_file_without_the_profile_is_named() -> None:
    cloud = "[default]\naws_access_key_id=a\naws_secret_access_key=b\n"
    location = dataclasses.replace(
        MINIMAL["aws"], config={"profile": "backup"}, credentials={"cloud": cloud}
    )
    with pytest.raises(storage.StoreConfigError, match=r"no profile \[backup\].*default") as err:
        storage.open_store(location)
    assert err.value.setting == "credentials.cloud"


def test_azure_needs_an_account_name_somewhere() -> None:
    location = dataclasses.replace(MINIMAL["azure"], config={})
    with pytest.raises(storage.StoreConfigError) as err:
        storage.open_store(location)
    assert err.value.setting == "config.storageAccount"


def test_azure_client_secret_needs_tenant_and_client() -> None:
    location = dataclasses.replace(
        MINIMAL["azure"], credentials={"cloud": "AZURE_CLIENT_SECRET=x\nAZURE_CLIENT_ID=y\n"}
    )
    with pytest.raises(storage.StoreConfigError) as err:
        storage.open_store(location)
    assert err.value.setting == "credentials.AZURE_TENANT_ID"


@pytest.mark.parametrize("cloud", ["not json", '{"no": "type"}'])
def test_gcp_cloud_key_must_be_a_credentials_json(cloud: str) -> None:
    location = dataclasses.replace(MINIMAL["gcp"], config={}, credentials={"cloud": cloud})
    with pytest.raises(storage.StoreConfigError) as err:
        storage.open_store(location)
    assert err.value.setting == "credentials.cloud"


def test_lock_needs_an_aware_datetime(store: storage.ObjectStore) -> None:
    if store.location.provider == "fs":
        pytest.skip("fs refuses every lock")
    store.put("obj", b"1")
    naive = backends.later(60).replace(tzinfo=None)
    with pytest.raises(ValueError, match="timezone-aware"):
        store.lock("obj", until=naive)
