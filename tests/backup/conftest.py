"""Backup tests: stores on a real filesystem and a real MinIO, a realistic namespace."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ark.kube import KubeClient, discover
from ark.storage import ObjectStore, StoreLocation, open_store
from tests.conftest import NamespaceFactory, S3Server
from tests.support import workloads


@pytest.fixture
def fs_store(tmp_path: Path) -> ObjectStore:
    root = tmp_path / "bucket"
    root.mkdir()
    return open_store(StoreLocation(provider="fs", bucket=str(root), prefix="cluster-a"))


@pytest.fixture
def s3_store(minio: S3Server, s3_bucket: str) -> ObjectStore:
    return open_store(
        StoreLocation(
            provider="aws",
            bucket=s3_bucket,
            prefix="cluster-a",
            config={"s3Url": minio.endpoint, "s3ForcePathStyle": "true", "region": "minio"},
            credentials={
                "aws_access_key_id": minio.access_key,
                "aws_secret_access_key": minio.secret_key,
            },
        )
    )


@pytest.fixture(params=["fs", "s3"])
def store(request: pytest.FixtureRequest) -> ObjectStore:
    """Each backup test runs against a filesystem store and a MinIO bucket."""
    fixture = "fs_store" if request.param == "fs" else "s3_store"
    result: ObjectStore = request.getfixturevalue(fixture)
    return result


@pytest.fixture
def shop(
    kube: KubeClient, make_namespace: NamespaceFactory
) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A namespace with the realistic application set; its cluster-scoped objects are removed
    afterwards."""
    namespace = make_namespace("shop")
    manifests = workloads.deploy_shop(kube, namespace)
    yield namespace, manifests
    for obj in workloads.cluster_manifests(namespace, suffix=namespace):
        res = workloads.resolve(discover(kube), obj)
        kube.request("DELETE", res.path(name=obj["metadata"]["name"]))


@pytest.fixture
def spool_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / f"spool-{uuid.uuid4().hex[:6]}"
    path.mkdir()
    yield path
    shutil.rmtree(path, ignore_errors=True)
