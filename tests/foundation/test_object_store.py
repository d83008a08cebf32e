"""The local MinIO is a real S3 server: large objects survive a round trip byte for byte."""

from __future__ import annotations

import hashlib
import io
import os

import pytest
from botocore.exceptions import ClientError

from tests.conftest import S3Server


def test_put_and_get_20mb_object(minio: S3Server, s3_bucket: str) -> None:
    s3 = minio.client()
    payload = os.urandom(20 * 1024 * 1024)
    s3.upload_fileobj(io.BytesIO(payload), s3_bucket, "big/object.bin")  # type: ignore[attr-defined]
    head = s3.head_object(Bucket=s3_bucket, Key="big/object.bin")  # type: ignore[attr-defined]
    assert head["ContentLength"] == len(payload)
    body = s3.get_object(Bucket=s3_bucket, Key="big/object.bin")["Body"]  # type: ignore[attr-defined]
    digest = hashlib.sha256()
    for chunk in iter(lambda: body.read(1 << 20), b""):
        digest.update(chunk)
    assert digest.hexdigest() == hashlib.sha256(payload).hexdigest()


def test_missing_key_is_a_real_404(minio: S3Server, s3_bucket: str) -> None:
    with pytest.raises(ClientError) as err:
        minio.client().get_object(Bucket=s3_bucket, Key="nope")  # type: ignore[attr-defined]
    assert err.value.response["Error"]["Code"] == "NoSuchKey"


def test_wrong_credentials_are_refused(minio: S3Server, s3_bucket: str) -> None:
    bad = S3Server(endpoint=minio.endpoint, access_key=minio.access_key, secret_key="wrong-secret")
    with pytest.raises(ClientError) as err:
        bad.client().list_objects_v2(Bucket=s3_bucket)  # type: ignore[attr-defined]
    assert err.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
