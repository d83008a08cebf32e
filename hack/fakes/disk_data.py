"""The data plane of the local Azure disks: page blobs in Azurite, reached through SAS URLs.

A managed disk's or snapshot's bytes live, as in Azure, in a page blob the resource provider
owns; ``grantAccess`` hands out a SAS URL to it (read, or write for an upload) and the client
talks to the blob service directly (``azure-storage-blob``: Put Page, Get Page Ranges, Get
Blob). Here that blob service is Azurite, so the client's data path is the real protocol.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobSasPermissions, BlobServiceClient, generate_blob_sas

CONTAINER = "ark-managed-disks"


@dataclass(frozen=True)
class DiskData:
    """Page blobs of one Azurite account, one per disk or snapshot that has bytes."""

    connection_string: str
    account: str
    key: str
    container: str = CONTAINER

    def _service(self) -> BlobServiceClient:
        return BlobServiceClient.from_connection_string(self.connection_string)

    def _blob(self, name: str):  # type: ignore[no-untyped-def]
        return self._service().get_blob_client(self.container, name)

    def ensure_container(self) -> None:
        with contextlib.suppress(ResourceExistsError):
            self._service().create_container(self.container)

    def create(self, name: str, size: int) -> None:
        """An empty page blob of ``size`` bytes (a multiple of 512): reads as zeros."""
        self._blob(name).create_page_blob(size=size)

    def copy(self, source: str, target: str) -> None:
        """``target`` becomes a copy of ``source`` (a snapshot of a disk, a disk from one)."""
        blob = self._blob(target)
        blob.start_copy_from_url(self._blob(source).url)
        if blob.get_blob_properties().copy.status != "success":
            raise RuntimeError(f"copying {source} to {target} did not finish")

    def delete(self, name: str) -> None:
        with contextlib.suppress(ResourceNotFoundError):
            self._blob(name).delete_blob()

    def size(self, name: str) -> int:
        return int(self._blob(name).get_blob_properties().size)

    def read(self, name: str, offset: int, length: int) -> bytes:
        return bytes(self._blob(name).download_blob(offset=offset, length=length).readall())

    def sas_url(self, name: str, *, write: bool, seconds: int) -> str:
        """A SAS URL to the blob, as ``grantAccess`` returns (``accessSAS``)."""
        token = generate_blob_sas(
            self.account,
            self.container,
            name,
            account_key=self.key,
            permission=BlobSasPermissions(read=True, write=write),
            expiry=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds),
        )
        return f"{self._blob(name).url}?{token}"
