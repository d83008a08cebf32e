"""ark's manifest: counts, API versions, JSON form; Velero's resource list."""

from __future__ import annotations

import gzip
import io
import json
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ark import archive
from ark.archive import manifest as manifest_module
from ark.archive.manifest import ManifestItems, SpooledItems
from tests.archive.crafting import VELERO_BACKUP, add_config_map, add_namespace, k8s_object


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
        add_namespace(w, "web")
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


def _spooled(count: int, *, spool_dir: Path) -> archive.Manifest:
    """A manifest whose rows span several spool flushes (a row is ~110 bytes)."""
    with archive.ArchiveWriter(io.BytesIO(), backup_name="big", spool_dir=spool_dir) as w:
        for i in range(count):
            add_config_map(w, f"config-{i:06d}", namespace=f"team-{i % 7}")
    return w.manifest


def test_the_writers_manifest_keeps_its_rows_on_disk_and_reads_them_back(tmp_path: Path) -> None:
    manifest = _spooled(5000, spool_dir=tmp_path)
    items = manifest.items
    assert isinstance(items, SpooledItems)
    in_memory = ManifestItems(items)  # built by iterating: every row read back from the spool
    assert len(in_memory) == 5000
    assert in_memory.path(0) == "resources/configmaps/namespaces/team-0/config-000000.json"
    assert items[-1] == in_memory[-1]
    assert items[2500].path == "resources/configmaps/namespaces/team-1/config-002500.json"
    assert items.total_bytes() == in_memory.total_bytes() == manifest.total_bytes
    assert list(items.paths()) == [in_memory.path(i) for i in range(5000)]
    assert items == in_memory
    with pytest.raises(IndexError):
        items[5000]
    # The same JSON as a manifest held in memory, and it decodes to the same items.
    same = archive.Manifest(
        backup_name="big",
        items=in_memory,
        api_versions=manifest.api_versions,
        kinds=manifest.kinds,
        counts=manifest.counts,
        segments=manifest.segments,
    )
    assert manifest.to_json() == same.to_json()
    assert archive.Manifest.from_json(manifest.to_json()).items == in_memory


def test_the_spool_is_an_unlinked_temp_file_gone_with_its_manifest(tmp_path: Path) -> None:
    manifest = _spooled(10, spool_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []  # anonymous: nothing to clean up after a crash
    items = manifest.items
    assert isinstance(items, SpooledItems)
    items.close()
    with pytest.raises(ValueError, match="closed file"):
        items[0]


def test_streamed_manifest_object_is_the_same_gzip_as_the_whole_one(tmp_path: Path) -> None:
    manifest = _spooled(3000, spool_dir=tmp_path)
    streamed = b"".join(archive.encode_manifest_chunks(manifest))
    assert streamed == gzip.compress(manifest.to_json(), compresslevel=6, mtime=0)
    fast = b"".join(archive.encode_manifest_chunks(manifest, compress_level=1))
    assert archive.decode_manifest(fast) == archive.decode_manifest(streamed)


def test_resource_list_of_a_spooled_manifest(tmp_path: Path) -> None:
    listing = archive.resource_list(_spooled(3000, spool_dir=tmp_path))
    assert list(listing) == ["v1/ConfigMap"]
    names = listing["v1/ConfigMap"]
    assert len(names) == 3000 and names == sorted(names)
    assert names[0] == "team-0/config-000000"


@pytest.mark.parametrize(
    "listing",
    [{}, {"v1/Namespace": ["web"]}, {"apps/v1/Deployment": ["web/front"], "v1/Pod": ["a", "b"]}],
)
def test_streamed_resource_list_is_the_same_gzip(listing: dict[str, list[str]]) -> None:
    streamed = b"".join(archive.encode_resource_list_chunks(listing))
    assert streamed == gzip.compress(orjson.dumps(listing), compresslevel=6, mtime=0)
    assert archive.decode_resource_list(streamed) == listing


def _written(names: list[tuple[str, str]], *, spool_dir: Path) -> archive.Manifest:
    with archive.ArchiveWriter(io.BytesIO(), backup_name="b", spool_dir=spool_dir) as w:
        for namespace, name in names:
            add_config_map(w, name, namespace=namespace)
        add_namespace(w, "web")
    return w.manifest


@pytest.mark.parametrize(
    "names",
    [
        [("web", f"cm-{i:06d}") for i in range(30_000)],  # in order, several pieces
        [(f"team-{i % 7}", f"cm-{i:05d}") for i in range(3000)],  # out of order: sorted
        [("web", "b"), ("web", 'quote"d'), ("web", "back\\slash"), ("web", "tab\tbed")],
        [("web", "b"), ("web", "é"), ("web", "z"), ("web", "日本")],  # UTF-8: byte order
    ],
    ids=["ordered", "unordered", "escaped", "unicode"],
)
def test_the_resource_list_streamed_from_a_manifest_is_the_same_gzip(
    names: list[tuple[str, str]], tmp_path: Path
) -> None:
    manifest = _written(names, spool_dir=tmp_path)
    listing = archive.resource_list(manifest)
    assert listing["v1/ConfigMap"] == sorted(f"{ns}/{name}" for ns, name in names)
    assert listing["v1/Namespace"] == ["web"]
    streamed = b"".join(archive.encode_manifest_resource_list(manifest))
    assert streamed == archive.encode_resource_list(listing)
    assert archive.decode_resource_list(streamed) == listing


def test_the_resource_list_of_an_empty_backup(tmp_path: Path) -> None:
    with archive.ArchiveWriter(io.BytesIO(), backup_name="b", spool_dir=tmp_path) as w:
        pass
    assert b"".join(archive.encode_manifest_resource_list(w.manifest)) == (
        archive.encode_resource_list({})
    )


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    st.dictionaries(
        st.text(max_size=8),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=8),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.text(max_size=4), inner, max_size=3)
            ),
            max_leaves=6,
        ),
        max_size=4,
    ),
    st.sampled_from([None, 0, 2]),
    st.sampled_from([(",", ":"), (", ", ": "), (" , ", " : ")]),
)
def test_the_manifest_reader_parses_any_json_object_as_json_does(
    doc: dict[str, Any], indent: int | None, separators: tuple[str, str]
) -> None:
    """The streaming reader of a manifest's members agrees with the standard parser on every
    JSON object, however it is spaced (its rows aside, which it checks as manifest rows)."""
    doc.pop("items", None)
    text = " \n" + json.dumps(doc, indent=indent, separators=separators) + "\n "
    parsed, items = manifest_module._parse(text)
    assert parsed == json.loads(text) and items is None
    with pytest.raises(ValueError):
        manifest_module._parse(text + "x")


