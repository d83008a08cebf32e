"""Damaged or inconsistent archives are refused, naming the entry and the cause."""

from __future__ import annotations

import dataclasses
import gc
import gzip
import io
from pathlib import Path
from typing import Any

import orjson
import pytest

from ark import archive
from ark.archive import reader
from tests.archive.crafting import VERSION_ENTRY, add_config_map, cm_entry, k8s_object, tar_bytes

CM = "resources/configmaps/namespaces/web/a.json"


def _refused(data: bytes, spool_dir: Path, **kwargs: object) -> archive.CorruptArchive:
    with pytest.raises(archive.CorruptArchive) as info:
        archive.spool(io.BytesIO(data), spool_dir=spool_dir, **kwargs)  # type: ignore[arg-type]
    assert list(spool_dir.iterdir()) == []
    return info.value


def _written(n: int = 5) -> tuple[bytes, archive.Manifest]:
    sink = io.BytesIO()
    with archive.ArchiveWriter(sink, backup_name="b") as writer:
        for i in range(n):
            add_config_map(writer, f"c{i}")
    return sink.getvalue(), writer.manifest


@pytest.mark.parametrize(
    ("body", "cause"),
    [
        (b"{not json", "invalid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (orjson.dumps({"kind": "ConfigMap", "metadata": {"name": "a"}}), "no apiVersion or kind"),
        (orjson.dumps({"apiVersion": "v1", "metadata": {"name": "a"}}), "no apiVersion or kind"),
        (orjson.dumps({"apiVersion": "v1", "kind": "ConfigMap"}), "no metadata.name"),
        (
            orjson.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}),
            "no metadata.name",
        ),
        (
            orjson.dumps(k8s_object("ConfigMap", "a", "web", labels={"x": 1})),
            "metadata.labels is not a map of strings",
        ),
        (
            orjson.dumps(k8s_object("ConfigMap", "a", "web", ownerReferences=[{"kind": "X"}])),
            "has no kind and name",
        ),
    ],
)
def test_bodies_that_are_not_kubernetes_objects(body: bytes, cause: str, spool_dir: Path) -> None:
    error = _refused(tar_bytes([VERSION_ENTRY, cm_entry("a", body=body)]), spool_dir)
    assert error.entry == CM
    assert cause in str(error)


