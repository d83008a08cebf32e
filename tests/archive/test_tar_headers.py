"""ark's own tar header reader: the formats other writers use for long names read as they
should; damaged headers, extended headers of other kinds and broken gzip framing are refused."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import orjson
import pytest

from ark import archive
from ark.archive import tarread
from tests.archive.crafting import VERSION_ENTRY, Raw, cm_entry, k8s_object, tar_bytes

LONG_NAME = "n" * 90  # a path too long for the 100-byte name field
LONG_PATH = f"resources/configmaps/namespaces/web/{LONG_NAME}.json"


def _tar(entries: list[tuple[str, bytes]], fmt: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _patched(plain: bytes, at: int, field: slice, value: bytes) -> bytes:
    """``plain`` with the header at ``at`` changed in ``field`` and its checksum made right."""
    head = bytearray(plain[at : at + 512])
    head[field] = value
    head[148:156] = b" " * 8
    head[148:156] = b"%06o\0 " % sum(head)
    return plain[:at] + bytes(head) + plain[at + 512 :]


def _entries(data: bytes, spool_dir: Path) -> list[str]:
    with archive.spool(io.BytesIO(data), spool_dir=spool_dir) as index:
        return [str(item.path) for item in index]


def _refused(data: bytes, spool_dir: Path) -> archive.InvalidArchive:
    with pytest.raises(archive.InvalidArchive) as info:
        archive.spool(io.BytesIO(data), spool_dir=spool_dir)
    return info.value


@pytest.mark.parametrize(
    "fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT], ids=str
)
def test_long_paths_in_each_format(fmt: int, spool_dir: Path) -> None:
    body = orjson.dumps(k8s_object("ConfigMap", LONG_NAME, "web"))
    plain = _tar([VERSION_ENTRY, (LONG_PATH, body)], fmt)
    assert _entries(gzip.compress(plain, mtime=0), spool_dir) == [LONG_PATH]


def test_the_ustar_prefix_is_part_of_the_path(spool_dir: Path) -> None:
    body = orjson.dumps(k8s_object("ConfigMap", LONG_NAME, "web"))
    plain = _tar([VERSION_ENTRY, (LONG_PATH, body)], tarfile.USTAR_FORMAT)
    assert plain[1024 + 345 : 1024 + 345 + 10] == b"resources/"  # the second header's prefix
    assert _entries(gzip.compress(plain, mtime=0), spool_dir) == [LONG_PATH]


def test_a_bad_checksum_is_a_damaged_header_named_after_the_entry_before(
    spool_dir: Path,
) -> None:
    plain = tar_bytes([VERSION_ENTRY, cm_entry("a"), cm_entry("b")], gz=False)
    second_cm = plain.index(b"resources/configmaps/namespaces/web/b.json")
    damaged = plain[:second_cm] + b"X" + plain[second_cm + 1 :]
    error = _refused(gzip.compress(damaged, mtime=0), spool_dir)
    assert isinstance(error, archive.CorruptArchive)
    assert error.entry == "resources/configmaps/namespaces/web/a.json"
    assert "damaged tar header" in str(error) or "bad checksum" in str(error)


def test_a_signed_checksum_is_accepted(spool_dir: Path) -> None:
    plain = _tar([VERSION_ENTRY, ("metadata/é", b""), cm_entry("a")], tarfile.USTAR_FORMAT)
    at = plain.index("metadata/é".encode())
    head = bytearray(plain[at : at + 512])
    head[148:156] = b" " * 8
    signed = sum(b - 256 if b >= 128 else b for b in head)
    head[148:156] = b"%06o\0 " % signed
    data = plain[:at] + bytes(head) + plain[at + 512 :]
    assert _entries(gzip.compress(data, mtime=0), spool_dir) == [cm_entry("a")[0]]


@pytest.mark.parametrize("size", [b"0000000001x\0", b"00000000009\0", b"\xff" * 12])
def test_an_invalid_size_field_is_a_damaged_header(size: bytes, spool_dir: Path) -> None:
    plain = tar_bytes([VERSION_ENTRY, cm_entry("a")], gz=False)
    error = _refused(gzip.compress(_patched(plain, 1024, slice(124, 136), size)), spool_dir)
    assert isinstance(error, archive.CorruptArchive)
    assert "damaged tar header" in str(error)


def test_a_base_256_size_is_read(spool_dir: Path) -> None:
    name, body = cm_entry("a")
    plain = tar_bytes([VERSION_ENTRY, (name, body)], gz=False)
    field = b"\x80" + len(body).to_bytes(11, "big")
    assert _entries(gzip.compress(_patched(plain, 1024, slice(124, 136), field)), spool_dir) == [
        name
    ]


def test_an_unknown_header_format_is_refused(spool_dir: Path) -> None:
    plain = tar_bytes([VERSION_ENTRY], gz=False)
    error = _refused(gzip.compress(_patched(plain, 0, slice(257, 265), b"cpio\0\0\0\0")), spool_dir)
    assert "not a ustar, pax or GNU tar header" in str(error)


@pytest.mark.parametrize(
    ("type_", "cause"),
    [
        (tarfile.XGLTYPE, "unsupported entry type b'g'"),
        (tarfile.SOLARIS_XHDTYPE, "unsupported entry type b'X'"),
        (tarfile.CONTTYPE, "unsupported entry type b'7'"),
        (tarfile.GNUTYPE_SPARSE, "sparse files are not allowed"),
    ],
)
def test_other_entry_types_are_refused(type_: bytes, cause: str, spool_dir: Path) -> None:
    entry = Raw("metadata/x", type=type_)
    error = _refused(tar_bytes([VERSION_ENTRY, entry]), spool_dir)
    assert isinstance(error, archive.HostileArchive)
    assert cause in str(error)


def _pax(records: bytes) -> bytes:
    """A pax extended header (header block and data) with ``records`` as its data."""
    info = tarfile.TarInfo("PaxHeader")
    info.type = tarfile.XHDTYPE
    info.size = len(records)
    return info.tobuf(tarfile.USTAR_FORMAT) + records + bytes(-len(records) % 512)


def _record(key: bytes, value: bytes) -> bytes:
    body = b" " + key + b"=" + value + b"\n"
    length = len(body) + 1
    while len(str(length)) + len(body) != length:
        length = len(str(length)) + len(body)
    return b"%d%s" % (length, body)


def test_pax_sparse_files_are_refused(spool_dir: Path) -> None:
    pax = _pax(_record(b"GNU.sparse.major", b"1"))
    plain = tar_bytes([VERSION_ENTRY], gz=False)[:1024] + pax
    plain += tar_bytes([cm_entry("a")], gz=False)
    assert "sparse files are not allowed" in str(_refused(gzip.compress(plain), spool_dir))


@pytest.mark.parametrize(
    ("records", "cause"),
    [
        (b"12 path=abc", "invalid pax record"),
        (b"x path=abc\n", "invalid pax record length"),
        (b"99 path=abc\n", "invalid pax record"),
        (b"9 pathabc\n", "invalid pax record"),
        (_record(b"size", b"12a"), "invalid pax size"),
    ],
)
def test_damaged_pax_headers_are_refused(records: bytes, cause: str, spool_dir: Path) -> None:
    plain = tar_bytes([VERSION_ENTRY], gz=False)[:1024] + _pax(records)
    plain += tar_bytes([cm_entry("a")], gz=False)
    error = _refused(gzip.compress(plain), spool_dir)
    assert isinstance(error, archive.CorruptArchive)
    assert cause in str(error)


def test_two_pax_headers_for_one_entry_are_refused(spool_dir: Path) -> None:
    pax = _pax(_record(b"path", b"metadata/x"))
    plain = tar_bytes([VERSION_ENTRY], gz=False)[:1024] + pax + pax
    plain += tar_bytes([cm_entry("a")], gz=False)
    assert "two extended headers" in str(_refused(gzip.compress(plain), spool_dir))


def test_a_pax_header_without_an_entry_is_refused(spool_dir: Path) -> None:
    plain = tar_bytes([VERSION_ENTRY], gz=False)[:1024] + _pax(_record(b"path", b"metadata/x"))
    plain += bytes(1024)
    assert "extended header without an entry" in str(_refused(gzip.compress(plain), spool_dir))


def test_a_pax_path_names_the_entry(spool_dir: Path) -> None:
    path = cm_entry("a")[0]
    pax = _pax(_record(b"path", path.encode()) + _record(b"mtime", b"1.5"))
    plain = tar_bytes([VERSION_ENTRY], gz=False)[:1024] + pax
    plain += tar_bytes([("metadata/ignored", cm_entry("a")[1])], gz=False)
    assert _entries(gzip.compress(plain), spool_dir) == [path]


def test_a_huge_gnu_long_name_is_refused(spool_dir: Path) -> None:
    entry = Raw("././@LongLink", data=b"x" * (2 * 1024 * 1024), type=tarfile.GNUTYPE_LONGNAME)
    error = _refused(tar_bytes([VERSION_ENTRY, entry]), spool_dir)
    assert isinstance(error, archive.HostileArchive)
    assert "extended header of 2097152 bytes" in str(error)


def test_data_cut_inside_an_entry(spool_dir: Path) -> None:
    plain = tar_bytes([VERSION_ENTRY, cm_entry("a", body=b"x" * 3000)], gz=False)
    error = _refused(gzip.compress(plain[: 1024 + 512 + 1000]), spool_dir)
    assert error.entry == cm_entry("a")[0]
    assert "truncated" in str(error)


def test_gzip_members_and_zero_padding_after_them_are_read(spool_dir: Path) -> None:
    plain = tar_bytes([VERSION_ENTRY, cm_entry("a")], gz=False)
    data = gzip.compress(plain[:700]) + gzip.compress(plain[700:]) + bytes(100)
    assert _entries(data, spool_dir) == [cm_entry("a")[0]]


def test_garbage_after_the_gzip_stream_is_refused(spool_dir: Path) -> None:
    data = tar_bytes([VERSION_ENTRY, cm_entry("a")]) + b"not gzip"
    assert "damaged gzip" in str(_refused(data, spool_dir))


def test_an_entry_cannot_be_read_after_the_stream_moved_on() -> None:
    src = io.BytesIO(tar_bytes([VERSION_ENTRY, cm_entry("a")]))
    entries = iter(tarread.TarStream(src, limits=tarread.Limits()))
    first = next(entries)
    next(entries)
    with pytest.raises(RuntimeError, match="read after the stream moved on"):
        first.read()
