from __future__ import annotations

import pytest

from ark import archive
from ark.archive import layout


def test_namespaced_item_path_has_resource_dot_group() -> None:
    resource_dir = layout.resource_dir("deployments", "apps")
    assert layout.item_path(resource_dir, "web", "front") == (
        "resources/deployments.apps/namespaces/web/front.json"
    )


def test_core_group_item_path_is_just_the_resource() -> None:
    resource_dir = layout.resource_dir("secrets", "")
    assert layout.item_path(resource_dir, "web", "db") == "resources/secrets/namespaces/web/db.json"


def test_cluster_scoped_item_path() -> None:
    resource_dir = layout.resource_dir("namespaces", "")
    assert layout.item_path(resource_dir, None, "web") == "resources/namespaces/cluster/web.json"


def test_preferred_version_path_matches_velero() -> None:
    resource_dir = layout.resource_dir("customresourcedefinitions", "apiextensions.k8s.io")
    assert layout.preferred_version_path(resource_dir, "v1", None, "a.b") == (
        "resources/customresourcedefinitions.apiextensions.k8s.io/v1-preferredversion/"
        "cluster/a.b.json"
    )


@pytest.mark.parametrize(
    "path",
    [
        "resources/deployments.apps/namespaces/web/front.json",
        "resources/namespaces/cluster/web.json",
        "resources/pods/v1-preferredversion/namespaces/web/p.json",
        "resources/configmaps/namespaces/web/kube-root-ca.crt.json",
    ],
)
def test_parse_item_path_inverts_item_path(path: str) -> None:
    loc = layout.parse_item_path(path)
    if loc.preferred_version is None:
        assert layout.item_path(loc.resource_dir, loc.namespace, loc.name) == path
    else:
        assert (
            layout.preferred_version_path(
                loc.resource_dir, loc.preferred_version, loc.namespace, loc.name
            )
            == path
        )


@pytest.mark.parametrize(
    "path",
    [
        "resources/pods/p.json",
        "resources/pods/namespaces/web/p.yaml",
        "resources/pods/namespaces/Web/p.json",
        "resources/Pods/cluster/p.json",
        "resources/pods/cluster/.json",
        "resources/pods/vX-preferredversion/cluster/p.json",
        "other/pods/cluster/p.json",
    ],
)
def test_parse_item_path_rejects_other_shapes(path: str) -> None:
    with pytest.raises(archive.InvalidName):
        layout.parse_item_path(path)


@pytest.mark.parametrize("name", ["", "Upper", "-lead", "trail-", "a/b", "a..b", "x" * 254, "a_b"])
def test_invalid_backup_names_are_refused_with_the_reason(name: str) -> None:
    with pytest.raises(archive.InvalidName, match="backup name"):
        archive.backup_name(name)


def test_api_version_and_group() -> None:
    assert layout.api_version("apps", "v1") == "apps/v1"
    assert layout.api_version("", "v1") == "v1"
    assert layout.api_group("apps/v1") == "apps"
    assert layout.api_group("v1") == ""
