"""Volumes into Compute Engine: a raw disk image through Cloud Storage, then a disk from it.

GCE has no API to write a snapshot's blocks (nor to read them: it cannot be an export's
source). What it takes is an image made from a raw disk archive in Cloud Storage
(``images.insert`` with ``rawDisk.source``): a gzip'd tar holding one file, ``disk.raw``,
whose size is a whole number of GiB. So an import streams the volume, in block order, into
that archive in the location's ``imageBucket`` (zeros where no block was exported: they
compress to almost nothing), asks for the image, waits for it, deletes the archive, and keeps
the image (what the import is kept as, as EBS keeps a snapshot). A volume is a zonal disk made
from the image (``sourceImage``).

Config, beside the snapshotter's: ``imageBucket`` (required to import), ``storageUrl`` (a
Cloud Storage endpoint override, e.g. a local fake-gcs-server).
"""

from __future__ import annotations

import contextlib
import tarfile
import time
import uuid
import zlib
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass

from ark.snapshot import config as settings
from ark.snapshot import errors, gcp, gcp_clients
from ark.snapshot.blocks import wait_until
from ark.snapshot.interface import MULTI_ZONE_DELIMITER
from ark.storage import ObjectStore, StoreError, StoreLocation, open_store
from ark.storage.interface import Writer

BLOCK_SIZE = 512 * 1024
STAGING_PREFIX = "ark-imports/"
_GIB = 1 << 30
_ZEROS = bytes(1 << 20)
_TAR_RECORD = 10240
_STORAGE_HOST = "https://storage.googleapis.com"


class _RawDiskArchive:
    """``disk.raw`` of ``size`` bytes in a gzip'd tar, written as blocks come (in order)."""

    def __init__(self, out: Writer, size: int) -> None:
        self._out = out
        self._size = size
        self._at = 0
        self._gzip = zlib.compressobj(1, zlib.DEFLATED, 31)
        header = tarfile.TarInfo("disk.raw")
        header.size, header.mode, header.mtime = size, 0o644, int(time.time())
        self._emit(header.tobuf(format=tarfile.GNU_FORMAT))

    def _emit(self, raw: bytes | memoryview) -> None:
        packed = self._gzip.compress(raw)
        if packed:
            self._out.write(packed)

    def _zeros(self, count: int) -> None:
        while count > 0:
            step = min(count, len(_ZEROS))
            self._emit(memoryview(_ZEROS)[:step])
            count -= step

    def block(self, offset: int, data: bytes) -> None:
        if offset < self._at or offset + len(data) > self._size:
            raise ValueError(
                f"a block at {offset} cannot follow {self._at} in a disk of {self._size} bytes"
            )
        self._zeros(offset - self._at)
        self._emit(data)
        self._at = offset + len(data)

    def finish(self) -> None:
        """Zeros to the end, the tar's end-of-archive blocks, the gzip trailer."""
        self._zeros(self._size - self._at)
        self._at = self._size
        written = 512 + self._size + 1024
        self._zeros(1024 + (-written) % _TAR_RECORD)
        self._out.write(self._gzip.flush())


@dataclass
class _Import:
    key: str
    archive: _RawDiskArchive
    files: ExitStack
    tags: Mapping[str, str]
    description: str


