"""Volumes into Compute Engine: an EBS export (moto) imported into GCE through a raw disk
image. The archive goes to a real Cloud Storage protocol (fake-gcs-server); the local GCE fake
reads it from there as GCE does (a gzip'd tar holding disk.raw, a whole number of GiB) and the
image, and the disk made from it, hold the volume's blocks byte for byte; the archive is
deleted once the image is made. An archive GCE cannot read fails the image and its operation,
naming it."""

from __future__ import annotations

from typing import Any

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import compute_v1
from google.cloud import storage as gcs

from ark import snapshot
from ark.backup import export_volume
from ark.persistence import BackupStore
from ark.restore import import_volume
from ark.snapshot import errors, gcp_clients
from ark.snapshot.blocks import BlockAccess, BlockTarget
from ark.storage import ObjectStore
from tests.conftest import GceFake
from tests.snapshot import clouds
from tests.volumes.conftest import ZERO, Ebs, random_block, text_block

PV = "pv-data"
ZONE = "us-central1-a"


def _target(gce: GceFake, fake_gcs: str, bucket: str | None) -> BlockTarget:
    config = {"project": clouds.GCP_PROJECT, "computeUrl": gce[1], "pollingInterval": "0.01"}
    if bucket is not None:
        config |= {"imageBucket": bucket, "storageUrl": fake_gcs}
    return snapshot.open_block_target("gcp", region="us-central1", config=config, credentials={})


def _non_zero(blocks: dict[int, bytes]) -> dict[int, bytes]:
    return {i: b for i, b in blocks.items() if b != ZERO}


def test_an_ebs_export_imports_into_gce_through_a_raw_disk_image(
    fs_store: ObjectStore,
    ebs: Ebs,
    source: BlockAccess,
    gce_images: GceFake,
    fake_gcs: str,
    image_bucket: gcs.Bucket,
) -> None:
    blocks = {0: random_block(), 2: text_block(b"to gce "), 5: ZERO, 2047: random_block()}
    backups = BackupStore(fs_store)
    export_volume(backups, "b1", PV, source=source, snapshot_id=ebs.make_snapshot(blocks))

    target = _target(gce_images, fake_gcs, image_bucket.name)
    made = import_volume(backups, "b1", PV, target=target, zone=ZONE, tags={"ark.dev/backup": "b1"})

    fake = gce_images[0]
    image = fake.lookup(made.snapshot_id)
    assert image is not None
    assert (image["status"], image["diskSizeGb"]) == ("READY", "1")
    assert image["labels"] == {"ark-dev-backup": "b1"}
    assert fake.blocks_of(made.snapshot_id) == _non_zero(blocks)
    assert made.volume_id is not None and made.volume_id.startswith(
        f"projects/{clouds.GCP_PROJECT}/zones/{ZONE}/disks/"
    )
    disk = fake.lookup(made.volume_id)
    assert disk is not None
    assert (disk["status"], disk["sizeGb"]) == ("READY", "1")
    assert disk["sourceImage"].endswith(made.snapshot_id)
    assert fake.blocks_of(made.volume_id) == _non_zero(blocks)
    assert list(image_bucket.list_blobs()) == []  # the archive went once the image was made


def test_an_archive_gce_cannot_read_fails_the_image_naming_it(
    gce_images: GceFake, image_bucket: gcs.Bucket
) -> None:
    """The fake's side of the protocol, through the SDK: what ark sends must pass it."""
    image_bucket.blob("not-a-disk.tar.gz").upload_from_string(b"plain text, not gzip")
    clients = gcp_clients.Clients(AnonymousCredentials(), endpoint=gce_images[1])
    op: Any = clients.insert_image(
        project=clouds.GCP_PROJECT,
        name="broken",
        source_url=f"https://storage.googleapis.com/{image_bucket.name}/not-a-disk.tar.gz",
        labels={},
        description="",
    )
    while op.status != compute_v1.Operation.Status.DONE:
        op = clients.global_operation(project=clouds.GCP_PROJECT, name=op.name)
    [error] = op.error.errors
    assert "not-a-disk.tar.gz" in error.message
    assert clients.get_image(project=clouds.GCP_PROJECT, name="broken").status == "FAILED"


def test_an_import_into_gce_without_an_image_bucket_says_so(
    gce_images: GceFake, fake_gcs: str
) -> None:
    target = _target(gce_images, fake_gcs, None)
    with pytest.raises(errors.SnapshotConfigError, match="imageBucket"):
        target.start(1 << 30, description="d", tags={})


def test_gce_still_cannot_be_read_block_by_block() -> None:
    with pytest.raises(errors.SnapshotConfigError, match="GCE has no API to read"):
        snapshot.open_blocks("gcp", region="us-central1", config={}, credentials={})
