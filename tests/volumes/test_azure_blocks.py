"""Volumes moved between EBS (moto) and Azure managed disks (the local ARM fake, its disks'
bytes in Azurite page blobs reached through SAS URLs, as in Azure): an EBS export imported
into Azure reads back byte for byte through a read SAS, as a fixed VHD; an Azure snapshot
exported and imported into EBS reads back byte for byte; no SAS is left active and no upload
disk is left behind."""

from __future__ import annotations

import pytest

from ark import snapshot
from ark.backup import export_volume
from ark.persistence import BackupStore
from ark.restore import import_volume
from ark.snapshot import azure_blocks, errors, vhd
from ark.snapshot.blocks import BlockAccess
from ark.storage import ObjectStore
from hack.fakes import azure_compute
from tests.conftest import AzureArm
from tests.snapshot import clouds
from tests.volumes.conftest import (
    BLOCK,
    TARGET_REGION,
    ZERO,
    Ebs,
    random_block,
    read_disk,
    text_block,
)

REGION = "eastus"
ZONE = "eastus-2"
PV = "pv-data"


@pytest.fixture
def azure(azure_arm: AzureArm) -> BlockAccess:
    settings = clouds.azure_settings(azure_arm[1])
    return snapshot.open_blocks("azure", region=REGION, **settings)


def _blocks() -> dict[int, bytes]:
    text = text_block(b"to azure ")
    return {0: random_block(), 1: text, 3: random_block(), 7: ZERO, 30: text, 39: random_block()}


def _non_zero(blocks: dict[int, bytes]) -> dict[int, bytes]:
    return {i: b for i, b in blocks.items() if b != ZERO}


def _active_or_staging(fake: azure_compute.AzureCompute) -> list[str]:
    return [
        r["id"]
        for r in fake.resources.values()
        if r["properties"].get("diskState") in ("ActiveSAS", "ActiveUpload", "ReadyToUpload")
        or azure_blocks.STAGING_TAG in (r.get("tags") or {})
    ]


def test_an_ebs_export_imports_into_azure_as_a_fixed_vhd_byte_for_byte(
    fs_store: ObjectStore,
    ebs: Ebs,
    source: BlockAccess,
    azure: BlockAccess,
    azure_arm: AzureArm,
) -> None:
    blocks = _blocks()
    snap = ebs.make_snapshot(blocks)
    backups = BackupStore(fs_store)
    export_volume(backups, "b1", PV, source=source, snapshot_id=snap)

    made = import_volume(backups, "b1", PV, target=azure, zone=ZONE, tags={"ark.dev/backup": "b1"})
    assert made.blocks == 5  # the zero block is not written

    fake = azure_arm[0]
    snapshot_res = fake.lookup(made.snapshot_id)
    assert snapshot_res is not None and snapshot_res["tags"] == {"ark.dev-backup": "b1"}
    size = 1 << 30
    stored = read_disk(azure_arm, made.snapshot_id)
    assert stored.size == size + vhd.FOOTER_BYTES
    footer_block = size // BLOCK
    assert {i: b for i, b in stored.blocks.items() if i != footer_block} == _non_zero(blocks)
    assert vhd.parse_size(stored.blocks[footer_block]) == size

    assert made.volume_id is not None
    disk = fake.lookup(made.volume_id)
    assert disk is not None
    assert (disk["location"], disk["zones"]) == (REGION, ["2"])
    assert disk["properties"]["creationData"]["sourceResourceId"] == made.snapshot_id
    assert disk["tags"] == {"ark.dev-backup": "b1"}
    assert read_disk(azure_arm, made.volume_id) == stored
    assert _active_or_staging(fake) == []


def test_an_azure_snapshot_exports_and_imports_into_ebs_byte_for_byte(
    fs_store: ObjectStore,
    ebs: Ebs,
    source: BlockAccess,
    target: BlockAccess,
    azure: BlockAccess,
    azure_arm: AzureArm,
) -> None:
    blocks = _blocks()
    backups = BackupStore(fs_store)
    export_volume(backups, "b1", PV, source=source, snapshot_id=ebs.make_snapshot(blocks))
    in_azure = import_volume(backups, "b1", PV, target=azure, zone=None)
    assert in_azure.volume_id is None

    index = export_volume(
        backups, "b2", PV, source=azure, snapshot_id=in_azure.snapshot_id, volume_id="disk-1"
    )
    assert (index.source.provider, index.source.region) == ("azure", REGION)
    assert [b.index for b in index.blocks] == [0, 1, 3, 30, 39]
    assert index.size_bytes == 1 << 30
    assert index.totals.new_chunks == 0  # the same blocks: every chunk was there from b1

    back = import_volume(backups, "b2", PV, target=target, zone=None)
    assert ebs.read_snapshot(back.snapshot_id, region=TARGET_REGION) == _non_zero(blocks)
    assert _active_or_staging(azure_arm[0]) == []


def test_an_incremental_azure_export_builds_on_its_parent(
    fs_store: ObjectStore,
    ebs: Ebs,
    source: BlockAccess,
    target: BlockAccess,
    azure: BlockAccess,
    azure_arm: AzureArm,
) -> None:
    """Azurite answers a page-range diff with every page written, a superset of the
    changed ones: the export is right (what this proves), though it reads more than Azure
    would make it."""
    parent_blocks = _blocks()
    child_blocks = {**parent_blocks, 3: random_block(), 12: random_block()}
    backups = BackupStore(fs_store)
    export_volume(backups, "e1", PV, source=source, snapshot_id=ebs.make_snapshot(parent_blocks))
    export_volume(backups, "e2", PV, source=source, snapshot_id=ebs.make_snapshot(child_blocks))
    parent = import_volume(backups, "e1", PV, target=azure, zone=None).snapshot_id
    child = import_volume(backups, "e2", PV, target=azure, zone=None).snapshot_id

    export_volume(backups, "a1", PV, source=azure, snapshot_id=parent)
    index = export_volume(backups, "a2", PV, source=azure, snapshot_id=child, parent="a1")
    assert index.parent == "a1"
    assert index.totals.new_chunks == 0
    back = import_volume(backups, "a2", PV, target=target, zone=None)
    assert ebs.read_snapshot(back.snapshot_id, region=TARGET_REGION) == _non_zero(child_blocks)
    assert _active_or_staging(azure_arm[0]) == []


def test_the_vhd_footer_is_the_specifications() -> None:
    """Geometry and checksum as the VHD specification computes them (its worked sizes)."""
    assert vhd.geometry(1 << 30) == (2080, 16, 63)
    assert vhd.geometry(20 << 20) == (602, 4, 17)
    raw = vhd.footer(1 << 30, unique_id=bytes(16))
    assert raw[:8] == b"conectix" and len(raw) == 512
    assert vhd.parse_size(raw) == 1 << 30
    flipped = bytearray(raw)
    flipped[50] ^= 1
    with pytest.raises(ValueError, match="checksum"):
        vhd.parse_size(bytes(flipped))
    with pytest.raises(ValueError, match="sectors"):
        vhd.footer(1000)


def test_an_import_into_an_azure_location_without_a_region_says_so() -> None:
    settings = clouds.azure_settings("http://127.0.0.1:9")  # never reached
    nowhere = snapshot.open_blocks("azure", region="", **settings)
    with pytest.raises(errors.SnapshotConfigError, match="needs the region its disks go to"):
        nowhere.start(1 << 30, description="d", tags={})