class GceImageTarget:
    """One project's Compute Engine as a BlockTarget: volumes imported through images."""

    def __init__(
        self,
        *,
        region: str,
        project: str,
        clients: gcp_clients.Clients,
        staging: ObjectStore | None,
        polling_interval: float,
        timeout: float,
    ) -> None:
        self._region = region
        self._project = project
        self._clients = clients
        self._staging = staging
        self._interval = polling_interval
        self._timeout = timeout
        self._imports: dict[str, _Import] = {}

    @property
    def provider(self) -> str:
        return gcp.PROVIDER

    @property
    def region(self) -> str:
        return self._region

    @property
    def block_size(self) -> int:
        return BLOCK_SIZE

    @property
    def sequential(self) -> bool:
        return True

    def start(self, size_bytes: int, *, description: str, tags: Mapping[str, str]) -> str:
        """The archive begun in the image bucket; the returned id is its key there."""
        if self._staging is None:
            raise errors.SnapshotConfigError(
                "imageBucket",
                "an import into GCE needs a Cloud Storage bucket for its raw disk image",
            )
        key = f"{STAGING_PREFIX}{uuid.uuid4()}.tar.gz"
        files = ExitStack()
        try:
            out = files.enter_context(self._staging.open_write(key))
            archive = _RawDiskArchive(out, -(-size_bytes // _GIB) * _GIB)
        except StoreError as exc:
            files.close()
            raise errors.OperationFailed("start", f"raw disk image {key}", str(exc)) from exc
        self._imports[key] = _Import(key, archive, files, dict(tags), description)
        return key

    def put(self, snapshot_id: str, index: int, data: bytes, *, sha256: bytes) -> None:
        """The block into the archive (blocks come in order: ``sequential``); its SHA-256
        was checked against its chunk's name before, and the image has no checksum of its
        own to give."""
        del sha256
        try:
            self._imports[snapshot_id].archive.block(index * BLOCK_SIZE, data)
        except StoreError as exc:
            raise errors.OperationFailed(
                "write", f"raw disk image {snapshot_id}", str(exc)
            ) from exc

    def complete(self, snapshot_id: str, *, blocks: int) -> str:
        """The archive finished and stored, an image made from it (waited for), the archive
        deleted; returns the image's path (``projects/P/global/images/NAME``)."""
        del blocks
        job = self._imports.pop(snapshot_id)
        subject = f"raw disk image {job.key}"
        try:
            with job.files:
                job.archive.finish()
        except StoreError as exc:
            raise errors.OperationFailed("write", subject, str(exc)) from exc
        try:
            return self._image(job)
        finally:
            assert self._staging is not None
            with contextlib.suppress(StoreError):
                self._staging.delete(job.key)

    def _image(self, job: _Import) -> str:
        bucket = self._staging.location.bucket if self._staging else ""
        name = gcp.resource_name("ark-import")
        path = f"projects/{self._project}/global/images/{name}"
        with gcp.calling("create image", path):
            op = self._clients.insert_image(
                project=self._project,
                name=name,
                source_url=f"{_STORAGE_HOST}/{bucket}/{job.key}",
                labels=gcp.labels(job.tags),
                description=job.description,
            )
        gcp.wait_op(
            op,
            action="create image",
            subject=path,
            read=lambda n: self._clients.global_operation(project=self._project, name=n),
            timeout=self._timeout,
            interval=self._interval,
        )
        wait_until(path, lambda: self._image_ready(path, name), timeout=self._timeout)
        return path

    def _image_ready(self, path: str, name: str) -> bool:
        with gcp.calling("read", path):
            image = self._clients.get_image(project=self._project, name=name)
        if image.status == "FAILED":
            raise errors.OperationFailed("create image", path, "GCE says the image FAILED")
        return bool(image.status == "READY")

    def create_volume(
        self, snapshot_id: str, *, zone: str, volume_type: str | None, tags: Mapping[str, str]
    ) -> str:
        """A zonal disk from image ``snapshot_id`` in ``zone``, waited for until READY."""
        if MULTI_ZONE_DELIMITER in zone:
            raise errors.OperationFailed(
                "create a disk", f"image {snapshot_id}", "an import makes zonal disks: one zone"
            )
        name = gcp.resource_name("ark-import")
        path = f"projects/{self._project}/zones/{zone}/disks/{name}"
        with gcp.calling("create a disk from", f"image {snapshot_id}"):
            op = self._clients.insert_disk(
                project=self._project,
                scope="zones",
                where=zone,
                name=name,
                source_image=snapshot_id,
                disk_type=volume_type,
                iops=None,
                replica_zones=[],
                labels=gcp.labels(tags),
                kms_key=None,
            )
        gcp.wait_op(
            op,
            action="create a disk from",
            subject=path,
            read=lambda n: self._clients.zone_operation(project=self._project, zone=zone, name=n),
            timeout=self._timeout,
            interval=self._interval,
        )
        wait_until(path, lambda: self._disk_ready(zone, name, path), timeout=self._timeout)
        return path

    def _disk_ready(self, zone: str, name: str, path: str) -> bool:
        with gcp.calling("read", path):
            disk = self._clients.get_disk(
                project=self._project, scope="zones", where=zone, name=name
            )
        if disk.status == "FAILED":
            raise errors.OperationFailed("create", path, "GCE says the disk FAILED")
        return bool(disk.status == "READY")


def open_target(
    *, region: str, config: Mapping[str, str], credentials: Mapping[str, str]
) -> GceImageTarget:
    """GCE as an import's target, with the snapshotter's settings and ``imageBucket``."""
    project, clients = gcp.project_and_clients(config, credentials)
    endpoint = settings.endpoint(config, "computeUrl")
    staging = None
    if bucket := config.get("imageBucket"):
        store_config = {"project": project}
        if url := settings.endpoint(config, "storageUrl"):
            store_config["storeEndpoint"] = url
        if endpoint is not None and not credentials.get("cloud"):
            store_config["anonymous"] = "true"  # as the compute client: a local fake
        try:
            staging = open_store(
                StoreLocation(
                    provider="gcp", bucket=bucket, config=store_config, credentials=credentials
                )
            )
        except StoreError as exc:
            raise errors.SnapshotConfigError("imageBucket", str(exc)) from None
    return GceImageTarget(
        region=region,
        project=project,
        clients=clients,
        staging=staging,
        polling_interval=settings.seconds(config, "pollingInterval", default=2.0),
        timeout=settings.seconds(config, "apiTimeout", default=3600.0),
    )
