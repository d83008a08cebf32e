"""Snapshotters open through their entry points; bad settings are named, secrets never shown."""

from __future__ import annotations

from typing import Any

import pytest

from ark import snapshot
from ark.snapshot import errors
from ark.snapshot.interface import VolumeSnapshotter
from tests.snapshot import clouds
from tests.snapshot.clouds import Cloud

MINIMAL: dict[str, dict[str, str]] = {
    "aws": {"region": "us-east-1"},
    "azure": {"subscriptionId": clouds.AZURE_SUBSCRIPTION},
    "gcp": {"project": "p", "computeUrl": "http://127.0.0.1:1"},
}


def _open(provider: str, config: dict[str, str], credentials: dict[str, str] | None = None) -> Any:
    return snapshot.open_snapshotter(
        provider, region="us-east-1", config=config, credentials=credentials or {}
    )


def test_each_cloud_opens_through_its_entry_point(cloud: Cloud) -> None:
    assert isinstance(cloud.snapshotter, VolumeSnapshotter)
    assert cloud.snapshotter.provider == cloud.name
    assert set(snapshot.providers()) >= {"aws", "azure", "gcp"}


def test_unknown_provider_lists_the_known_ones() -> None:
    with pytest.raises(errors.UnknownProvider) as err:
        _open("openstack", {})
    assert "'openstack'" in str(err.value)
    assert "aws, azure, csi, gcp" in str(err.value)


@pytest.mark.parametrize("provider", sorted(MINIMAL))
def test_unknown_config_key_is_named(provider: str) -> None:
    with pytest.raises(errors.SnapshotConfigError) as err:
        _open(provider, {**MINIMAL[provider], "s3ForcePathStyle": "true"})
    assert err.value.setting == "s3ForcePathStyle"
    assert "'s3ForcePathStyle'" in str(err.value)


@pytest.mark.parametrize(
    ("provider", "key", "value"),
    [
        ("aws", "ec2Url", "localhost:4566"),
        ("azure", "armEndpoint", "ftp://arm"),
        ("gcp", "computeUrl", "compute"),
        ("azure", "pollingInterval", "soon"),
        ("azure", "incremental", "maybe"),
        ("gcp", "apiTimeout", "10 minutes"),
    ],
)
def test_bad_config_value_is_named_with_the_value(provider: str, key: str, value: str) -> None:
    with pytest.raises(errors.SnapshotConfigError) as err:
        _open(provider, {**MINIMAL[provider], key: value})
    assert err.value.setting == key
    assert repr(value) in str(err.value)


def test_required_settings_are_named() -> None:
    with pytest.raises(errors.SnapshotConfigError, match="'subscriptionId'"):
        _open("azure", {})
    with pytest.raises(errors.SnapshotConfigError, match="'project'"):
        _open("gcp", {"computeUrl": "http://127.0.0.1:1"})
    with pytest.raises(errors.SnapshotConfigError, match="'region'"):
        snapshot.open_snapshotter("aws", region="", config={}, credentials={})


def test_half_given_aws_keys_name_the_missing_one() -> None:
    with pytest.raises(errors.SnapshotConfigError) as err:
        _open("aws", {}, {"aws_access_key_id": "AKIAARKTEST"})
    assert "aws_secret_access_key" in str(err.value)


def test_velero_aws_credentials_file_with_a_profile_works(moto_endpoint: str) -> None:
    cloud_file = (
        "[default]\naws_access_key_id = nope\naws_secret_access_key = nope\n"
        "[backup]\naws_access_key_id = ark-test\naws_secret_access_key = ark-secret\n"
    )
    opened = _open("aws", {"ec2Url": moto_endpoint, "profile": "backup"}, {"cloud": cloud_file})
    pv = clouds.pv("x", {"awsElasticBlockStore": {"volumeID": "vol-0123456789abcdef0"}})
    with pytest.raises(errors.VolumeNotFound):  # reached moto, signed with the profile's keys
        opened.volume_of(pv)
    with pytest.raises(errors.SnapshotConfigError, match=r"\[ops\]"):
        _open("aws", {"profile": "ops"}, {"cloud": cloud_file})


def _azure_harness(endpoint: str) -> Cloud:
    settings = clouds.azure_settings(endpoint)
    return clouds.azure(
        endpoint, lambda region: snapshot.open_snapshotter("azure", region=region, **settings)
    )


def test_velero_azure_credentials_file_gives_subscription_and_group(
    azure_fake: tuple[object, str],
) -> None:
    endpoint = azure_fake[1]
    cloud_file = (
        f"# written by velero install\nAZURE_SUBSCRIPTION_ID={clouds.AZURE_SUBSCRIPTION}\n"
        f"AZURE_RESOURCE_GROUP=ark-restores\nAZURE_ACCESS_TOKEN={clouds.AZURE_TOKEN}\n"
    )
    harness = _azure_harness(endpoint)
    opened = _open(
        "azure", {"armEndpoint": endpoint, "pollingInterval": "0.01"}, {"cloud": cloud_file}
    )
    ref = opened.volume_of(harness.csi_pv(harness.make_volume()))
    assert ref is not None and ref.zone == "eastus-2"


def test_refused_token_is_access_denied_and_not_shown(azure_fake: tuple[object, str]) -> None:
    endpoint = azure_fake[1]
    harness = _azure_harness(endpoint)
    volume_id = harness.make_volume()
    secret = "wrong-token-7f3a9"
    opened = _open(
        "azure",
        {**MINIMAL["azure"], "armEndpoint": endpoint},
        {"AZURE_ACCESS_TOKEN": secret},
    )
    with pytest.raises(errors.AccessDenied) as err:
        opened.volume_of(harness.csi_pv(volume_id))
    assert volume_id in str(err.value)
    assert "InvalidAuthenticationToken" in str(err.value)
    assert secret not in str(err.value)
    assert secret not in repr(opened.__dict__)
