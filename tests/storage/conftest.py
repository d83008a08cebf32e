"""Fixtures for the object-store conformance suite: the same tests run against every provider.

``store`` is parametrized over fs (a temp directory), aws (MinIO), azure (Azurite) and gcp
(fake-gcs-server); each test gets a fresh bucket, container or directory. Servers started by
this session are stopped when it ends; ones already running (`hack/objstore up ... --name
ark-test`) are reused and left alone.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ark import storage
from tests.storage import backends

PROVIDERS = ["fs", "aws", "azure", "gcp"]


def _backend(provider: str, request: pytest.FixtureRequest) -> backends.Backend:
    if provider == "fs":
        return backends.new_fs_backend()
    if provider == "aws":
        return backends.S3Backend(server=request.getfixturevalue("minio"))
    if provider == "azure":
        return backends.AzureBackend(server=request.getfixturevalue("azurite"))
    if provider == "gcp":
        return backends.GcsBackend(endpoint=request.getfixturevalue("fake_gcs"))
    raise AssertionError(provider)


@pytest.fixture(params=PROVIDERS)
def backend(request: pytest.FixtureRequest) -> Iterator[backends.Backend]:
    """The provider harness for one test; buckets it made are removed afterwards."""
    harness = _backend(str(request.param), request)
    yield harness
    harness.cleanup()


@pytest.fixture
def store(backend: backends.Backend) -> storage.ObjectStore:
    """A store on a fresh, empty bucket of the provider under test."""
    return storage.open_store(backend.new_location())
