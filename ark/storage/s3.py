"""The S3 store (provider ``aws`` or ``s3``): AWS S3 and S3-compatible servers, through boto3.

Config and credential keys: see :mod:`ark.storage.s3_client`. Objects larger than one part
(16 MiB unless ``partSizeBytes`` says otherwise) go up as a multipart upload, one part buffered
at a time. ``lock`` sets S3 Object Lock retention, which needs a bucket created with Object Lock
enabled; on such a bucket ``delete`` refuses objects still under retention or legal hold rather
than hiding them behind a delete marker.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any, BinaryIO, Literal, NoReturn

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from ark.storage import keys, s3_client, streaming
from ark.storage.errors import (
    BucketNotFound,
    ObjectLocked,
    ObjectNotFound,
    RetentionUnsupported,
    StoreAccessDenied,
    StoreError,
    StoreUnavailable,
)
from ark.storage.interface import (
    Listing,
    ObjectInfo,
    Retention,
    RetentionMode,
    StoreLocation,
    Writer,
)

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

_DENIED = {
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "AllAccessDisabled",
    "403",
}
READ_RESUMES = 5
"""How often a read of an object resumes, in a row without getting further, before it fails."""
_MISSING_KEY = {"NoSuchKey", "NotFound", "404", "NoSuchVersion"}
_NO_LOCK = {"InvalidRequest", "ObjectLockConfigurationNotFoundError", "InvalidBucketState"}


def open_store(location: StoreLocation) -> S3Store:
    return S3Store(location, s3_client.build(location))


class S3Store:
    def __init__(self, location: StoreLocation, clients: s3_client.Clients) -> None:
        self._location = location
        self._name = keys.describe(location)
        self._bucket = location.bucket
        self._prefix = keys.normalize_prefix(location.prefix)
        self._s3 = clients.client
        self._signer = clients.signer
        self._options = clients.options
        self._lock_enabled: bool | None = None
        self._lock_probe = threading.Lock()

    @property
    def location(self) -> StoreLocation:
        return self._location

    def __repr__(self) -> str:
        return f"S3Store({self._name!r})"

    def _object(self, key: str) -> str:
        return keys.join(self._prefix, keys.validate(key, store=self._name))

    # -- errors ------------------------------------------------------------------------------

    def _fail(self, exc: Exception, *, action: str, key: str | None = None) -> NoReturn:
        what = f"{action} {key!r}" if key is not None else action
        if isinstance(exc, NoCredentialsError):
            raise StoreAccessDenied(
                f"{self._name}: {what}: no AWS credentials (set the Secret's 'cloud' or "
                "'aws_access_key_id'/'aws_secret_access_key' keys, or a role)"
            ) from None
        if isinstance(exc, BotoCoreError):
            raise StoreUnavailable(f"{self._name}: {what}: {exc}") from None
        assert isinstance(exc, ClientError)
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        message = str(error.get("Message", "")) or code
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        if code == "NoSuchBucket":
            raise BucketNotFound(f"{self._name}: bucket {self._bucket!r} does not exist") from None
        if key is not None and code in _MISSING_KEY:
            raise ObjectNotFound(self._name, key) from None
        if code in _DENIED:
            raise StoreAccessDenied(
                f"{self._name}: {what}: access denied ({code}: {message})"
            ) from None
        if status >= 500 or code in {"SlowDown", "ServiceUnavailable", "RequestTimeout"}:
            raise StoreUnavailable(f"{self._name}: {what}: {code}: {message}") from None
        raise StoreError(f"{self._name}: {what}: {code}: {message}") from None

    @contextmanager
    def _call(self, action: str, key: str | None = None) -> Iterator[None]:
        try:
            yield
        except (ClientError, BotoCoreError) as exc:
            self._fail(exc, action=action, key=key)

    # -- writing -----------------------------------------------------------------------------

    def open_write(self, key: str) -> AbstractContextManager[Writer]:
        upload = _Upload(self, key, self._object(key))
        return streaming.part_writer(upload, part_size=self._options.part_size)

    def put(self, key: str, data: bytes | BinaryIO | Iterable[bytes]) -> None:
        with self.open_write(key) as writer:
            streaming.copy_into(writer, data)

    # -- reading -----------------------------------------------------------------------------

    def open_read(self, key: str) -> AbstractContextManager[BinaryIO]:
        """A stream of the object. A connection broken mid-body (a reset, a read timeout) is
        resumed where it broke with a ranged GET of the same version (``If-Match`` its ETag);
        it fails after ``READ_RESUMES`` resumes in a row that got no further: botocore retries
        requests, not a body being read."""
        name = self._object(key)
        with self._call("read", key):
            response = self._s3.get_object(Bucket=self._bucket, Key=name, **self._options.sse_c)
        reading = _Resumable(response["Body"], str(response.get("ETag") or ""))

        def reopen() -> Any:
            same: dict[str, Any] = {"IfMatch": reading.etag} if reading.etag else {}
            with self._call("read", key):
                return self._s3.get_object(
                    Bucket=self._bucket,
                    Key=name,
                    Range=f"bytes={reading.at}-",
                    **same,
                    **self._options.sse_c,
                )["Body"]

        def read(size: int) -> bytes:
            while True:
                try:
                    data: bytes = reading.body.read(size)
                except BotoCoreError as exc:
                    if reading.at > reading.resumed_at:  # it got further: a new run of tries
                        reading.resumed, reading.resumed_at = 0, reading.at
                    if reading.resumed >= READ_RESUMES:
                        self._fail(exc, action="read", key=key)
                    reading.resumed += 1
                    reading.body.close()
                    reading.body = reopen()
                    continue
                except ClientError as exc:
                    self._fail(exc, action="read", key=key)
                reading.at += len(data)
                return data

        return streaming.reader(read, close=reading.close)

    def get(self, key: str) -> bytes:
        with self.open_read(key) as stream:
            return stream.read()

    def _head(self, key: str) -> dict[str, Any] | None:
        name = self._object(key)
        try:
            return dict(self._s3.head_object(Bucket=self._bucket, Key=name, **self._options.sse_c))
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code not in _MISSING_KEY:
                self._fail(exc, action="look up", key=key)
        except BotoCoreError as exc:
            self._fail(exc, action="look up", key=key)
        # HEAD answers a bare 404 for a missing bucket too: tell the two apart.
        with self._call("look up bucket"):
            try:
                self._s3.head_bucket(Bucket=self._bucket)
            except ClientError as exc:
                if str(exc.response.get("Error", {}).get("Code")) in {"404", "NoSuchBucket"}:
                    raise BucketNotFound(
                        f"{self._name}: bucket {self._bucket!r} does not exist"
                    ) from None
                raise
        return None

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    # -- listing -----------------------------------------------------------------------------

    def _pages(self, prefix: str, *, delimiter: str | None) -> Iterator[dict[str, Any]]:
        keys.validate_prefix(prefix, store=self._name)
        paginator = self._s3.get_paginator("list_objects_v2")
        with self._call("list", prefix):
            for page in paginator.paginate(
                Bucket=self._bucket,
                Prefix=keys.join(self._prefix, prefix),
                Delimiter=delimiter or "",
                PaginationConfig={"PageSize": 1000},
            ):
                yield dict(page)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        for page in self._pages(prefix, delimiter=None):
            for item in page.get("Contents", []):
                yield ObjectInfo(keys.relative(self._prefix, item["Key"]), int(item["Size"]))

    def list_level(self, prefix: str = "") -> Listing:
        objects: list[ObjectInfo] = []
        prefixes: list[str] = []
        for page in self._pages(prefix, delimiter="/"):
            objects.extend(
                ObjectInfo(keys.relative(self._prefix, o["Key"]), int(o["Size"]))
                for o in page.get("Contents", [])
            )
            prefixes.extend(
                keys.relative(self._prefix, p["Prefix"]) for p in page.get("CommonPrefixes", [])
            )
        return Listing(objects=objects, prefixes=prefixes)

    # -- deleting, locking, checking ---------------------------------------------------------

    def delete(self, key: str) -> None:
        name = self._object(key)
        if self._bucket_locks():
            head = self._head(key)
            if head is None:
                return
            _refuse_if_locked(self._name, key, head)
        with self._call("delete", key):
            self._s3.delete_object(Bucket=self._bucket, Key=name)

    def _bucket_locks(self, *, action: str = "delete") -> bool:
        """Whether the bucket has Object Lock enabled (asked once per store)."""
        with self._lock_probe:
            if self._lock_enabled is None:
                try:
                    conf = self._s3.get_object_lock_configuration(Bucket=self._bucket)
                    enabled = conf.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled")
                    self._lock_enabled = enabled == "Enabled"
                except ClientError as exc:
                    code = str(exc.response.get("Error", {}).get("Code", ""))
                    if code == "NoSuchBucket":
                        self._fail(exc, action=action)
                    # Not configured: no locks. Not allowed to ask: check each object instead.
                    self._lock_enabled = code not in _NO_LOCK
                except BotoCoreError as exc:
                    self._fail(exc, action=action)
            return self._lock_enabled

    def download_url(self, key: str, *, ttl: dt.timedelta) -> str | None:
        params: dict[str, Any] = {"Bucket": self._bucket, "Key": self._object(key)}
        if self._options.sse_c:
            return None  # a plain GET cannot send the customer key
        with self._call("sign a URL for", key):
            return self._signer.generate_presigned_url(
                "get_object", Params=params, ExpiresIn=max(1, int(ttl.total_seconds()))
            )

    def lock(self, key: str, *, until: dt.datetime, mode: RetentionMode | None = None) -> None:
        if until.tzinfo is None:
            raise ValueError("lock(until=...) needs a timezone-aware datetime")
        name = self._object(key)
        wanted = mode.upper() if mode is not None else self._options.retention_mode
        s3_mode: Literal["COMPLIANCE", "GOVERNANCE"] = (
            "GOVERNANCE" if wanted == "GOVERNANCE" else "COMPLIANCE"
        )
        try:
            self._s3.put_object_retention(
                Bucket=self._bucket,
                Key=name,
                Retention={"Mode": s3_mode, "RetainUntilDate": until},
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if str(error.get("Code", "")) in _NO_LOCK:
                raise RetentionUnsupported(
                    f"{self._name}: cannot lock {key!r}: {error.get('Message', '')} "
                    "(the bucket must be created with Object Lock enabled)"
                ) from None
            self._fail(exc, action="lock", key=key)
        except BotoCoreError as exc:
            self._fail(exc, action="lock", key=key)

    def retention(self, key: str) -> Retention | None:
        head = self._head(key)
        if head is None:
            raise ObjectNotFound(self._name, key)
        until = head.get("ObjectLockRetainUntilDate")
        if not isinstance(until, dt.datetime):
            return None
        mode: RetentionMode = (
            "Governance" if head.get("ObjectLockMode") == "GOVERNANCE" else "Compliance"
        )
        return Retention(mode=mode, until=until)

    def check_locking(self) -> None:
        if not self._bucket_locks(action="look up the Object Lock configuration"):
            raise RetentionUnsupported(
                f"{self._name}: bucket {self._bucket!r} does not have Object Lock enabled (it "
                "can only be turned on when the bucket is created: `aws s3api create-bucket "
                "--object-lock-enabled-for-bucket`, `mc mb --with-lock`)"
            )

    def check(self) -> None:
        with self._call("check bucket"):
            self._s3.list_objects_v2(Bucket=self._bucket, Prefix=self._prefix, MaxKeys=1)


def _refuse_if_locked(store: str, key: str, head: dict[str, Any]) -> None:
    until = head.get("ObjectLockRetainUntilDate")
    if isinstance(until, dt.datetime) and until > dt.datetime.now(dt.UTC):
        mode = head.get("ObjectLockMode", "retention")
        raise ObjectLocked(f"{store}: {key!r} is under {mode} retention until {until.isoformat()}")
    if head.get("ObjectLockLegalHoldStatus") == "ON":
        raise ObjectLocked(f"{store}: {key!r} is under a legal hold")


class _Upload:
    """One object upload: a single PUT, or a multipart upload once it outgrows one part."""

    def __init__(self, store: S3Store, key: str, name: str) -> None:
        self._store = store
        self._key = key
        self._name = name
        self._upload_id: str | None = None
        self._parts: list[CompletedPartTypeDef] = []

    def _common(self) -> dict[str, Any]:
        return {"Bucket": self._store._bucket, "Key": self._name}

    def _checksum(self) -> dict[str, Any]:
        algorithm = self._store._options.checksum
        return {"ChecksumAlgorithm": algorithm} if algorithm else {}

    def put_whole(self, data: memoryview, /) -> None:
        store = self._store
        with store._call("write", self._key):
            store._s3.put_object(
                **self._common(),
                Body=streaming.ViewReader(data),  # type: ignore[arg-type]
                ContentLength=len(data),
                **self._checksum(),
                **store._options.write_extra,
            )

    def upload_part(self, number: int, part: memoryview, /) -> None:
        store = self._store
        with store._call("write", self._key):
            if self._upload_id is None:
                started = store._s3.create_multipart_upload(
                    **self._common(), **self._checksum(), **store._options.write_extra
                )
                self._upload_id = started["UploadId"]
            answer = store._s3.upload_part(
                **self._common(),
                UploadId=self._upload_id,
                PartNumber=number,
                Body=streaming.ViewReader(part),  # type: ignore[arg-type]
                ContentLength=len(part),
                **self._checksum(),
                **store._options.sse_c,
            )
        done: dict[str, Any] = {"ETag": answer["ETag"], "PartNumber": number}
        done.update(
            {k: v for k, v in answer.items() if k.startswith("Checksum") and k != "ChecksumType"}
        )
        self._parts.append(done)  # type: ignore[arg-type]

    def complete(self, parts: int, /) -> None:
        store = self._store
        assert self._upload_id is not None and len(self._parts) == parts
        with store._call("write", self._key):
            store._s3.complete_multipart_upload(
                **self._common(),
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
                **store._options.sse_c,
            )

    def abort(self) -> None:
        if self._upload_id is None:
            return
        # If this fails too, the bucket's lifecycle rule for incomplete uploads is the backstop.
        with contextlib.suppress(ClientError, BotoCoreError):
            self._store._s3.abort_multipart_upload(**self._common(), UploadId=self._upload_id)


class _Resumable:
    """Where a read of an object stands: its body now, the offset reached, its ETag."""

    def __init__(self, body: Any, etag: str) -> None:
        self.body = body
        self.etag = etag
        self.at = 0
        self.resumed = 0
        """Resumes since the read last got further than ``resumed_at``."""
        self.resumed_at = 0

    def close(self) -> None:
        self.body.close()
