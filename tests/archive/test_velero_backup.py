"""A backup written by real Velero 1.18.3 (see the fixtures README) reads completely."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ark import archive
from tests.archive.crafting import VELERO_BACKUP

TARBALL = VELERO_BACKUP / "guestbook-20261124.tar.gz"


@pytest.fixture
def index(spool_dir: Path) -> Iterator[archive.ArchiveIndex]:
    with TARBALL.open("rb") as src, archive.spool(src, spool_dir=spool_dir) as index:
        yield index


def test_every_listed_item_is_indexed_once(index: archive.ArchiveIndex) -> None:
    listing = archive.decode_resource_list(
        (VELERO_BACKUP / "guestbook-20261124-resource-list.json.gz").read_bytes()
    )
    assert (
        archive.build_resource_list(
            (item.api_version, item.kind, item.namespace, item.name) for item in index
        )
        == listing
    )
    assert len(index) == sum(len(names) for names in listing.values()) == 30


def test_velero_backups_are_not_verified(index: archive.ArchiveIndex) -> None:
    assert not index.verified
    assert index.format_version == "1.1.0"


def test_excluded_config_map_is_absent(index: archive.ArchiveIndex) -> None:
    assert index.get("configmaps", "guestbook", "skip-me") is None
    assert index.get("configmaps", "guestbook", "frontend-config") is not None


def test_namespace_and_cluster_scoped_crd_are_present(index: archive.ArchiveIndex) -> None:
    ns = index.get("namespaces", None, "guestbook")
    assert ns is not None
    assert ns.labels["team"] == "web"
    crd = index.get(
        "customresourcedefinitions.apiextensions.k8s.io", None, "guestbooks.demo.example.org"
    )
    assert crd is not None
    assert crd.api_version == "apiextensions.k8s.io/v1"


def test_owner_references_are_indexed(index: archive.ArchiveIndex) -> None:
    pods = [item for item in index if item.kind == "Pod"]
    assert len(pods) == 3
    owners = {owner for pod in pods for owner in pod.owners}
    assert {(o.kind, o.controller) for o in owners} == {("ReplicaSet", True), ("StatefulSet", True)}


def test_items_read_back_as_their_objects(index: archive.ArchiveIndex) -> None:
    for item in index:
        obj = index.load(item)
        assert obj["metadata"]["name"] == item.name
    secret = index.get("secrets", "guestbook", "redis-auth")
    assert secret is not None
    assert index.load(secret)["kind"] == "Secret"


def test_metadata_version() -> None:
    with TARBALL.open("rb") as src:
        assert archive.read_metadata_version(src) == "1.1.0"
