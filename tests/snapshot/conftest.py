"""Servers the snapshot tests run against: moto (EC2/EBS) and the local ARM and GCE fakes.

moto is started through ``hack/objstore`` (and reused if already running); the fakes run in
this process on free loopback ports. Each server lives for the session.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ark import snapshot
from ark.snapshot.interface import VolumeSnapshotter
from hack.fakes import azure_compute, gce_compute
from tests.snapshot import clouds
from tests.support import localenv


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    started = localenv.objstore_up("moto", "ark-test")
    try:
        yield started.env["ARK_MOTO_ENDPOINT"]
    finally:
        if started.owned:
            localenv.objstore_down("moto", "ark-test")


@pytest.fixture(scope="session")
def azure_fake() -> Iterator[tuple[azure_compute.AzureCompute, str]]:
    fake, running = azure_compute.start(
        token=clouds.AZURE_TOKEN, resource_groups=dict(clouds.AZURE_GROUPS)
    )
    try:
        yield fake, running.url
    finally:
        running.stop()


@pytest.fixture(scope="session")
def gce_fake() -> Iterator[tuple[gce_compute.GceCompute, str]]:
    fake, running = gce_compute.start(projects={clouds.GCP_PROJECT})
    try:
        yield fake, running.url
    finally:
        running.stop()


def aws_config(endpoint: str) -> dict[str, Any]:
    return {
        "config": {"ec2Url": endpoint},
        "credentials": {"aws_access_key_id": "ark-test", "aws_secret_access_key": "ark-secret"},
    }


def azure_config(endpoint: str) -> dict[str, Any]:
    return {
        "config": {
            "subscriptionId": clouds.AZURE_SUBSCRIPTION,
            "resourceGroup": "ark-snapshots",
            "armEndpoint": endpoint,
            "pollingInterval": "0.01",
        },
        "credentials": {
            "AZURE_ACCESS_TOKEN": clouds.AZURE_TOKEN,
            "AZURE_RESOURCE_GROUP": "ark-restores",
        },
    }


def gcp_config(endpoint: str) -> dict[str, Any]:
    return {
        "config": {"project": clouds.GCP_PROJECT, "computeUrl": endpoint},
        "credentials": {},
    }


@pytest.fixture(params=["aws", "azure", "gcp"])
def cloud(request: pytest.FixtureRequest) -> clouds.Cloud:
    """The same behaviour, once per cloud."""
    name: str = request.param
    if name == "aws":
        endpoint = request.getfixturevalue("moto_endpoint")
        settings = aws_config(endpoint)
        build = clouds.aws
    elif name == "azure":
        endpoint = request.getfixturevalue("azure_fake")[1]
        settings = azure_config(endpoint)
        build = clouds.azure
    else:
        endpoint = request.getfixturevalue("gce_fake")[1]
        settings = gcp_config(endpoint)
        build = clouds.gcp

    def open_region(region: str) -> VolumeSnapshotter:
        return snapshot.open_snapshotter(name, region=region, **settings)

    return build(endpoint, open_region)
