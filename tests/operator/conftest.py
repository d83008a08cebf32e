"""Operator tests: the operator runs as a real process against the real API server and MinIO.

Each test gets its own operator namespace (the namespace the operator serves), a MinIO bucket,
a credential Secret and a default BackupStorageLocation ``default``.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ark import control
from ark.kube import KubeClient
from ark.storage import ObjectStore, StoreLocation, open_store
from tests.conftest import Cluster, NamespaceFactory, S3Server
from tests.operator.harness import Operator, strip_finalizers, wait_phase

PREFIX = "cluster-a"


def s3_config(minio: S3Server) -> dict[str, str]:
    return {"s3Url": minio.endpoint, "s3ForcePathStyle": "true", "region": "minio"}


def credentials_file(minio: S3Server) -> str:
    return (
        f"[default]\naws_access_key_id = {minio.access_key}\n"
        f"aws_secret_access_key = {minio.secret_key}\n"
    )


def bsl_body(
    name: str,
    bucket: str,
    minio: S3Server,
    *,
    default: bool = True,
    prefix: str = PREFIX,
    **spec: Any,
) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "provider": "aws",
            "objectStorage": {"bucket": bucket, "prefix": prefix},
            "config": s3_config(minio),
            "credential": {"name": "ark-s3", "key": "cloud"},
            "default": default,
            "backupSyncPeriod": "1s",
            "validationFrequency": "1s",
            **spec,
        },
    }


def make_store(minio: S3Server, bucket: str, prefix: str = PREFIX) -> ObjectStore:
    return open_store(
        StoreLocation(
            provider="aws",
            bucket=bucket,
            prefix=prefix,
            config=s3_config(minio),
            credentials={
                "aws_access_key_id": minio.access_key,
                "aws_secret_access_key": minio.secret_key,
            },
        )
    )


def create_secret(kube: KubeClient, namespace: str, minio: S3Server) -> None:
    kube.request(
        "POST",
        f"/api/v1/namespaces/{namespace}/secrets",
        body={
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "ark-s3"},
            "data": {"cloud": base64.b64encode(credentials_file(minio).encode()).decode()},
        },
    )


@pytest.fixture
def op_namespace(
    make_namespace: NamespaceFactory, ark_crds: list[str], kube: KubeClient, minio: S3Server
) -> str:
    namespace = make_namespace("ark-op")
    create_secret(kube, namespace, minio)
    return namespace


@pytest.fixture
def store(minio: S3Server, s3_bucket: str) -> ObjectStore:
    return make_store(minio, s3_bucket)


@pytest.fixture
def operator(
    cluster: Cluster, kube: KubeClient, op_namespace: str, tmp_path: Path
) -> Iterator[Operator]:
    """A running operator for ``op_namespace``; afterwards its CRs go, then the operator."""
    op = Operator(namespace=op_namespace, kubeconfig=cluster.kubeconfig, log_dir=tmp_path)
    op.start()
    yield op
    op.stop()
    strip_finalizers(kube, op_namespace)


@pytest.fixture
def default_bsl(
    kube: KubeClient, op_namespace: str, s3_bucket: str, minio: S3Server, operator: Operator
) -> str:
    control.create(kube, control.BSL, op_namespace, bsl_body("default", s3_bucket, minio))
    wait_phase(kube, control.BSL, op_namespace, "default", {"Available"}, timeout=30)
    return "default"