def _rows_text(rows: list[list[Any]], *, indent: int | None = None) -> str:
    body = json.dumps(rows, indent=indent, ensure_ascii=False)
    if indent is None:
        body = orjson.dumps(rows).decode()  # compact, as ark writes it
    return '{"items": ' + body + "}"


def _odd_rows(n: int) -> list[list[Any]]:
    """Rows whose paths hold what a run's cut looks for, quotes, backslashes and non-ASCII."""
    odd = ['a"],["b', 'c"]]', "d\\\\", "é€😀", '"],[', "x"]
    return [
        [
            f"resources/configmaps/namespaces/web/{odd[i % len(odd)]}-{i}.json",
            i * 7,
            f"{i:064x}",
        ]
        for i in range(n)
    ]


@pytest.mark.parametrize("run_chars", [64, 1000, manifest_module._PARSE_CHARS])
@pytest.mark.parametrize("indent", [None, 1])
def test_rows_parsed_in_runs_are_the_rows_one_by_one(
    run_chars: int, indent: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs of rows are parsed together; whatever the text looks like where a run is cut (a
    quote inside a name, ``"],["`` or ``"]]`` in one, spaces), the rows are the same."""
    monkeypatch.setattr(manifest_module, "_PARSE_CHARS", run_chars)
    rows = _odd_rows(3000)
    _, items = manifest_module._parse(_rows_text(rows, indent=indent))
    assert items is not None
    assert [[i.path, i.size, i.sha256] for i in items] == rows


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda row: row.__setitem__(2, row[2].upper()), "is not a lowercase hex SHA-256"),
        (lambda row: row.__setitem__(2, row[2][:-2] + " 0"), "is not a lowercase hex SHA-256"),
        (lambda row: row.__setitem__(1, -1), "is not a [path, size, sha256] row"),
        (lambda row: row.__setitem__(1, True), "is not a [path, size, sha256] row"),
        (lambda row: row.append(1), "is not a [path, size, sha256] row"),
    ],
)
def test_a_bad_row_among_many_is_named(damage: Any, message: str) -> None:
    rows = _odd_rows(5000)
    rows[4321][2] = "ab" * 32
    damage(rows[4321])
    with pytest.raises(archive.CorruptArchive, match=re.escape(message)) as info:
        manifest_module._parse(_rows_text(rows))
    assert "-4321.json" in str(info.value)


def test_rows_as_ark_writes_them_are_parsed_in_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not one row at a time: the row-by-row path is not taken for ark's compact rows."""

    def one_by_one(row: object) -> None:
        raise AssertionError(f"row {row} parsed alone")

    monkeypatch.setattr(manifest_module, "_item", one_by_one)
    rows = [[f"resources/configmaps/namespaces/web/c{i}.json", i, f"{i:064x}"] for i in range(9000)]
    _, items = manifest_module._parse(_rows_text(rows))
    assert items is not None and len(items) == 9000
    assert items[8999].sha256 == f"{8999:064x}"
