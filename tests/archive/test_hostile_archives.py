"""Archives that try to escape, smuggle or exhaust are refused before anything is restored."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import orjson
import pytest

from ark import archive
from tests.archive.crafting import VERSION_ENTRY, Raw, cm_entry, k8s_object, tar_bytes

CM = "resources/configmaps/namespaces/web/a.json"


def _refused(data: bytes, spool_dir: Path, **kwargs: object) -> archive.HostileArchive:
    with pytest.raises(archive.HostileArchive) as info:
        archive.spool(io.BytesIO(data), spool_dir=spool_dir, **kwargs)  # type: ignore[arg-type]
    assert list(spool_dir.iterdir()) == []
    return info.value


@pytest.mark.parametrize(
    ("name", "cause"),
    [
        ("../etc/passwd", "path traversal"),
        ("resources/../../etc/passwd", "path traversal"),
        ("resources/configmaps/namespaces/web/../../../../x.json", "path traversal"),
        ("/etc/passwd", "absolute path"),
        ("/resources/configmaps/namespaces/web/a.json", "absolute path"),
        ("etc/passwd", "outside resources/ and metadata/"),
        ("velero-backup.json", "outside resources/ and metadata/"),
        ("resources/configmaps/namespaces/web//a.json", "non-canonical"),
        ("resources/./configmaps/namespaces/web/a.json", "non-canonical"),
        ("resources/configmaps/a.json", "not a valid item path"),
        ("resources/configmaps/namespaces/web/a.yaml", "not a valid item path"),
        ("metadata/x/y", "files only"),
        ("resources/configmaps/namespaces/web/..", "path traversal"),
        ("resources/configmaps/namespaces/web/.", "non-canonical"),
    ],
)
@pytest.mark.parametrize("after_good", [False, True])
def test_bad_paths(name: str, cause: str, after_good: bool, spool_dir: Path) -> None:
    """Refused alone, and after good entries in the same folders (which are checked once)."""
    good: list[Raw | tuple[str, bytes]] = [
        Raw("resources", type=tarfile.DIRTYPE),
        Raw("metadata/", type=tarfile.DIRTYPE),
        cm_entry("a"),
    ]
    entries = [VERSION_ENTRY, *(good if after_good else []), (name, b"{}")]
    error = _refused(tar_bytes(entries), spool_dir)
    assert error.entry == name
    assert cause in str(error)
    assert name in str(error)


@pytest.mark.parametrize(
    ("entry", "cause"),
    [
        (Raw(CM, type=tarfile.SYMTYPE, linkname="/etc/passwd"), "symlink (to '/etc/passwd')"),
        (Raw(CM, type=tarfile.LNKTYPE, linkname="metadata/version"), "hardlink"),
        (Raw(CM, type=tarfile.CHRTYPE), "device file"),
        (Raw(CM, type=tarfile.BLKTYPE), "device file"),
        (Raw(CM, type=tarfile.FIFOTYPE), "fifo"),
        (Raw("resources/x", type=tarfile.SYMTYPE, linkname="/"), "symlink"),
    ],
)
def test_links_devices_and_fifos(entry: Raw, cause: str, spool_dir: Path) -> None:
    error = _refused(tar_bytes([VERSION_ENTRY, entry]), spool_dir)
    assert error.entry == entry.name
    assert cause in str(error)


def test_directories_under_the_roots_are_fine(spool_dir: Path) -> None:
    entries: list[Raw | tuple[str, bytes]] = [
        Raw("metadata", type=tarfile.DIRTYPE),
        VERSION_ENTRY,
        Raw("resources/", type=tarfile.DIRTYPE),
        cm_entry("a"),
    ]
    data = tar_bytes(entries)
    with archive.spool(io.BytesIO(data), spool_dir=spool_dir) as index:
        assert [item.name for item in index] == ["a"]


def test_oversized_item(spool_dir: Path) -> None:
    data = tar_bytes([VERSION_ENTRY, cm_entry("a", body=b" " * 2000)])
    error = _refused(data, spool_dir, limits=archive.Limits(max_item_bytes=1000))
    assert error.entry == CM
    assert "2000 bytes (limit 1000)" in str(error)


def test_oversized_preferred_version_copy(spool_dir: Path) -> None:
    name = "resources/configmaps/v1-preferredversion/namespaces/web/a.json"
    data = tar_bytes([VERSION_ENTRY, (name, b" " * 2000)])
    assert _refused(data, spool_dir, limits=archive.Limits(max_item_bytes=1000)).entry == name


def test_too_many_items(spool_dir: Path) -> None:
    data = tar_bytes([VERSION_ENTRY, *(cm_entry(f"c{i}") for i in range(3))])
    error = _refused(data, spool_dir, limits=archive.Limits(max_items=2))
    assert "more than 2 items" in str(error)


def test_too_many_entries(spool_dir: Path) -> None:
    data = tar_bytes([VERSION_ENTRY, *(cm_entry(f"c{i}") for i in range(3))])
    error = _refused(data, spool_dir, limits=archive.Limits(max_entries=3))
    assert "more than 3 entries" in str(error)


def test_too_many_bytes_in_total(spool_dir: Path) -> None:
    data = tar_bytes([VERSION_ENTRY, *(cm_entry(f"c{i}") for i in range(30))])
    error = _refused(data, spool_dir, limits=archive.Limits(max_total_bytes=8192))
    assert "decompresses to more than 8192 bytes" in str(error)


def test_gzip_bomb_stops_at_the_budget(spool_dir: Path) -> None:
    big = b"\0" * (64 * 1024 * 1024)  # a 64 KiB gzip of zeros after the archive
    plain = tar_bytes([VERSION_ENTRY, cm_entry("a")], gz=False) + big
    data = gzip.compress(plain, mtime=0)
    error = _refused(data, spool_dir, limits=archive.Limits(max_total_bytes=1024 * 1024))
    assert "decompresses to more than" in str(error)


def test_huge_pax_header(spool_dir: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(CM)
        info.pax_headers = {"comment": "x" * (2 * 1024 * 1024)}
        tar.addfile(info, io.BytesIO(b""))
    assert "extended header" in str(_refused(buf.getvalue(), spool_dir))


@pytest.mark.parametrize(
    ("obj", "cause"),
    [
        (k8s_object("ConfigMap", "b", "web"), "named 'b', not 'a'"),
        (
            k8s_object("ConfigMap", "a", "kube-system"),
            "namespace 'kube-system', not namespace 'web'",
        ),
        (k8s_object("ConfigMap", "a"), "namespace None"),
        (
            k8s_object(
                "ClusterRoleBinding", "a", "web", api_version="rbac.authorization.k8s.io/v1"
            ),
            "not an object of group ''",
        ),
    ],
)
def test_objects_that_are_not_what_their_path_says(
    obj: dict[str, object], cause: str, spool_dir: Path
) -> None:
    error = _refused(tar_bytes([VERSION_ENTRY, cm_entry("a", body=orjson.dumps(obj))]), spool_dir)
    assert error.entry == CM
    assert cause in str(error)


def test_cluster_path_with_a_namespaced_object(spool_dir: Path) -> None:
    body = orjson.dumps(k8s_object("Namespace", "web", "web"))
    data = tar_bytes([VERSION_ENTRY, ("resources/namespaces/cluster/web.json", body)])
    assert "not cluster scope" in str(_refused(data, spool_dir))


def test_the_same_object_twice(spool_dir: Path) -> None:
    data = tar_bytes([VERSION_ENTRY, cm_entry("a"), cm_entry("b"), cm_entry("a")])
    error = _refused(data, spool_dir)
    assert error.entry == CM
    assert "stored twice" in str(error)


@pytest.mark.parametrize(
    "twice",
    [
        cm_entry("a"),
        cm_entry("x", namespace="other"),
        ("resources/namespaces/cluster/web.json", orjson.dumps(k8s_object("Namespace", "web"))),
    ],
)
def test_the_same_object_twice_fails_a_check(twice: tuple[str, bytes]) -> None:
    """archive.check (verify) keeps no index, and still finds an object stored twice, among
    others of its kind, also under another apiVersion."""
    other_version = orjson.dumps(k8s_object("ConfigMap", "z", "web", api_version="v2"))
    data = tar_bytes(
        [
            VERSION_ENTRY,
            twice,
            cm_entry("b"),
            ("resources/configmaps/namespaces/web/z.json", other_version),
            cm_entry("x", namespace="other"),
            ("resources/namespaces/cluster/web.json", orjson.dumps(k8s_object("Namespace", "web"))),
            twice,
        ]
    )
    with pytest.raises(archive.HostileArchive, match="stored twice") as info:
        archive.check(io.BytesIO(data))
    assert info.value.entry == twice[0]


def test_an_item_the_manifest_does_not_list(spool_dir: Path) -> None:
    manifest = archive.Manifest(backup_name="b", items=())
    data = tar_bytes([VERSION_ENTRY, cm_entry("a")])
    error = _refused(data, spool_dir, manifest=manifest)
    assert error.entry == CM
    assert "not in the ark manifest" in str(error)


def test_a_huge_version_entry_is_refused_before_it_is_read(spool_dir: Path) -> None:
    # The header says 1 GiB and the archive ends: reading it first would say "truncated".
    info = tarfile.TarInfo("metadata/version")
    info.size = 1 << 30
    plain = info.tobuf(tarfile.PAX_FORMAT)
    error = _refused(gzip.compress(plain, mtime=0), spool_dir)
    assert error.entry == "metadata/version"
    assert "expected a short version string" in str(error)
