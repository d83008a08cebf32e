"""Items written by ArchiveWriter come back from spool() byte for byte, checked."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import orjson
import pytest

from ark import archive
from ark.archive import tarwrite
from tests.archive.crafting import VERSION_ENTRY, add_namespace, cm_entry, k8s_object, tar_bytes


def _write(*, preferred: bool = False) -> tuple[bytes, archive.Manifest, dict[str, bytes]]:
    bodies: dict[str, bytes] = {}
    sink = io.BytesIO()
    with archive.ArchiveWriter(
        sink, backup_name="b", cluster_version="v1.34.4", preferred_version_copies=preferred
    ) as writer:
        for i in range(20):
            body = orjson.dumps(
                k8s_object(
                    "Deployment",
                    f"d{i}",
                    "web",
                    api_version="apps/v1",
                    # one object in three lists its labels in another order
                    labels=(
                        {"n": str(i % 2), "app": "front"}
                        if i % 3 == 0
                        else {"app": "front", "n": str(i % 2)}
                    ),
                    ownerReferences=[{"kind": "Owner", "name": "o", "controller": True}],
                )
            )
            record = writer.add_item(
                resource="deployments",
                group="apps",
                version="v1",
                kind="Deployment",
                namespace="web",
                name=f"d{i}",
                data=body,
            )
            bodies[record.path] = body
        secret = orjson.dumps(k8s_object("Secret", "s", "web") | {"data": {"ü": "ä€"}})
        bodies[
            writer.add_item(
                resource="secrets",
                group="",
                version="v1",
                kind="Secret",
                namespace="web",
                name="s",
                data=secret,
            ).path
        ] = secret
        bodies[add_namespace(writer, "web").path] = orjson.dumps(k8s_object("Namespace", "web"))
    return sink.getvalue(), writer.manifest, bodies


def test_items_come_back_byte_identical_and_verified(spool_dir: Path) -> None:
    data, manifest, bodies = _write()
    with archive.spool(io.BytesIO(data), spool_dir=spool_dir, manifest=manifest) as index:
        assert index.verified
        assert index.format_version == "1.1.0"
        assert len(index) == len(bodies)
        for item in index:
            assert index.read(item) == bodies[item.path]
            assert item.sha256 in {m.sha256 for m in manifest.items}


def test_index_keeps_what_a_restore_plans_with(spool_dir: Path) -> None:
    data, manifest, _ = _write()
    with archive.spool(io.BytesIO(data), spool_dir=spool_dir, manifest=manifest) as index:
        item = index.get("deployments.apps", "web", "d3")
        assert item is not None
        assert (item.resource, item.group, item.namespace, item.name) == (
            "deployments",
            "apps",
            "web",
            "d3",
        )
        assert (item.api_version, item.kind) == ("apps/v1", "Deployment")
        assert item.labels == {"app": "front", "n": "1"}
        assert item.label_pairs == (("app", "front"), ("n", "1"))
        listed_otherwise = index.get("deployments.apps", "web", "d1")
        assert listed_otherwise is not None
        assert listed_otherwise.label_pairs is item.label_pairs  # one tuple for equal labels
        assert item.owners == (archive.OwnerRef("Owner", "o", controller=True),)
        ns = index.get("namespaces", None, "web")
        assert ns is not None
        assert ns.namespace is None
        assert index.get("namespaces", None, "nope") is None
        assert index.load(ns)["kind"] == "Namespace"


def test_index_is_sorted_by_resource_namespace_name(spool_dir: Path) -> None:
    data, manifest, _ = _write()
    with archive.spool(io.BytesIO(data), spool_dir=spool_dir, manifest=manifest) as index:
        keys = [item.key for item in index]
        assert keys == sorted(keys)
        assert index.resource_dirs() == ["deployments.apps", "namespaces", "secrets"]


def test_an_archive_out_of_order_is_indexed_in_order(spool_dir: Path) -> None:
    """Kinds interleaved, one kind's names out of order, another's in order: the index is
    sorted all the same, and a copy stored twice apart is still refused."""
    names = ["m", "a", "z", "c"]
    entries = [VERSION_ENTRY]
    for i, name in enumerate(names):
        entries.append(cm_entry(name, "web" if i % 2 else "api"))
        body = orjson.dumps(k8s_object("Secret", f"s{i}", "web"))
        entries.append((f"resources/secrets/namespaces/web/s{i}.json", body))
    data = tar_bytes(entries)
    with archive.spool(io.BytesIO(data), spool_dir=spool_dir) as index:
        keys = [item.key for item in index]
    assert keys == sorted(keys)
    assert len(keys) == 2 * len(names)
    # whole kinds one after another, the later kind first, one kind in order and one not
    secrets = [e for e in entries[1:] if "/secrets/" in e[0]]
    config_maps = [e for e in entries[1:] if "/configmaps/" in e[0]]
    runs = tar_bytes([VERSION_ENTRY, *secrets, *config_maps])
    with archive.spool(io.BytesIO(runs), spool_dir=spool_dir) as index:
        assert [item.key for item in index] == keys
        assert index.get("configmaps", "web", "a") is not None
        assert index.get("configmaps", "web", "m") is None
    twice = tar_bytes([*entries, cm_entry("m", "api")])
    with pytest.raises(archive.HostileArchive, match="stored twice"):
        archive.spool(io.BytesIO(twice), spool_dir=spool_dir)


def test_without_a_manifest_items_are_read_but_not_verified(spool_dir: Path) -> None:
    data, _, bodies = _write()
    with archive.spool(io.BytesIO(data), spool_dir=spool_dir) as index:
        assert not index.verified
        assert {item.path: index.read(item) for item in index} == bodies


def test_spool_file_leaves_nothing_behind(spool_dir: Path) -> None:
    data, manifest, _ = _write()
    index = archive.spool(io.BytesIO(data), spool_dir=spool_dir, manifest=manifest)
    assert list(spool_dir.iterdir()) == []
    index.close()


def test_same_items_give_the_same_bytes() -> None:
    assert _write()[0] == _write()[0]


def test_tar_headers_are_deterministic_and_velero_shaped() -> None:
    data, _, _ = _write(preferred=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        members = tar.getmembers()
    assert members[0].name == "metadata/version"
    assert members[-1].name == "metadata/ark-manifest.json"
    assert {(m.mtime, m.uid, m.gid, m.mode, m.uname, m.gname) for m in members} == {
        (0, 0, 0, 0o644, "", "")
    }
    names = {m.name for m in members}
    assert "resources/deployments.apps/v1-preferredversion/namespaces/web/d0.json" in names
    assert "resources/namespaces/v1-preferredversion/cluster/web.json" in names


def test_preferred_version_copies_are_read_once(spool_dir: Path) -> None:
    data, manifest, bodies = _write(preferred=True)
    with archive.spool(io.BytesIO(data), spool_dir=spool_dir, manifest=manifest) as index:
        assert index.verified
        assert sorted(item.path for item in index) == sorted(bodies)


def test_metadata_version_is_readable_alone() -> None:
    data, _, _ = _write()
    assert archive.read_metadata_version(io.BytesIO(data)) == "1.1.0"


def test_compress_level_is_an_option() -> None:
    small, big = io.BytesIO(), io.BytesIO()
    for sink, level in ((small, 9), (big, 0)):
        with archive.ArchiveWriter(sink, backup_name="b", compress_level=level) as writer:
            for i in range(50):
                writer.add_item(
                    resource="configmaps",
                    group="",
                    version="v1",
                    kind="ConfigMap",
                    namespace="web",
                    name=f"c{i}",
                    data=orjson.dumps(k8s_object("ConfigMap", f"c{i}", "web")),
                )
    assert len(small.getvalue()) < len(big.getvalue()) / 3


@pytest.mark.parametrize(
    ("name", "size"),
    [
        ("resources/configmaps/namespaces/web/a.json", 700),
        ("metadata/version", 6),
        ("r/" + "x" * 98, 8**11 - 1),
        ("r/" + "x" * 99, 1),  # too long for the name field: a pax header
        ("resources/configmaps/namespaces/web/ü.json", 3),
    ],
)
def test_tar_headers_are_what_tarfile_writes(name: str, size: int) -> None:
    info = tarfile.TarInfo(name)
    info.size = size
    assert tarwrite.header(name, size) == info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def test_long_names_survive_the_round_trip(spool_dir: Path) -> None:
    name = "n" * 250
    sink = io.BytesIO()
    with archive.ArchiveWriter(sink, backup_name="b") as writer:
        writer.add_item(
            resource="configmaps",
            group="",
            version="v1",
            kind="ConfigMap",
            namespace="web",
            name=name,
            data=orjson.dumps(k8s_object("ConfigMap", name, "web")),
        )
    with archive.spool(
        io.BytesIO(sink.getvalue()), spool_dir=spool_dir, manifest=writer.manifest
    ) as index:
        assert [item.name for item in index] == [name]


@pytest.mark.parametrize("preferred", [False, True])
def test_a_check_finds_what_a_spool_indexes(preferred: bool, spool_dir: Path) -> None:
    """archive.check (verify) keeps only counts and the resource list, the same as the index's."""
    data, manifest, bodies = _write(preferred=preferred)
    checked = archive.check(io.BytesIO(data), manifest=manifest)
    with archive.spool(io.BytesIO(data), spool_dir=spool_dir, manifest=manifest) as index:
        assert checked.items == len(index) == len(bodies)
        assert checked.total_bytes == index.total_bytes == sum(map(len, bodies.values()))
        assert checked.resource_list == archive.build_resource_list(
            (i.api_version, i.kind, i.namespace, i.name) for i in index
        )
    assert checked.verified and checked.format_version == "1.1.0"
    assert checked.resource_list["apps/v1/Deployment"][:2] == ["web/d0", "web/d1"]
