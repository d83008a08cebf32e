"""The Google Cloud Storage store (provider ``gcp``), through google-cloud-storage.

Config and credential keys: see :mod:`ark.storage.gcs_client`. Every write is a resumable
upload sent in ``partSizeBytes`` chunks, so memory stays at a few chunks whatever the object
size; an aborted write is never finalized and so never becomes visible. ``lock`` sets object
retention (the bucket must have object retention enabled); ``delete`` refuses objects under
retention or a hold before asking the server, which refuses them as well.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, BinaryIO, NoReturn

import requests
from google.api_core import exceptions as api
from google.auth import exceptions as auth
from google.cloud.storage import exceptions as media
from google.cloud.storage.retry import DEFAULT_RETRY

from ark.storage import gcs_client, keys, streaming
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

PAGE = 1000
CHECK_SECONDS = 20.0
READ_CHUNK = 4 * 1024 * 1024
_FAILURES = (
    api.GoogleAPIError,
    auth.GoogleAuthError,
    requests.RequestException,
    media.InvalidResponse,
    media.DataCorruption,
)


def open_store(location: StoreLocation) -> GcsStore:
    return GcsStore(location, gcs_client.build(location))


class GcsStore:
    def __init__(self, location: StoreLocation, clients: gcs_client.Clients) -> None:
        self._location = location
        self._name = keys.describe(location)
        self._prefix = keys.normalize_prefix(location.prefix)
        self._clients = clients
        self._bucket = clients.bucket

    @property
    def location(self) -> StoreLocation:
        return self._location

    def __repr__(self) -> str:
        return f"GcsStore({self._name!r})"

    def _blob(self, key: str) -> Any:
        name = keys.join(self._prefix, keys.validate(key, store=self._name))
        return self._bucket.blob(
            name, chunk_size=self._clients.part_size, kms_key_name=self._clients.kms_key_name
        )

    # -- errors ------------------------------------------------------------------------------

    def _bucket_missing(self) -> NoReturn:
        raise BucketNotFound(f"{self._name}: bucket {self._location.bucket!r} does not exist")

    def _fail(self, exc: Exception, *, action: str, key: str | None = None) -> NoReturn:
        what = f"{action} {key!r}" if key is not None else action
        if isinstance(exc, media.InvalidResponse):  # the upload/download layer's own error
            exc = api.from_http_response(exc.response)  # type: ignore[no-untyped-call]
        if isinstance(exc, api.NotFound):
            if key is None or not self._bucket_exists():
                self._bucket_missing()
            raise ObjectNotFound(self._name, key) from None
        if isinstance(exc, api.Forbidden | api.Unauthorized | auth.RefreshError):
            reason = exc.message if isinstance(exc, api.GoogleAPICallError) else str(exc)
            raise StoreAccessDenied(f"{self._name}: {what}: access denied: {reason}") from None
        if isinstance(
            exc,
            api.ServerError | api.TooManyRequests | auth.TransportError | requests.RequestException,
        ):
            raise StoreUnavailable(f"{self._name}: {what}: {exc}") from None
        if isinstance(exc, api.GoogleAPICallError):
            raise StoreError(f"{self._name}: {what}: {exc.code}: {exc.message}") from None
        raise StoreError(f"{self._name}: {what}: {exc}") from None

    def _bucket_exists(self) -> bool:
        try:
            return bool(self._bucket.exists())
        except _FAILURES:
            return True  # cannot tell: report the object as missing

    @contextmanager
    def _call(self, action: str, key: str | None = None) -> Iterator[None]:
        try:
            yield
        except _FAILURES as exc:
            self._fail(exc, action=action, key=key)

    # -- writing -----------------------------------------------------------------------------

    def open_write(self, key: str) -> AbstractContextManager[Writer]:
        return self._write(key, self._blob(key))

    @contextmanager
    def _write(self, key: str, blob: Any) -> Iterator[Writer]:
        writer = blob.open("wb", chunk_size=self._clients.part_size, ignore_flush=True)
        try:
            yield _Writer(self, key, writer)
        except BaseException:
            _abandon(writer)
            raise
        with self._call("write", key):
            writer.close()

    def put(self, key: str, data: bytes | BinaryIO | Iterable[bytes]) -> None:
        with self.open_write(key) as writer:
            streaming.copy_into(writer, data)

    # -- reading -----------------------------------------------------------------------------

    def open_read(self, key: str) -> AbstractContextManager[BinaryIO]:
        blob = self._blob(key)
        with self._call("read", key):
            blob.reload()
            source = blob.open("rb", chunk_size=READ_CHUNK, if_generation_match=blob.generation)

        def read(size: int) -> bytes:
            with self._call("read", key):
                return bytes(source.read(size))

        return streaming.reader(read, close=source.close)

    def get(self, key: str) -> bytes:
        with self.open_read(key) as stream:
            return stream.read()

    def exists(self, key: str) -> bool:
        blob = self._blob(key)
        with self._call("look up", key):
            if blob.exists():
                return True
        if not self._bucket_exists():
            self._bucket_missing()
        return False

    # -- listing -----------------------------------------------------------------------------

    def _iterate(self, prefix: str, *, delimiter: str | None) -> Any:
        keys.validate_prefix(prefix, store=self._name)
        return self._clients.client.list_blobs(
            self._bucket,
            prefix=keys.join(self._prefix, prefix),
            delimiter=delimiter,
            page_size=PAGE,
        )

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        with self._call("list", None):
            for blob in self._iterate(prefix, delimiter=None):
                yield ObjectInfo(keys.relative(self._prefix, blob.name), int(blob.size or 0))

    def list_level(self, prefix: str = "") -> Listing:
        objects: list[ObjectInfo] = []
        prefixes: list[str] = []
        with self._call("list", None):
            for page in self._iterate(prefix, delimiter="/").pages:
                objects.extend(
                    ObjectInfo(keys.relative(self._prefix, b.name), int(b.size or 0)) for b in page
                )
                prefixes.extend(keys.relative(self._prefix, p) for p in sorted(page.prefixes))
        return Listing(objects=objects, prefixes=prefixes)

    # -- deleting, locking, URLs, checking ---------------------------------------------------

    def delete(self, key: str) -> None:
        blob = self._blob(key)
        try:
            blob.reload()
            _refuse_if_locked(self._name, key, blob)
            blob.delete(if_generation_match=blob.generation)
        except api.NotFound:
            if not self._bucket_exists():
                self._bucket_missing()
        except api.Forbidden as exc:
            if "retention" in str(exc.message).lower() or "hold" in str(exc.message).lower():
                raise ObjectLocked(f"{self._name}: {key!r}: {exc.message}") from None
            self._fail(exc, action="delete", key=key)
        except _FAILURES as exc:
            self._fail(exc, action="delete", key=key)

    def lock(self, key: str, *, until: dt.datetime, mode: RetentionMode | None = None) -> None:
        if until.tzinfo is None:
            raise ValueError("lock(until=...) needs a timezone-aware datetime")
        blob = self._blob(key)
        try:
            blob.reload()
            # "Unlocked" retention can be shortened or removed by whoever may; "Locked" by nobody.
            blob.retention.mode = (
                self._clients.retention_mode
                if mode is None
                else ("Unlocked" if mode == "Governance" else "Locked")
            )
            blob.retention.retain_until_time = until
            blob.patch()
        except api.BadRequest as exc:
            raise RetentionUnsupported(
                f"{self._name}: cannot lock {key!r}: {exc.message} (the bucket needs object "
                "retention enabled)"
            ) from None
        except _FAILURES as exc:
            self._fail(exc, action="lock", key=key)

    def retention(self, key: str) -> Retention | None:
        blob = self._blob(key)
        with self._call("look up", key):
            blob.reload()
        until = blob.retention.retain_until_time if blob.retention else None
        if not isinstance(until, dt.datetime):
            return None
        mode: RetentionMode = (
            "Governance" if str(blob.retention.mode).lower() == "unlocked" else "Compliance"
        )
        return Retention(mode=mode, until=until)

    def download_url(self, key: str, *, ttl: dt.timedelta) -> str | None:
        if not self._clients.can_sign:
            return None  # anonymous or token-only credentials have nothing to sign with
        blob = self._blob(key)
        options: dict[str, Any] = {}
        if self._clients.endpoint:
            options["api_access_endpoint"] = self._clients.endpoint
        if self._clients.signing_account:
            credentials = self._clients.client._credentials
            with self._call("sign a URL for", key):
                credentials.refresh(google_request())
            options.update(
                service_account_email=self._clients.signing_account,
                access_token=credentials.token,
            )
        with self._call("sign a URL for", key):
            return str(blob.generate_signed_url(version="v4", expiration=ttl, **options))

    def check_locking(self) -> None:
        with self._call("look up bucket", None):
            self._bucket.reload()
        if self._bucket.object_retention_mode != "Enabled":
            raise RetentionUnsupported(
                f"{self._name}: bucket {self._bucket.name!r} does not have object retention "
                "enabled (`gcloud storage buckets create --enable-per-object-retention`)"
            )

    def check(self) -> None:
        """One listing, given up after ``CHECK_SECONDS`` (the SDK would retry an unreachable
        endpoint for two minutes: a location's check says so sooner)."""
        with self._call("check bucket", None):
            iterator = self._clients.client.list_blobs(
                self._bucket,
                prefix=keys.join(self._prefix, ""),
                delimiter="/",
                max_results=1,
                timeout=CHECK_SECONDS,
                retry=DEFAULT_RETRY.with_timeout(CHECK_SECONDS),
            )
            next(iter(iterator.pages), None)


def google_request() -> Any:
    from google.auth.transport.requests import Request  # noqa: PLC0415

    return Request()


def _abandon(writer: Any) -> None:
    """Make sure an SDK writer never finalizes its upload.

    The SDK's BlobWriter is an io object: its close(), which the garbage collector calls too,
    sends the buffered rest as the final chunk, so a failed write would commit a truncated
    object. Closing its buffer first turns that close() into a no-op; the resumable session,
    if one was started, is then cancelled.
    """
    buffer = getattr(writer, "_buffer", None)
    if buffer is None:  # pragma: no cover - guards against an SDK change
        raise RuntimeError("google-cloud-storage's BlobWriter changed: cannot abort an upload")
    buffer.close()
    started = getattr(writer, "_upload_and_transport", None)
    if started:
        upload, transport = started
        with contextlib.suppress(*_FAILURES):
            transport.delete(upload.resumable_url, timeout=10)


def _refuse_if_locked(store: str, key: str, blob: Any) -> None:
    until = blob.retention.retain_until_time if blob.retention else None
    if isinstance(until, dt.datetime) and until > dt.datetime.now(dt.UTC):
        mode = blob.retention.mode or "retention"
        raise ObjectLocked(f"{store}: {key!r} is under {mode} retention until {until.isoformat()}")
    if blob.temporary_hold or blob.event_based_hold:
        raise ObjectLocked(f"{store}: {key!r} is under a hold")


class _Writer:
    """The SDK's resumable writer, with its errors translated."""

    def __init__(self, store: GcsStore, key: str, writer: Any) -> None:
        self._store = store
        self._key = key
        self._writer = writer

    def write(self, data: bytes | bytearray | memoryview, /) -> int:
        with self._store._call("write", self._key):
            return int(self._writer.write(data))
