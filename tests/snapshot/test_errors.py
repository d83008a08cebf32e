"""Cloud refusals come back as ark errors naming the volume or snapshot and the cloud's reason."""

from __future__ import annotations

import pytest

from ark import snapshot
from ark.snapshot import errors
from hack.fakes import azure_compute
from tests.snapshot import clouds
from tests.snapshot.clouds import Cloud


@pytest.mark.parametrize("cloud", ["azure", "gcp"], indirect=True)  # moto completes at once
def test_restoring_from_a_snapshot_still_in_progress_names_it_and_the_reason(
    cloud: Cloud,
) -> None:
    ref = cloud.snapshotter.volume_of(cloud.csi_pv(cloud.make_volume()))
    assert ref is not None
    snapshot_id = cloud.snapshotter.create_snapshot(ref, tags={})
    with pytest.raises(errors.OperationFailed) as err:
        cloud.snapshotter.create_volume_from_snapshot(snapshot_id, zone=cloud.zone, tags={})
    assert snapshot_id in str(err.value)
    assert err.value.code in ("OperationNotAllowed", "resourceNotReady")
    assert err.value.code in str(err.value)


def test_snapshot_into_a_missing_resource_group_names_the_disk_and_the_group(
    azure_fake: tuple[azure_compute.AzureCompute, str],
) -> None:
    settings = clouds.azure_settings(azure_fake[1])
    settings["config"] = {**settings["config"], "resourceGroup": "no-such-group"}
    harness = clouds.azure(
        azure_fake[1], lambda region: snapshot.open_snapshotter("azure", region=region, **settings)
    )
    ref = harness.snapshotter.volume_of(harness.in_tree_pv(harness.make_volume()))
    assert ref is not None
    with pytest.raises(errors.OperationFailed) as err:
        harness.snapshotter.create_snapshot(ref, tags={})
    assert ref.volume_id in str(err.value)
    assert ref.pv_name in str(err.value)
    assert "no-such-group" in str(err.value)
    assert err.value.code == "ResourceGroupNotFound"


def test_snapshot_of_a_volume_in_another_region_is_refused(cloud: Cloud) -> None:
    ref = cloud.snapshotter.volume_of(cloud.csi_pv(cloud.make_volume()))
    assert ref is not None
    if cloud.name != "aws":
        return  # ARM and GCE ids carry their region: any snapshotter can snapshot them
    there = cloud.open_region(cloud.other_region)
    with pytest.raises(errors.OperationFailed) as err:
        there.create_snapshot(ref, tags={})
    assert ref.volume_id in str(err.value)
    assert "us-east-1" in str(err.value)
