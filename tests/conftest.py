"""Session fixtures: a real Kubernetes control plane, per-test namespaces, real object stores.

Servers already started by hand (`hack/cluster up --name ark-test`) are reused and left running;
servers this session starts are stopped when it ends.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import botocore.exceptions
import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage as gcs
from kubernetes import client, config

from ark.kube import KubeClient, discover
from ark.storage import ObjectStore, StoreLocation, open_store
from hack.fakes import azure_compute, gce_compute
from hack.fakes.disk_data import DiskData
from tests.operator.harness import Operator
from tests.snapshot import clouds
from tests.support import crds, localenv, workloads

if TYPE_CHECKING:
    from tests.storage.backends import AzureServer

TEST_LABEL = "ark.test/owned"
OPERATOR_LOG_LINES = 150


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test's report ends with the log of each operator it ran: CI keeps only reports."""
    report = yield
    if report.failed:
        for name, value in getattr(item, "funcargs", {}).items():
            if isinstance(value, Operator):
                tail = value.log_text().splitlines()[-OPERATOR_LOG_LINES:]
                report.sections.append((f"{name} log, last {len(tail)} lines", "\n".join(tail)))
    return report


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
    """The main test cluster (etcd + kube-apiserver + kube-controller-manager); $ARK_TEST_CLUSTER
    names another, so two checkouts can run their suites side by side."""
    yield from _cluster(localenv.test_servers())


@pytest.fixture(scope="session")
def ark_crds(cluster: Cluster) -> list[str]:
    """ark's generated CRDs, installed in the test cluster and Established."""
    return crds.install(cluster.api)


@pytest.fixture(scope="session")
def second_cluster() -> Iterator[Cluster]:
    """An independent second cluster, for cross-cluster restores ($ARK_TEST_CLUSTER-2 when
    that names the first)."""
    yield from _cluster(f"{localenv.test_servers()}-2")


@pytest.fixture(scope="module")
def csi_driver(cluster: Cluster) -> Iterator[str]:
    """The CSI stack (driver, provisioner, snapshotter, snapshot-controller) for the test
    cluster: a driver that really provisions volumes for claims. Yields the driver's name."""
    started = localenv.csi_up(cluster.name)
    try:
        yield started.env["ARK_CSI_DRIVER"]
    finally:
        if started.owned:
            localenv.csi_down(cluster.name)


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
    started = localenv.objstore_up("minio", localenv.test_servers())
    env = started.env
    try:
        yield S3Server(
            endpoint=env["ARK_S3_ENDPOINT"],
            access_key=env["ARK_S3_ACCESS_KEY_ID"],
            secret_key=env["ARK_S3_SECRET_ACCESS_KEY"],
        )
    finally:
        if started.owned:
            localenv.objstore_down("minio", localenv.test_servers())


@pytest.fixture(scope="session")
def azurite() -> Iterator[AzureServer]:
    """An Azurite blob server (real Azure Blob protocol) on loopback."""
    from tests.storage import backends  # noqa: PLC0415 - backends imports this module

    started = localenv.objstore_up("azurite", localenv.test_servers())
    env = started.env
    try:
        yield backends.AzureServer(
            endpoint=env["ARK_AZURE_BLOB_ENDPOINT"],
            account=env["ARK_AZURE_ACCOUNT"],
            key=env["ARK_AZURE_KEY"],
            connection_string=env["ARK_AZURE_CONNECTION_STRING"],
        )
    finally:
        if started.owned:
            localenv.objstore_down("azurite", localenv.test_servers())


AzureArm = tuple[azure_compute.AzureCompute, str]
"""The local ARM fake and its URL."""


@pytest.fixture(scope="session")
def azure_arm(azurite: AzureServer) -> Iterator[AzureArm]:
    """The ARM fake with a data plane: its disks' bytes are page blobs in Azurite."""
    data = DiskData(
        connection_string=azurite.connection_string, account=azurite.account, key=azurite.key
    )
    fake, running = azure_compute.start(
        token=clouds.AZURE_TOKEN, resource_groups=dict(clouds.AZURE_GROUPS), data=data
    )
    try:
        yield fake, running.url
    finally:
        running.stop()


@pytest.fixture(scope="session")
def fake_gcs() -> Iterator[str]:
    """A fake-gcs-server (real GCS JSON API) on loopback; yields its endpoint."""
    started = localenv.objstore_up("fake-gcs", localenv.test_servers())
    try:
        yield started.env["ARK_GCS_ENDPOINT"]
    finally:
        if started.owned:
            localenv.objstore_down("fake-gcs", localenv.test_servers())


GceFake = tuple[gce_compute.GceCompute, str]


@pytest.fixture(scope="session")
def gce_images(fake_gcs: str) -> Iterator[GceFake]:
    """The GCE fake that makes images from raw disk archives in fake-gcs-server."""
    fake, running = gce_compute.start(projects={clouds.GCP_PROJECT}, storage=fake_gcs)
    try:
        yield fake, running.url
    finally:
        running.stop()


@pytest.fixture
def image_bucket(fake_gcs: str) -> Iterator[gcs.Bucket]:
    """A fresh Cloud Storage bucket for raw disk archives."""
    client = gcs.Client(
        project=clouds.GCP_PROJECT,
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": fake_gcs},
    )
    bucket = client.create_bucket(f"images-{uuid.uuid4().hex[:12]}")
    try:
        yield bucket
    finally:
        for blob in bucket.list_blobs():
            blob.delete()
        bucket.delete()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto in server mode: the EC2/EBS protocol on loopback (snapshot tests)."""
    started = localenv.objstore_up("moto", localenv.test_servers())
    try:
        yield started.env["ARK_MOTO_ENDPOINT"]
    finally:
        if started.owned:
            localenv.objstore_down("moto", localenv.test_servers())


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


@pytest.fixture
def locked_bucket(minio: S3Server) -> Iterator[str]:
    """A fresh MinIO bucket created with Object Lock enabled (so versioned). Afterwards every
    version goes, bypassing governance retention (tests lock in Governance mode; an object
    under Compliance retention stays until its end, and the bucket with it)."""
    s3: Any = minio.client()
    name = f"ark-lock-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    yield name
    kept = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
        for version in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            try:
                s3.delete_object(
                    Bucket=name,
                    Key=version["Key"],
                    VersionId=version["VersionId"],
                    BypassGovernanceRetention=True,
                )
            except botocore.exceptions.ClientError:
                kept += 1  # under Compliance retention: MinIO keeps it till the end
    if not kept:
        s3.delete_bucket(Bucket=name)


def s3_location(minio: S3Server, bucket: str, *, prefix: str = "cluster-a") -> StoreLocation:
    return StoreLocation(
        provider="aws",
        bucket=bucket,
        prefix=prefix,
        config={"s3Url": minio.endpoint, "s3ForcePathStyle": "true", "region": "minio"},
        credentials={
            "aws_access_key_id": minio.access_key,
            "aws_secret_access_key": minio.secret_key,
        },
    )


@pytest.fixture(scope="session")
def kube(cluster: Cluster) -> Iterator[KubeClient]:
    """ark's own fast client for the test cluster."""
    with KubeClient.load(kubeconfig=cluster.kubeconfig) as kc:
        yield kc


# -- stores and a realistic namespace, for backup and restore tests ------------------------
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
