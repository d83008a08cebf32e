"""The Azure Blob store (provider ``azure``), through azure-storage-blob.

Config and credential keys: see :mod:`ark.storage.azure_client`. The bucket is the container.
Objects larger than one block (16 MiB unless ``blockSizeInBytes`` says otherwise) are staged
block by block and committed as a block list, one block buffered at a time; an aborted upload
leaves only uncommitted blocks, which Azure discards. ``lock`` sets a blob immutability policy,
which needs version-level immutability on the container.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import BinaryIO, NoReturn, cast

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.storage.blob import (
    BlobBlock,
    BlobPrefix,
    BlobSasPermissions,
    ImmutabilityPolicy,
    generate_blob_sas,
)

from ark.storage import azure_client, keys, streaming
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

_LOCKED = {"BlobImmutableDueToPolicy", "BlobImmutableDueToLegalHold"}
_NO_RETENTION = {
    "APINotImplemented",
    "FeatureNotSupported",
    "ImmutableStorageWithVersioningIsNotEnabled",
    "VersionLevelWormNotEnabled",
}
PAGE = 1000
# An "unlocked" policy can be shortened or removed by whoever may; a "locked" one by nobody.
_POLICY_MODES: dict[str, str] = {"Governance": "Unlocked", "Compliance": "Locked"}


def open_store(location: StoreLocation) -> AzureStore:
    return AzureStore(location, azure_client.build(location))


def _code(exc: HttpResponseError) -> str:
    code = getattr(exc, "error_code", None)
    return str(getattr(code, "value", code) or "")


class AzureStore:
    def __init__(self, location: StoreLocation, clients: azure_client.Clients) -> None:
        self._location = location
        self._name = keys.describe(location)
        self._prefix = keys.normalize_prefix(location.prefix)
        self._clients = clients
        self._container = clients.container

    @property
    def location(self) -> StoreLocation:
        return self._location

    def __repr__(self) -> str:
        return f"AzureStore({self._name!r})"

    def _blob(self, key: str) -> str:
        return keys.join(self._prefix, keys.validate(key, store=self._name))

    # -- errors ------------------------------------------------------------------------------

    def _fail(self, exc: AzureError, *, action: str, key: str | None = None) -> NoReturn:
        what = f"{action} {key!r}" if key is not None else action
        if isinstance(exc, ClientAuthenticationError) and not isinstance(exc, HttpResponseError):
            raise StoreAccessDenied(
                f"{self._name}: {what}: sign-in failed: {exc.message}"
            ) from None
        if isinstance(exc, ServiceRequestError | ServiceResponseError):
            raise StoreUnavailable(f"{self._name}: {what}: {exc.message}") from None
        if not isinstance(exc, HttpResponseError):
            raise StoreError(f"{self._name}: {what}: {exc.message}") from None
        code, status = _code(exc), exc.status_code or 0
        if code == "ContainerNotFound":
            raise BucketNotFound(
                f"{self._name}: container {self._location.bucket!r} does not exist"
            ) from None
        if key is not None and (code == "BlobNotFound" or isinstance(exc, ResourceNotFoundError)):
            raise ObjectNotFound(self._name, key) from None
        if code in _LOCKED:
            raise ObjectLocked(f"{self._name}: {what}: the blob is immutable ({code})") from None
        if status in (401, 403):
            raise StoreAccessDenied(
                f"{self._name}: {what}: access denied ({code or status}); check the account "
                "key, SAS or identity"
            ) from None
        if status >= 500:
            raise StoreUnavailable(f"{self._name}: {what}: {code or status}") from None
        first_line = str(exc.message or "").splitlines()[0] if exc.message else ""
        raise StoreError(f"{self._name}: {what}: {code or status}: {first_line}") from None

    @contextmanager
    def _call(self, action: str, key: str | None = None) -> Iterator[None]:
        try:
            yield
        except AzureError as exc:
            self._fail(exc, action=action, key=key)

    # -- writing -----------------------------------------------------------------------------

    def open_write(self, key: str) -> AbstractContextManager[Writer]:
        upload = _BlockUpload(self, key, self._blob(key))
        return streaming.part_writer(upload, part_size=self._clients.block_size)

    def put(self, key: str, data: bytes | BinaryIO | Iterable[bytes]) -> None:
        with self.open_write(key) as writer:
            streaming.copy_into(writer, data)

    # -- reading -----------------------------------------------------------------------------

    def open_read(self, key: str) -> AbstractContextManager[BinaryIO]:
        blob = self._container.get_blob_client(self._blob(key))
        with self._call("read", key):
            download = blob.download_blob(max_concurrency=1)

        def read(size: int) -> bytes:
            with self._call("read", key):
                return download.read(size)

        return streaming.reader(read, close=lambda: None)

    def get(self, key: str) -> bytes:
        with self.open_read(key) as stream:
            return stream.read()

    def exists(self, key: str) -> bool:
        blob = self._container.get_blob_client(self._blob(key))
        try:
            blob.get_blob_properties()
        except ResourceNotFoundError as exc:
            if _code(exc) == "ContainerNotFound":  # HEAD answers carry x-ms-error-code too
                self._fail(exc, action="look up", key=key)
            return False
        except AzureError as exc:
            self._fail(exc, action="look up", key=key)
        return True

    # -- listing -----------------------------------------------------------------------------

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        keys.validate_prefix(prefix, store=self._name)
        start = keys.join(self._prefix, prefix)
        with self._call("list", prefix):
            for blob in self._container.list_blobs(name_starts_with=start, results_per_page=PAGE):
                yield ObjectInfo(keys.relative(self._prefix, blob.name), int(blob.size))

    def list_level(self, prefix: str = "") -> Listing:
        keys.validate_prefix(prefix, store=self._name)
        start = keys.join(self._prefix, prefix)
        objects: list[ObjectInfo] = []
        prefixes: list[str] = []
        with self._call("list", prefix):
            for item in self._container.walk_blobs(
                name_starts_with=start, delimiter="/", results_per_page=PAGE
            ):
                name = keys.relative(self._prefix, item.name)
                if isinstance(item, BlobPrefix):
                    prefixes.append(name)
                else:
                    objects.append(ObjectInfo(name, int(item.size)))
        return Listing(objects=objects, prefixes=prefixes)

    # -- deleting, locking, URLs, checking ---------------------------------------------------

    def delete(self, key: str) -> None:
        blob = self._container.get_blob_client(self._blob(key))
        try:
            blob.delete_blob(delete_snapshots="include")
        except ResourceNotFoundError as exc:
            if _code(exc) == "ContainerNotFound":
                self._fail(exc, action="delete", key=key)
        except AzureError as exc:
            self._fail(exc, action="delete", key=key)

    def lock(self, key: str, *, until: dt.datetime, mode: RetentionMode | None = None) -> None:
        if until.tzinfo is None:
            raise ValueError("lock(until=...) needs a timezone-aware datetime")
        blob = self._container.get_blob_client(self._blob(key))
        policy_mode = self._clients.retention_mode if mode is None else _POLICY_MODES[mode]
        policy = ImmutabilityPolicy(expiry_time=until, policy_mode=policy_mode)
        try:
            blob.set_immutability_policy(policy)
        except HttpResponseError as exc:
            if _code(exc) in _NO_RETENTION or exc.status_code == 501:
                raise RetentionUnsupported(
                    f"{self._name}: cannot lock {key!r}: {_code(exc) or exc.status_code} "
                    "(the container needs version-level immutability support)"
                ) from None
            self._fail(exc, action="lock", key=key)
        except AzureError as exc:
            self._fail(exc, action="lock", key=key)

    def retention(self, key: str) -> Retention | None:
        blob = self._container.get_blob_client(self._blob(key))
        with self._call("look up", key):
            properties = blob.get_blob_properties()
        policy = properties.immutability_policy
        until = policy.expiry_time if policy is not None else None
        if not isinstance(until, dt.datetime):
            return None
        if until.tzinfo is None:
            until = until.replace(tzinfo=dt.UTC)
        mode: RetentionMode = (
            "Governance" if str(policy.policy_mode).lower() == "unlocked" else "Compliance"
        )
        return Retention(mode=mode, until=until)

    def download_url(self, key: str, *, ttl: dt.timedelta) -> str | None:
        name = self._blob(key)
        expiry = dt.datetime.now(dt.UTC) + ttl
        blob = self._container.get_blob_client(name)
        delegation = None
        if not self._clients.account_key:
            if not self._clients.uses_aad:
                return None  # a SAS credential cannot mint a narrower SAS
            with self._call("sign a URL for", key):
                start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
                delegation = self._clients.service.get_user_delegation_key(start, expiry)
        sas = generate_blob_sas(
            self._clients.account,
            self._location.bucket,
            name,
            account_key=self._clients.account_key,
            user_delegation_key=delegation,
            permission=BlobSasPermissions(read=True),
            expiry=expiry,
        )
        return f"{blob.url}?{sas}"

    def check_locking(self) -> None:
        with self._call("look up container"):
            properties = self._container.get_container_properties()
        if not properties.immutable_storage_with_versioning_enabled:
            raise RetentionUnsupported(
                f"{self._name}: container {self._container.container_name!r} does not have "
                "version-level immutability support enabled"
            )

    def check(self) -> None:
        with self._call("check container"):
            pages = self._container.list_blobs(
                name_starts_with=self._prefix, results_per_page=1
            ).by_page()
            next(iter(pages), None)


class _BlockUpload:
    """One blob upload: a single Put Blob, or staged blocks committed as a block list."""

    def __init__(self, store: AzureStore, key: str, name: str) -> None:
        self._store = store
        self._key = key
        self._blob = store._container.get_blob_client(name)
        self._upload = uuid.uuid4().hex[:16]
        self._ids: list[str] = []

    def put_whole(self, data: memoryview, /) -> None:
        with self._store._call("write", self._key):
            self._blob.upload_blob(
                streaming.ViewReader(data), length=len(data), overwrite=True, max_concurrency=1
            )

    def upload_part(self, number: int, part: memoryview, /) -> None:
        block_id = f"{self._upload}-{number:05d}"  # the same length for every block
        with self._store._call("write", self._key):
            # The SDK sends any bytes-like body as is; no copy of the block is made.
            self._blob.stage_block(block_id, cast("bytes", part), length=len(part))
        self._ids.append(block_id)

    def complete(self, parts: int, /) -> None:
        assert len(self._ids) == parts
        with self._store._call("write", self._key):
            self._blob.commit_block_list([BlobBlock(block_id=i) for i in self._ids])

    def abort(self) -> None:
        """Nothing to undo: uncommitted blocks are never visible and expire after a week."""