@pytest.mark.parametrize(
    ("fields", "cause"),
    [
        ({"labels": {"x": 1}}, "metadata.labels is not a map of strings"),
        ({"labels": {"x": ["1"]}}, "metadata.labels is not a map of strings"),
        ({"labels": ["x"]}, "metadata.labels is not a map of strings"),
        ({"ownerReferences": [{"kind": "X", "name": "o"}, "o"]}, "has no kind and name"),
        ({"ownerReferences": [{"kind": "X", "name": 1}]}, "has no kind and name"),
        ({"ownerReferences": {"kind": "X", "name": "o"}}, "is not a list"),
    ],
)
@pytest.mark.parametrize("how", ["spool", "check", "check remembering none"])
def test_a_damaged_label_or_owner_is_refused_after_good_ones_like_it(
    fields: dict[str, Any], cause: str, how: str, spool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Label sets and owners already checked are remembered (by a check, up to a bound): a
    damaged one like them is not taken for them."""
    good: dict[str, Any] = {"labels": {"x": "1"}, "ownerReferences": [{"kind": "X", "name": "o"}]}
    first = orjson.dumps(k8s_object("ConfigMap", "a", "web", **good))
    damaged = orjson.dumps(k8s_object("ConfigMap", "b", "web", **fields))
    data = tar_bytes([VERSION_ENTRY, cm_entry("a", body=first), cm_entry("b", body=damaged)])
    if how == "spool":
        error = _refused(data, spool_dir)
    else:
        if how == "check remembering none":
            monkeypatch.setattr(reader, "_CHECKED_MAX", 0)
        with pytest.raises(archive.CorruptArchive) as info:
            archive.check(io.BytesIO(data))
        error = info.value
    assert error.entry == "resources/configmaps/namespaces/web/b.json"
    assert cause in str(error)


def test_checksum_mismatch_against_the_manifest(spool_dir: Path) -> None:
    data, manifest = _written()
    items = list(manifest.items)
    items[2] = items[2]._replace(sha256="0" * 64)
    error = _refused(data, spool_dir, manifest=dataclasses.replace(manifest, items=tuple(items)))
    assert error.entry == items[2].path
    assert "checksum mismatch" in str(error)


def test_a_changed_item_fails_its_checksum(spool_dir: Path) -> None:
    _, manifest = _written(1)
    tampered = orjson.dumps(k8s_object("ConfigMap", "c0", "web") | {"data": {"k": "evil"}})
    data = tar_bytes([VERSION_ENTRY, cm_entry("c0", body=tampered)])
    assert "checksum mismatch" in str(_refused(data, spool_dir, manifest=manifest))


@pytest.mark.parametrize("where", [0, 2, 5])
def test_a_manifest_item_missing_from_the_archive(where: int, spool_dir: Path) -> None:
    data, manifest = _written()
    extra = archive.ManifestItem(
        archive.TarPath("resources/configmaps/namespaces/web/gone.json"), 1, "0" * 64
    )
    items = list(manifest.items)
    items.insert(where, extra)
    error = _refused(data, spool_dir, manifest=dataclasses.replace(manifest, items=tuple(items)))
    assert error.entry == extra.path
    assert "missing from the archive" in str(error)


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9])
def test_truncated_gzip(keep: float, spool_dir: Path) -> None:
    data, manifest = _written(200)
    error = _refused(data[: int(len(data) * keep)], spool_dir, manifest=manifest)
    assert "truncated" in str(error)


@pytest.mark.parametrize("cut", [1, 4, 8])
def test_missing_gzip_trailer(cut: int, spool_dir: Path) -> None:
    data, _ = _written()
    assert "truncated" in str(_refused(data[:-cut], spool_dir))


def test_gzip_checksum_damage(spool_dir: Path) -> None:
    data, _ = _written()
    damaged = data[:-8] + bytes(b ^ 0xFF for b in data[-8:-4]) + data[-4:]
    assert "damaged gzip" in str(_refused(damaged, spool_dir))


def test_not_gzip_at_all(spool_dir: Path) -> None:
    assert "damaged gzip" in str(_refused(b"hello, this is not a backup", spool_dir))


def test_valid_gzip_of_a_cut_tar(spool_dir: Path) -> None:
    plain = tar_bytes([VERSION_ENTRY, cm_entry("a"), cm_entry("b")], gz=False)
    error = _refused(gzip.compress(plain[:1536], mtime=0), spool_dir)
    assert "truncated" in str(error) or "end" in str(error)


def test_data_after_the_end_of_the_tar(spool_dir: Path) -> None:
    plain = tar_bytes([VERSION_ENTRY, cm_entry("a")], gz=False)
    hidden = tar_bytes([cm_entry("b")], gz=False)
    error = _refused(gzip.compress(plain + hidden, mtime=0), spool_dir)
    assert "data after the end" in str(error)


def test_data_right_after_the_end_marker(spool_dir: Path) -> None:
    plain = tar_bytes([VERSION_ENTRY, cm_entry("a")], gz=False).rstrip(b"\0")
    end = len(plain) + (-len(plain) % 512) + 1024
    hidden = plain.ljust(end, b"\0") + tar_bytes([cm_entry("b")], gz=False)
    error = _refused(gzip.compress(hidden, mtime=0), spool_dir)
    assert "data after the end" in str(error)


def test_missing_metadata_version(spool_dir: Path) -> None:
    error = _refused(tar_bytes([cm_entry("a")]), spool_dir)
    assert error.entry == "metadata/version"
    assert "missing" in str(error)


def test_unsupported_format_version(spool_dir: Path) -> None:
    data = tar_bytes([("metadata/version", b"2.0.0\n"), cm_entry("a")])
    assert "unsupported format version '2.0.0'" in str(_refused(data, spool_dir))


def test_aborted_writer_output_is_not_an_archive(spool_dir: Path) -> None:
    sink = io.BytesIO()
    writer = archive.ArchiveWriter(sink, backup_name="b", compress_level=0)
    with pytest.raises(RuntimeError), writer:
        for i in range(300):
            add_config_map(writer, f"c{i}", pad=2000)
        raise RuntimeError("listing failed")
    size = len(sink.getvalue())
    del writer
    gc.collect()  # finalizers of the gzip and tar streams must not finish the archive
    assert len(sink.getvalue()) == size
    assert "truncated" in str(_refused(sink.getvalue(), spool_dir))


def test_manifest_object_that_is_not_gzip() -> None:
    with pytest.raises(archive.CorruptArchive, match="ark manifest: not gzip"):
        archive.decode_manifest(b"plain")
