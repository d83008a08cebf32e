"""Servers the snapshot tests run against: moto (EC2/EBS) and the local ARM and GCE fakes.

moto is started through ``hack/objstore`` (and reused if already running); the fakes run in
this process on free loopback ports. Each server lives for the session.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ark import snapshot
from ark.snapshot.interface import VolumeSnapshotter
from hack.fakes import azure_compute, gce_compute
from tests.snapshot import clouds


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


@pytest.fixture(params=["aws", "azure", "gcp"])
def cloud(request: pytest.FixtureRequest) -> clouds.Cloud:
    """The same behaviour, once per cloud."""
    name: str = request.param
    if name == "aws":
        endpoint = request.getfixturevalue("moto_endpoint")
        settings = clouds.aws_settings(endpoint)
        build = clouds.aws
    elif name == "azure":
        endpoint = request.getfixturevalue("azure_fake")[1]
        settings = clouds.azure_settings(endpoint)
        build = clouds.azure
    else:
        endpoint = request.getfixturevalue("gce_fake")[1]
        settings = clouds.gcp_settings(endpoint)
        build = clouds.gcp

    def open_region(region: str) -> VolumeSnapshotter:
        return snapshot.open_snapshotter(name, region=region, **settings)

    return build(endpoint, open_region)
