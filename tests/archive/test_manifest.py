"""ark's manifest: counts, API versions, JSON form; Velero's resource list."""

from __future__ import annotations

import io

import orjson
import pytest

from ark import archive
from tests.archive.crafting import VELERO_BACKUP, add_config_map, k8s_object


def _manifest() -> archive.Manifest:
    with archive.ArchiveWriter(io.BytesIO(), backup_name="b", cluster_version="v1.34.4") as w:
        for name in ("b", "a"):
            add_config_map(w, name)
        add_config_map(w, "x", namespace="other")
        w.add_item(
            resource="deployments",
            group="apps",
            version="v1",
            kind="Deployment",
            namespace="web",
            name="front",
            data=orjson.dumps(k8s_object("Deployment", "front", "web", api_version="apps/v1")),
        )
        w.add_item(
            resource="namespaces",
            group="",
            version="v1",
            kind="Namespace",
            namespace=None,
            name="web",
            data=orjson.dumps(k8s_object("Namespace", "web")),
        )
    return w.manifest


def test_manifest_counts_items_and_bytes_per_resource() -> None:
    manifest = _manifest()
    assert manifest.backup_name == "b"
    assert manifest.cluster_version == "v1.34.4"
    assert manifest.counts == {"configmaps": 3, "deployments.apps": 1, "namespaces": 1}
    assert manifest.api_versions == {
        "configmaps": "v1",
        "deployments.apps": "apps/v1",
        "namespaces": "v1",
    }
    assert manifest.kinds["deployments.apps"] == "Deployment"
    assert manifest.total_items == 5
    assert manifest.total_bytes == sum(item.size for item in manifest.items)
    assert [item.path for item in manifest.items][:2] == [
        "resources/configmaps/namespaces/web/b.json",
        "resources/configmaps/namespaces/web/a.json",
    ]


def test_manifest_survives_json_and_gzip() -> None:
    manifest = _manifest()
    assert archive.decode_manifest(archive.encode_manifest(manifest)) == manifest
    doc = orjson.loads(manifest.to_json())
    assert doc["totalItems"] == 5
    assert doc["items"][0][0] == "resources/configmaps/namespaces/web/b.json"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(formatVersion=99), "formatVersion"),
        (lambda d: d.update(totalItems=1), "totalItems"),
        (lambda d: d["items"][0].__setitem__(2, "zz"), "sha256"),
        (lambda d: d["items"].__setitem__(0, "x"), "row"),
        (lambda d: d.update(counts={"a": "b"}), "counts"),
    ],
)
def test_a_damaged_manifest_is_refused(mutate: object, message: str) -> None:
    doc = orjson.loads(_manifest().to_json())
    mutate(doc)  # type: ignore[operator]
    with pytest.raises(archive.CorruptArchive, match=message):
        archive.Manifest.from_json(orjson.dumps(doc))


def test_resource_list_is_velero_shaped_and_sorted() -> None:
    assert archive.resource_list(_manifest()) == {
        "apps/v1/Deployment": ["web/front"],
        "v1/ConfigMap": ["other/x", "web/a", "web/b"],
        "v1/Namespace": ["web"],
    }


def test_resource_list_round_trips_through_gzip() -> None:
    listing = archive.resource_list(_manifest())
    assert archive.decode_resource_list(archive.encode_resource_list(listing)) == listing


def test_velero_resource_list_is_readable() -> None:
    path = VELERO_BACKUP / "guestbook-20261124-resource-list.json.gz"
    listing = archive.decode_resource_list(path.read_bytes())
    assert listing["v1/Namespace"] == ["guestbook"]
