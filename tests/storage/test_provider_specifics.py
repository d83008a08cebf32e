"""What only one provider has: credential formats, S3 Object Lock on the server, fs symlinks."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.storage.blob import ContainerSasPermissions, generate_container_sas
from botocore.exceptions import ClientError

from ark import storage
from ark.storage import fs
from tests.conftest import S3Server
from tests.storage import backends
from tests.support.faultproxy import FaultProxy

MB = 1024 * 1024


@pytest.fixture
def s3(minio: S3Server) -> Iterator[backends.S3Backend]:
    harness = backends.S3Backend(server=minio)
    yield harness
    harness.cleanup()


@pytest.fixture
def azure(azurite: backends.AzureServer) -> Iterator[backends.AzureBackend]:
    harness = backends.AzureBackend(server=azurite)
    yield harness
    harness.cleanup()


# -- S3 --------------------------------------------------------------------------------------


def test_s3_reads_velero_cloud_credentials_with_a_profile(s3: backends.S3Backend) -> None:
    location = s3.new_location()
    key_id = location.credentials["aws_access_key_id"]
    secret = location.credentials["aws_secret_access_key"]
    cloud = (
        "[default]\naws_access_key_id=wrong\naws_secret_access_key=wrong\n\n"
        f"[backup]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n"
    )
    store = storage.open_store(
        dataclasses.replace(
            location, config={**location.config, "profile": "backup"}, credentials={"cloud": cloud}
        )
    )
    store.put("velero/creds", b"ok")
    assert store.get("velero/creds") == b"ok"


def test_s3_large_objects_go_up_in_parts(s3: backends.S3Backend) -> None:
    location = s3.new_location()
    location = dataclasses.replace(
        location, config={**location.config, "partSizeBytes": str(5 * MB)}
    )
    store = storage.open_store(location)
    store.put("parts", os.urandom(12 * MB))
    head = s3.server.client().head_object(  # type: ignore[attr-defined]
        Bucket=location.bucket, Key=f"{location.prefix}/parts"
    )
    assert head["ContentLength"] == 12 * MB
    assert head["ETag"].strip('"').endswith("-3")  # a multipart ETag: 5 + 5 + 2 MiB


def test_s3_reads_resume_where_a_broken_connection_cut_them(s3: backends.S3Backend) -> None:
    """Three responses cut by a TCP reset part-way (a proxy before MinIO): the read goes on
    from where each broke, with ranged GETs of the same version, and returns every byte."""
    location = s3.new_location()
    data = os.urandom(3 * MB)
    storage.open_store(location).put("big", data)
    where = urllib.parse.urlparse(s3.server.endpoint)
    proxy = FaultProxy((where.hostname or "", where.port or 80), seed=7, limit=3)
    try:
        proxy.set("reset", 1.0)
        through = dataclasses.replace(location, config={**location.config, "s3Url": proxy.url})
        assert storage.open_store(through).get("big") == data
        assert proxy.injected["reset"] == 3
    finally:
        proxy.close()


def test_s3_aborted_upload_leaves_no_parts_behind(s3: backends.S3Backend) -> None:
    location = s3.new_location()
    store = storage.open_store(location)
    with pytest.raises(RuntimeError), store.open_write("aborted") as writer:
        writer.write(b"x" * (40 * MB))
        raise RuntimeError("interrupted")
    client: Any = s3.server.client()
    assert client.list_multipart_uploads(Bucket=location.bucket).get("Uploads", []) == []


def test_s3_object_lock_is_enforced_by_the_server(s3: backends.S3Backend) -> None:
    location = s3.new_location(retention=True)
    store = storage.open_store(location)
    store.put("locked", b"precious")
    store.lock("locked", until=backends.later(120))
    client: Any = s3.server.client()
    name = f"{location.prefix}/locked"
    retention = client.get_object_retention(Bucket=location.bucket, Key=name)["Retention"]
    assert retention["Mode"] == "COMPLIANCE"
    version = client.head_object(Bucket=location.bucket, Key=name)["VersionId"]
    with pytest.raises(ClientError) as err:  # even bypassing ark, the version cannot go
        client.delete_object(Bucket=location.bucket, Key=name, VersionId=version)
    assert "WORM" in err.value.response["Error"]["Message"]
    assert client.get_object(Bucket=location.bucket, Key=name)["Body"].read() == b"precious"


def test_s3_governance_mode_is_configurable(s3: backends.S3Backend) -> None:
    location = s3.new_location(retention=True)
    location = dataclasses.replace(
        location, config={**location.config, "retentionMode": "governance"}
    )
    store = storage.open_store(location)
    store.put("governed", b"1")
    store.lock("governed", until=backends.later(120))
    client: Any = s3.server.client()
    name = f"{location.prefix}/governed"
    assert client.get_object_retention(Bucket=location.bucket, Key=name)["Retention"]["Mode"] == (
        "GOVERNANCE"
    )
    with pytest.raises(storage.ObjectLocked, match="GOVERNANCE"):
        store.delete("governed")


# -- Azure -----------------------------------------------------------------------------------


def test_azure_connection_string_credentials(azure: backends.AzureBackend) -> None:
    location = azure.new_location()
    store = storage.open_store(
        dataclasses.replace(
            location,
            config={},
            credentials={"AZURE_STORAGE_CONNECTION_STRING": azure.server.connection_string},
        )
    )
    store.put("conn", b"ok")
    assert store.get("conn") == b"ok"
    assert store.download_url("conn", ttl=dt.timedelta(minutes=1)) is not None


def test_azure_velero_cloud_file_with_a_named_key_variable(azure: backends.AzureBackend) -> None:
    location = azure.new_location()
    cloud = f"# velero credentials\nAZURE_CLOUD_NAME=AzurePublicCloud\nMY_KEY={azure.server.key}\n"
    store = storage.open_store(
        dataclasses.replace(
            location,
            config={**location.config, "storageAccountKeyEnvVar": "MY_KEY"},
            credentials={"cloud": cloud},
        )
    )
    store.put("cloud", b"ok")
    assert store.get("cloud") == b"ok"


def test_azure_sas_token_credentials(azure: backends.AzureBackend) -> None:
    location = azure.new_location()
    sas = generate_container_sas(
        azure.server.account,
        location.bucket,
        account_key=azure.server.key,
        permission=ContainerSasPermissions(read=True, write=True, delete=True, list=True),
        expiry=backends.later(600),
    )
    store = storage.open_store(
        dataclasses.replace(location, credentials={"AZURE_STORAGE_SAS_TOKEN": sas})
    )
    store.put("sas/obj", b"ok")
    assert [o.key for o in store.list()] == ["sas/obj"]
    assert store.download_url("sas/obj", ttl=dt.timedelta(minutes=1)) is None
    store.delete("sas/obj")
    assert not store.exists("sas/obj")


# -- filesystem ------------------------------------------------------------------------------


@pytest.fixture
def fs_store(tmp_path: Path) -> storage.ObjectStore:
    (tmp_path / "bucket").mkdir()
    return storage.open_store(storage.StoreLocation(provider="fs", bucket=str(tmp_path / "bucket")))


def test_fs_refuses_keys_through_symlinks(fs_store: storage.ObjectStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"not yours")
    root = Path(fs_store.location.bucket)
    (root / "link").symlink_to(outside)
    (root / "file-link").symlink_to(outside / "secret")
    for key in ("link/secret", "link/new", "file-link"):
        with pytest.raises(storage.InvalidKey, match="symlink"):
            fs_store.get(key)
        with pytest.raises(storage.InvalidKey, match="symlink"):
            fs_store.put(key, b"overwrite")
        with pytest.raises(storage.InvalidKey, match="symlink"):
            fs_store.delete(key)
    assert (outside / "secret").read_bytes() == b"not yours"
    assert [p.name for p in outside.iterdir()] == ["secret"]
    assert list(fs_store.list()) == []  # listings skip symlinks


def test_fs_writes_are_invisible_until_renamed(fs_store: storage.ObjectStore) -> None:
    with fs_store.open_write("dir/obj") as writer:
        writer.write(b"half")
        assert list(fs_store.list()) == []
        assert fs_store.list_level("dir/") == storage.Listing(objects=[], prefixes=[])
    assert fs_store.get("dir/obj") == b"half"
    root = Path(fs_store.location.bucket)
    assert sorted(p.name for p in (root / "dir").iterdir()) == ["obj"]


def test_fs_reserves_its_temporary_names(fs_store: storage.ObjectStore) -> None:
    with pytest.raises(storage.InvalidKey, match="reserved"):
        fs_store.put(f"a/{fs.TEMP_PREFIX}x", b"1")


def test_fs_cannot_hold_an_object_and_a_prefix_of_one_name(fs_store: storage.ObjectStore) -> None:
    fs_store.put("name/child", b"1")
    with pytest.raises(storage.StoreError, match="prefix of that name"):
        fs_store.put("name", b"2")
    assert fs_store.get("name/child") == b"1"


# -- GCS -------------------------------------------------------------------------------------


def test_gcs_signs_download_urls_with_a_service_account_key(fake_gcs: str) -> None:
    """A V4 signed URL on the store's endpoint, with the key path encoded, serves the object.
    (fake-gcs-server does not verify signatures: this pins the URL, real GCS checks the rest.)"""
    harness = backends.GcsBackend(endpoint=fake_gcs)
    try:
        location = harness.new_location()
        storage.open_store(location).put("with space/ü.json", b"signed")
        keyed = harness.wrong_credentials(location)  # a real RSA key; nothing asks for a token
        assert keyed is not None
        url = storage.open_store(keyed).download_url(
            "with space/ü.json", ttl=dt.timedelta(minutes=5)
        )
        assert url is not None
        assert url.startswith(f"{fake_gcs}/{location.bucket}/conformance/run/with%20space/")
        assert "X-Goog-Signature=" in url
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
            assert response.read() == b"signed"
    finally:
        harness.cleanup()
