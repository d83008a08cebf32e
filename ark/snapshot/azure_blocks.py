"""Azure managed disks and snapshots block by block: a SAS URL from ARM, then page blob calls.

Reading a snapshot: ``beginGetAccess`` (Read) hands out a SAS URL to its bytes; Get Page
Ranges says which 512-byte pages were ever written (the others read as zeros) and, against
an earlier snapshot of the same disk, which changed (Get Page Ranges Diff); Get Blob reads a
block, its MD5 checked by the SDK. ``release`` ends the access (ARM keeps a snapshot with an
active SAS from being deleted).

Writing: a disk created for upload (``createOption: Upload``, its size in whole MiB plus the
VHD footer), ``beginGetAccess`` (Write), Put Page per block (MD5 checked by the service), the
fixed-VHD footer after the last byte, ``endGetAccess``; then a snapshot of that disk (what the
import is kept as, like EBS's) and the upload disk deleted. A volume is a disk made from the
snapshot in the zone asked for.

Blocks are 512 KiB, as EBS's, so an export from either provider imports into the other.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from azure.core import exceptions as azure_errors
from azure.storage.blob import BlobClient

from ark.snapshot import azure, errors, vhd
from ark.snapshot.blocks import Block, snapshot_done, wait_until
from ark.snapshot.interface import VolumeRef

BLOCK_SIZE = 512 * 1024
STAGING_TAG = "ark.dev-import-staging"
"""On an upload disk while an import writes it; it is deleted once its snapshot is taken."""
_MIB = 1 << 20
_UPLOAD_MIN = 20 * _MIB
_PAGE = "page"

SasClient = Callable[[str], BlobClient]


def _blob(url: str) -> BlobClient:
    return BlobClient.from_blob_url(url, max_single_put_size=BLOCK_SIZE)


class AzureBlocks:
    """One region's managed disks and snapshots as a BlockSource and a BlockTarget."""

    def __init__(
        self,
        snapshotter: azure.AzureDiskSnapshotter,
        *,
        access_seconds: int = 6 * 3600,
        timeout: float = 3600.0,
        sas_client: SasClient = _blob,
    ) -> None:
        self._snapshots = snapshotter
        self._access_seconds = access_seconds
        self._timeout = timeout
        self._sas_client = sas_client
        self._lock = threading.Lock()
        self._open: dict[str, BlobClient] = {}
        """Resource id -> its blob, while this holds a SAS to it."""
        self._uploads: dict[str, tuple[int, Mapping[str, str]]] = {}
        """Upload disk id -> (its size in bytes, the tags its snapshot gets)."""

    @property
    def provider(self) -> str:
        return azure.PROVIDER

    @property
    def region(self) -> str:
        return self._snapshots.region

    @property
    def block_size(self) -> int:
        return BLOCK_SIZE

    @property
    def sequential(self) -> bool:
        return False

    def _access(self, resource_id: str, *, write: bool = False) -> BlobClient:
        """The resource's blob through the SAS this holds, granted on first use (one grant
        at a time: ARM refuses a second write grant)."""
        with self._lock:
            found = self._open.get(resource_id)
            if found is None:
                url = self._snapshots.grant_access(
                    resource_id, write=write, seconds=self._access_seconds
                )
                found = self._open[resource_id] = self._sas_client(url)
            return found

    def release(self, snapshot_id: str) -> None:
        """End the access this took to ``snapshot_id`` (nothing when it took none)."""
        with self._lock:
            held = self._open.pop(snapshot_id, None)
        if held is not None:
            self._snapshots.end_access(snapshot_id)

    # -- reading -------------------------------------------------------------------------
    def volume_size(self, snapshot_id: str) -> int:
        props = self._snapshots.resource(snapshot_id).get("properties") or {}
        size = props.get("diskSizeBytes") or int(props.get("diskSizeGB") or 0) << 30
        if not size:
            raise errors.OperationFailed("read", f"snapshot {snapshot_id}", "ARM gave no size")
        return int(size)

    def blocks(self, snapshot_id: str) -> Iterator[Block]:
        blob = self._access(snapshot_id)
        size = self.volume_size(snapshot_id)
        with _calling("list pages", f"snapshot {snapshot_id}"):
            ranges = [(r["start"], r["end"]) for r in blob.list_page_ranges()]
        yield from _touched(ranges, size)

    def changed_blocks(self, parent_id: str, snapshot_id: str) -> Iterator[Block]:
        """Every block a page changed, or was cleared, in since ``parent_id``: each is read
        (a block partly cleared still holds the rest of its bytes)."""
        blob = self._access(snapshot_id)
        parent = self._access(parent_id)
        size = self.volume_size(snapshot_id)
        with _calling("list changed pages", f"snapshot {snapshot_id} since {parent_id}"):
            changed, cleared = blob.get_page_range_diff_for_managed_disk(parent.url)
        ranges = [(r["start"], r["end"]) for r in [*changed, *cleared]]
        yield from _touched(ranges, size)

    def read(self, snapshot_id: str, block: Block) -> bytes:
        subject = f"snapshot {snapshot_id} block {block.index}"
        blob = self._access(snapshot_id)
        with _calling("read", subject):
            data = blob.download_blob(
                offset=block.index * BLOCK_SIZE, length=BLOCK_SIZE, validate_content=True
            ).readall()
        if len(data) != BLOCK_SIZE:
            raise errors.OperationFailed("read", subject, f"{len(data)} bytes, not {BLOCK_SIZE}")
        return bytes(data)

    # -- writing -------------------------------------------------------------------------
    def start(self, size_bytes: int, *, description: str, tags: Mapping[str, str]) -> str:
        """A disk to upload into (its size rounded up to whole MiB, at least 20 MiB, as ARM
        requires), with write access; the returned id is that disk's until ``complete``."""
        if not self.region:
            raise errors.SnapshotConfigError(
                "region", "an import into Azure needs the region its disks go to (config region)"
            )
        size = max(_UPLOAD_MIN, -(-size_bytes // _MIB) * _MIB)
        name = f"ark-import-{uuid.uuid4()}"
        disk_id = self._snapshots.create_upload_disk(
            size + vhd.FOOTER_BYTES, name=name, tags={STAGING_TAG: description[:256]}
        )
        with self._lock:
            self._uploads[disk_id] = (size, dict(tags))
        self._access(disk_id, write=True)
        return disk_id

    def put(self, snapshot_id: str, index: int, data: bytes, *, sha256: bytes) -> None:
        """Put Page with the block's MD5 (Azure checks that one; the SHA-256 was checked
        against the chunk's name before)."""
        del sha256
        with _calling("write", f"disk {snapshot_id} block {index}"):
            self._access(snapshot_id, write=True).upload_page(
                data, offset=index * BLOCK_SIZE, length=len(data), validate_content=True
            )

    def complete(self, snapshot_id: str, *, blocks: int) -> str:
        """The footer, the end of the upload, a snapshot of the disk (waited for), the upload
        disk deleted; returns the snapshot's id."""
        del blocks  # Azure counts nothing: the pages are the disk
        disk_id = snapshot_id
        with self._lock:
            size, tags = self._uploads[disk_id]
        footer = vhd.footer(size)
        with _calling("write the VHD footer of", f"disk {disk_id}"):
            self._access(disk_id, write=True).upload_page(
                footer, offset=size, length=len(footer), validate_content=True
            )
        self.release(disk_id)
        volume = VolumeRef(volume_id=disk_id, region=self.region, zone=None)
        made = self._snapshots.create_snapshot(volume, tags=tags)
        wait_until(
            f"snapshot {made}",
            lambda: snapshot_done(self._snapshots, made),
            timeout=self._timeout,
        )
        self._snapshots.delete_disk(disk_id)
        with self._lock:
            self._uploads.pop(disk_id, None)
        return made

    def create_volume(
        self, snapshot_id: str, *, zone: str, volume_type: str | None, tags: Mapping[str, str]
    ) -> str:
        disk_id = self._snapshots.create_volume_from_snapshot(
            snapshot_id, zone=zone, volume_type=volume_type, tags=tags
        )
        wait_until(f"disk {disk_id}", lambda: self._disk_ready(disk_id), timeout=self._timeout)
        return disk_id

    def _disk_ready(self, disk_id: str) -> bool:
        props = self._snapshots.resource(disk_id).get("properties") or {}
        state = props.get("provisioningState")
        if state == "Failed":
            raise errors.OperationFailed("create", f"disk {disk_id}", "provisioning failed")
        return state == "Succeeded"


def _touched(ranges: list[tuple[int, int]], size: int) -> Iterator[Block]:
    """The blocks the byte ranges (inclusive ends) touch within the disk's ``size``, once
    each, by index (pages past the disk, as an uploaded disk's VHD footer, are left out)."""
    indices: set[int] = set()
    for start, end in ranges:
        last = min(end, size - 1)
        if start <= last:
            indices.update(range(start // BLOCK_SIZE, last // BLOCK_SIZE + 1))
    for index in sorted(indices):
        yield Block(index, _PAGE)


@contextmanager
def _calling(action: str, subject: str) -> Iterator[None]:
    """The blob service's errors as ark's, naming what was being done to what."""
    try:
        yield
    except azure_errors.ClientAuthenticationError as exc:
        raise errors.AccessDenied(action, subject, _reason(exc)) from exc
    except azure_errors.HttpResponseError as exc:
        if exc.status_code == 403:
            raise errors.AccessDenied(action, subject, _reason(exc)) from exc
        raise errors.OperationFailed(action, subject, _reason(exc)) from exc
    except azure_errors.AzureError as exc:
        raise errors.OperationFailed(action, subject, _reason(exc)) from exc


def _reason(exc: azure_errors.AzureError) -> str:
    code = getattr(exc, "error_code", None)
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"{code}: {message}" if code else message


def open_blocks(
    *,
    region: str,
    config: Mapping[str, str],
    credentials: Mapping[str, str],
    timeout: float = 3600.0,
) -> AzureBlocks:
    """Azure block access for ``region`` (``config.region``: needed to import, where the new
    disks go), with the settings ``azure.open_snapshotter`` takes."""
    return AzureBlocks(
        azure.open_snapshotter(region=region, config=config, credentials=credentials),
        timeout=timeout,
    )
