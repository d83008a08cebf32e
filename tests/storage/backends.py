"""One harness per provider: fresh buckets on a real server, and locations that must fail.

The conformance tests only see :class:`Backend`; everything provider-specific (how to create a
bucket with retention, what "wrong credentials" means) lives here, written with the providers'
own SDKs so the store under test never sets up its own fixtures.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import google.cloud.storage as gcs
from azure.storage.blob import BlobServiceClient
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth.credentials import AnonymousCredentials

from ark.storage import StoreLocation
from tests.conftest import S3Server

PREFIX = "conformance/run"


def fresh_name() -> str:
    return f"ark-{uuid.uuid4().hex[:12]}"


class Backend(Protocol):
    provider: str
    retention: str
    """'enforced' (the server refuses deletes), 'client' (ark refuses deletes, the server only
    stores the retention), or 'unsupported' (lock raises RetentionUnsupported)."""

    def new_location(self, *, retention: bool = False, prefix: str = PREFIX) -> StoreLocation:
        """A location on a new, empty bucket (with retention support when asked)."""
        ...

    def wrong_credentials(self, location: StoreLocation) -> StoreLocation | None:
        """The same location with credentials the server refuses (None: nothing to refuse)."""
        ...

    def missing_bucket(self) -> StoreLocation: ...

    def cleanup(self) -> None: ...


@dataclass
class FsBackend:
    root: Path
    provider: str = "fs"
    retention: str = "unsupported"

    def new_location(self, *, retention: bool = False, prefix: str = PREFIX) -> StoreLocation:
        bucket = self.root / fresh_name()
        bucket.mkdir()
        return StoreLocation(provider="fs", bucket=str(bucket), prefix=prefix)

    def wrong_credentials(self, location: StoreLocation) -> StoreLocation | None:
        return None

    def missing_bucket(self) -> StoreLocation:
        return StoreLocation(provider="fs", bucket=str(self.root / fresh_name()), prefix=PREFIX)

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class S3Backend:
    server: S3Server
    provider: str = "aws"
    retention: str = "enforced"
    buckets: list[str] = field(default_factory=list)

    def _location(self, bucket: str, prefix: str) -> StoreLocation:
        return StoreLocation(
            provider="aws",
            bucket=bucket,
            prefix=prefix,
            config={"s3Url": self.server.endpoint, "s3ForcePathStyle": "true", "region": "minio"},
            credentials={
                "aws_access_key_id": self.server.access_key,
                "aws_secret_access_key": self.server.secret_key,
            },
        )

    def new_location(self, *, retention: bool = False, prefix: str = PREFIX) -> StoreLocation:
        name = fresh_name()
        self.server.client().create_bucket(  # type: ignore[attr-defined]
            Bucket=name, ObjectLockEnabledForBucket=retention
        )
        if not retention:  # locked objects outlive the test; leave those buckets to the server
            self.buckets.append(name)
        return self._location(name, prefix)

    def wrong_credentials(self, location: StoreLocation) -> StoreLocation | None:
        return replace(
            location,
            credentials={**location.credentials, "aws_secret_access_key": "not-the-secret"},
        )

    def missing_bucket(self) -> StoreLocation:
        return self._location(fresh_name(), PREFIX)

    def cleanup(self) -> None:
        s3: Any = self.server.client()
        for bucket in self.buckets:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                objects = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if objects:
                    s3.delete_objects(Bucket=bucket, Delete={"Objects": objects})
            for upload in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
                s3.abort_multipart_upload(
                    Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                )
            s3.delete_bucket(Bucket=bucket)
        self.buckets.clear()


@dataclass(frozen=True)
class AzureServer:
    endpoint: str
    account: str
    key: str
    connection_string: str


@dataclass
class AzureBackend:
    server: AzureServer
    provider: str = "azure"
    retention: str = "unsupported"  # Azurite answers APINotImplemented to immutability policies
    containers: list[str] = field(default_factory=list)

    def service(self) -> BlobServiceClient:
        return BlobServiceClient.from_connection_string(self.server.connection_string)

    def _location(self, container: str, prefix: str) -> StoreLocation:
        return StoreLocation(
            provider="azure",
            bucket=container,
            prefix=prefix,
            config={
                "storageAccount": self.server.account,
                "storageAccountURI": self.server.endpoint,
            },
            credentials={"AZURE_STORAGE_ACCOUNT_ACCESS_KEY": self.server.key},
        )

    def new_location(self, *, retention: bool = False, prefix: str = PREFIX) -> StoreLocation:
        name = fresh_name()
        self.service().create_container(name)
        self.containers.append(name)
        return self._location(name, prefix)

    def wrong_credentials(self, location: StoreLocation) -> StoreLocation | None:
        wrong = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5LXdyb25nLWtleQ=="
        return replace(location, credentials={"AZURE_STORAGE_ACCOUNT_ACCESS_KEY": wrong})

    def missing_bucket(self) -> StoreLocation:
        return self._location(fresh_name(), PREFIX)

    def cleanup(self) -> None:
        service = self.service()
        for name in self.containers:
            service.delete_container(name)
        self.containers.clear()


@dataclass
class GcsBackend:
    endpoint: str
    provider: str = "gcp"
    # fake-gcs-server stores an object's retention but does not enforce it on delete.
    retention: str = "client"
    buckets: list[str] = field(default_factory=list)

    def client(self) -> gcs.Client:
        return gcs.Client(
            project="ark-test",
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": self.endpoint},
        )

    def _location(self, bucket: str, prefix: str) -> StoreLocation:
        return StoreLocation(
            provider="gcp",
            bucket=bucket,
            prefix=prefix,
            config={"storeEndpoint": self.endpoint, "anonymous": "true", "project": "ark-test"},
        )

    def new_location(self, *, retention: bool = False, prefix: str = PREFIX) -> StoreLocation:
        name = fresh_name()
        self.client().create_bucket(name, enable_object_retention=retention)
        self.buckets.append(name)
        return self._location(name, prefix)

    def wrong_credentials(self, location: StoreLocation) -> StoreLocation | None:
        """A well-formed service-account key whose token exchange the server refuses."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        info = {
            "type": "service_account",
            "project_id": "ark-test",
            "private_key_id": "0" * 40,
            "private_key": pem,
            "client_email": "ark@ark-test.iam.gserviceaccount.com",
            "client_id": "1",
            "token_uri": f"{self.endpoint}/token",
        }
        config = {k: v for k, v in location.config.items() if k != "anonymous"}
        return replace(location, config=config, credentials={"cloud": json.dumps(info)})

    def missing_bucket(self) -> StoreLocation:
        return self._location(fresh_name(), PREFIX)

    def cleanup(self) -> None:
        client = self.client()
        for name in self.buckets:
            bucket = client.bucket(name)
            for blob in client.list_blobs(name):
                blob.delete()
            bucket.delete()
        self.buckets.clear()


def new_fs_backend() -> FsBackend:
    return FsBackend(root=Path(tempfile.mkdtemp(prefix="ark-fs-store-")))


def later(seconds: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
