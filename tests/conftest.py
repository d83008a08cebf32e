"""Session fixtures: a real Kubernetes control plane, per-test namespaces, real object stores.

Servers already started by hand (`hack/cluster up --name ark-test`) are reused and left running;
servers this session starts are stopped when it ends.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import boto3
import pytest
from kubernetes import client, config

from ark.kube import KubeClient
from tests.support import crds, localenv

TEST_LABEL = "ark.test/owned"


@dataclass(frozen=True)
class Cluster:
    """A running local cluster and typed clients for it."""

    name: str
    kubeconfig: str
    server: str
    api: client.ApiClient

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    @property
    def apiext(self) -> client.ApiextensionsV1Api:
        return client.ApiextensionsV1Api(self.api)

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)


def _cluster(name: str) -> Iterator[Cluster]:
    started = localenv.cluster_up(name)
    kubeconfig = started.env["KUBECONFIG"]
    api = config.new_client_from_config(config_file=kubeconfig)
    try:
        yield Cluster(
            name=name, kubeconfig=kubeconfig, server=started.env["ARK_CLUSTER_SERVER"], api=api
        )
    finally:
        api.close()
        if started.owned:
            localenv.cluster_down(name)


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """The main test cluster (etcd + kube-apiserver + kube-controller-manager)."""
    yield from _cluster("ark-test")


@pytest.fixture(scope="session")
def ark_crds(cluster: Cluster) -> list[str]:
    """ark's generated CRDs, installed in the test cluster and Established."""
    return crds.install(cluster.api)


@pytest.fixture(scope="session")
def second_cluster() -> Iterator[Cluster]:
    """An independent second cluster, for cross-cluster restores."""
    yield from _cluster("ark-test-2")


NamespaceFactory = Callable[..., str]


def _namespace_factory(cluster: Cluster) -> Iterator[NamespaceFactory]:
    created: list[str] = []

    def make(prefix: str = "t") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        cluster.core.create_namespace(
            client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels={TEST_LABEL: "true"}))
        )
        created.append(name)
        return name

    yield make
    for name in created:
        try:
            cluster.core.delete_namespace(name)
        except client.ApiException as exc:
            if exc.status != 404:
                raise


@pytest.fixture
def make_namespace(cluster: Cluster) -> Iterator[NamespaceFactory]:
    """Create namespaces for one test; they are deleted (asynchronously) when it ends."""
    yield from _namespace_factory(cluster)


@pytest.fixture
def namespace(make_namespace: NamespaceFactory) -> str:
    return make_namespace()


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str

    def client(self) -> object:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
        )


@pytest.fixture(scope="session")
def minio() -> Iterator[S3Server]:
    """A MinIO server (real S3 protocol) on loopback."""
    started = localenv.objstore_up("minio", "ark-test")
    env = started.env
    try:
        yield S3Server(
            endpoint=env["ARK_S3_ENDPOINT"],
            access_key=env["ARK_S3_ACCESS_KEY_ID"],
            secret_key=env["ARK_S3_SECRET_ACCESS_KEY"],
        )
    finally:
        if started.owned:
            localenv.objstore_down("minio", "ark-test")


@pytest.fixture
def s3_bucket(minio: S3Server) -> Iterator[str]:
    """A fresh, empty MinIO bucket for one test; emptied and removed afterwards."""
    s3 = minio.client()
    name = f"ark-test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)  # type: ignore[attr-defined]
    yield name
    paginator = s3.get_paginator("list_objects_v2")  # type: ignore[attr-defined]
    for page in paginator.paginate(Bucket=name):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=name, Delete={"Objects": keys})  # type: ignore[attr-defined]
    s3.delete_bucket(Bucket=name)  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def kube(cluster: Cluster) -> Iterator[KubeClient]:
    """ark's own fast client for the test cluster."""
    with KubeClient.load(kubeconfig=cluster.kubeconfig) as kc:
        yield kc
