"""Segmented archives: ark's writer ends a gzip member every SEGMENT_BYTES of tar and lists
where in the manifest; any gzip reader still reads one stream, and verify checks the segments
in worker processes with the same outcome as a check in one process, damage included."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from ark import archive
from ark.archive import checkpool, checkworker, reader, tarwrite
from ark.archive.manifest import Segment
from tests.archive.crafting import k8s_object
from tests.support import segments, tampering

SEGMENT = 64 * 1024  # segments of a few dozen items, so a small archive has many


@pytest.fixture(autouse=True)
def _small_segments(monkeypatch: pytest.MonkeyPatch) -> None:
    segments.small_segments(monkeypatch, SEGMENT)


def _objects(count: int) -> Iterator[tuple[str, str, bytes]]:
    for i in range(count):
        namespace = f"team-{i % 3}"
        body = k8s_object("ConfigMap", f"config-{i:05d}", namespace, labels={"n": str(i % 4)})
        yield namespace, f"config-{i:05d}", orjson.dumps(body | {"data": {"v": f"{i}" * 300}})


def _write(count: int = 600) -> tuple[bytes, archive.Manifest]:
    sink = io.BytesIO()
    with archive.ArchiveWriter(sink, backup_name="b") as w:
        items = list(_objects(count))
        w.add_items(resource="configmaps", group="", version="v1", kind="ConfigMap", items=items)
    # as verify has it: decoded from the stored JSON
    return sink.getvalue(), archive.Manifest.from_json(w.manifest.to_json())


def _summary(checked: archive.CheckedArchive) -> tuple[object, ...]:
    return (
        checked.items,
        checked.total_bytes,
        checked.resource_list,
        checked.verified,
        checked.format_version,
    )


# -- the writer ------------------------------------------------------------------------------


def test_each_segment_is_a_gzip_member_of_whole_entries_starting_at_its_manifest_row() -> None:
    data, manifest = _write()
    segments = manifest.segments
    assert len(segments) > 5
    assert segments[0] == Segment(0, 0, 0)
    ends = [s.archive_offset for s in segments[1:]] + [len(data)]
    for segment, end, after in zip(segments, ends, [*segments[1:], None], strict=True):
        z = zlib.decompressobj(tarwrite.GZIP_WBITS)
        tar = z.decompress(data[segment.archive_offset : end])
        assert z.eof and not z.unused_data  # one whole member, nothing after it
        name = tar[:100].rstrip(b"\x00").decode()
        if segment.archive_offset:
            assert name == manifest.compact_items.path(segment.first_item)
        if after is not None:
            assert len(tar) == after.tar_offset - segment.tar_offset >= SEGMENT


def test_any_gzip_reader_reads_a_segmented_archive_as_one_tar(tmp_path: Path) -> None:
    data, manifest = _write()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        names = [m.name for m in tar.getmembers()]
    assert names[1:-1] == list(manifest.compact_items.paths())
    if shutil.which("tar"):  # GNU tar and gzip, as a Velero user would open it
        path = tmp_path / "b.tar.gz"
        path.write_bytes(data)
        listed = subprocess.run(["tar", "tzf", str(path)], check=True, capture_output=True)
        assert listed.stdout.decode().split() == names


def test_a_segmented_archive_restores_every_item(spool_dir: Path) -> None:
    data, manifest = _write()
    with archive.spool(io.BytesIO(data), spool_dir=spool_dir, manifest=manifest) as index:
        assert sorted(i.path for i in index) == sorted(manifest.compact_items.paths())
        assert index.verified


def test_an_archive_smaller_than_a_segment_has_none() -> None:
    _, manifest = _write(count=3)
    assert manifest.segments == ()
    assert b'"segments"' not in manifest.to_json()


# -- the manifest's segments, checked as untrusted input -------------------------------------


@pytest.mark.parametrize(
    ("segments", "cause"),
    [
        ([[1, 0, 0]], "the first segment is [1, 0, 0], not [0, 0, 0]"),
        ([[0, 0, 0], [10, 512, 1], [10, 1024, 2]], "segment [10, 1024, 2] does not follow"),
        ([[0, 0, 0], [10, 512, 1], [20, 512, 2]], "segment [20, 512, 2] does not follow"),
        ([[0, 0, 0], [10, 513, 1]], "segment [10, 513, 1] does not follow"),
        ([[0, 0, 0], [10, 512, 2], [20, 1024, 1]], "segment [20, 1024, 1] does not follow"),
        ([[0, 0, 0], [10, 512, 99]], "segment [10, 512, 99] does not follow"),
        ([[0, 0, 0], [10, 512, True]], "is not an [archiveOffset, tarOffset, item] row"),
        ([[0, 0, 0], [10, -512, 1]], "is not an [archiveOffset, tarOffset, item] row"),
        ({"0": 0}, "segments must be a list"),
    ],
)
def test_a_manifest_with_segments_out_of_order_is_refused(segments: object, cause: str) -> None:
    doc = orjson.loads(_write(count=3)[1].to_json()) | {"segments": segments}
    with pytest.raises(archive.CorruptArchive, match=r"ark manifest: ") as refused:
        archive.Manifest.from_json(orjson.dumps(doc))
    assert cause in str(refused.value)


# -- checking in worker processes ------------------------------------------------------------


@pytest.fixture
def slow_here(monkeypatch: pytest.MonkeyPatch) -> None:
    segments.slower_here(monkeypatch)


@pytest.mark.usefixtures("slow_here")
@pytest.mark.parametrize("processes", [2, 3])
def test_a_check_in_processes_finds_what_a_check_in_one_finds(processes: int) -> None:
    data, manifest = _write()
    alone = reader.check(io.BytesIO(data), manifest=manifest)
    together = checkpool.check(io.BytesIO(data), manifest=manifest, processes=processes)
    assert _summary(together) == _summary(alone)
    assert alone.items == 600 and alone.workers == 0
    assert 1 <= together.workers <= processes - 1
    assert together.workers_peak_rss > 0


def test_one_process_few_segments_or_none_are_checked_here(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """(This process 0.1 s slower a segment: a worker started would take some.)"""
    segments.slower_here(monkeypatch, 0.1)
    data, manifest = _write()
    alone = checkpool.check(io.BytesIO(data), manifest=manifest, processes=1)
    assert alone.workers == 0
    assert _summary(alone) == _summary(reader.check(io.BytesIO(data), manifest=manifest))
    velero = archive.check(io.BytesIO(data), processes=3)  # no manifest: Velero's
    assert velero.workers == 0 and velero.items == 600 and not velero.verified
    few, manifest = _write(count=200)  # a worker would take as long to start as they to check
    assert 1 < len(manifest.segments) < 8
    assert checkpool.check(io.BytesIO(few), manifest=manifest, processes=3).workers == 0


@pytest.mark.usefixtures("slow_here")
@pytest.mark.parametrize("processes", [1, 3])
def test_a_changed_item_in_a_middle_segment_is_named(processes: int) -> None:
    data, manifest = _write()
    damaged = tampering.change_in_segment(data, manifest, 4, b"x" * 40)
    first = manifest.compact_items.path(manifest.segments[4].first_item)
    with pytest.raises(archive.CorruptArchive, match="checksum mismatch") as refused:
        checkpool.check(io.BytesIO(damaged), manifest=manifest, processes=processes)
    assert refused.value.entry == first


@pytest.mark.usefixtures("slow_here")
def test_the_first_damaged_segment_is_the_one_named() -> None:
    data, manifest = _write()
    later = tampering.change_in_segment(data, manifest, 6, b"y" * 40)
    damaged = tampering.change_in_segment(later, manifest, 2, b"x" * 40)
    with pytest.raises(archive.CorruptArchive, match="checksum mismatch") as refused:
        checkpool.check(io.BytesIO(damaged), manifest=manifest, processes=3)
    assert refused.value.entry == manifest.compact_items.path(manifest.segments[2].first_item)


@pytest.mark.usefixtures("slow_here")
@pytest.mark.parametrize("processes", [1, 3])
def test_a_flipped_byte_in_a_segment_fails_its_check(processes: int) -> None:
    data, manifest = _write()
    at = manifest.segments[3].archive_offset + 200
    flipped = data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]
    with pytest.raises(archive.CorruptArchive) as refused:
        checkpool.check(io.BytesIO(flipped), manifest=manifest, processes=processes)
    assert refused.value.cause.startswith(("damaged gzip stream", "checksum mismatch"))


@pytest.mark.usefixtures("slow_here")
@pytest.mark.parametrize("processes", [1, 3])
def test_offsets_that_are_not_the_archives_fail_the_check(processes: int) -> None:
    data, manifest = _write()
    for field, by in (("archive_offset", 10), ("tar_offset", 512), ("first_item", 1)):
        moved = list(manifest.segments)
        moved[3] = moved[3]._replace(**{field: getattr(moved[3], field) + by})
        wrong = archive.Manifest(backup_name="b", items=manifest.compact_items, segments=moved)
        with pytest.raises(archive.InvalidArchive):
            checkpool.check(io.BytesIO(data), manifest=wrong, processes=processes)


@pytest.mark.usefixtures("slow_here")
@pytest.mark.parametrize("processes", [1, 3])
def test_a_truncated_segmented_archive_fails_the_check(processes: int) -> None:
    data, manifest = _write()
    cut = data[: manifest.segments[5].archive_offset + 100]
    with pytest.raises(archive.CorruptArchive, match="truncated"):
        checkpool.check(io.BytesIO(cut), manifest=manifest, processes=processes)


@pytest.mark.usefixtures("slow_here")
def test_a_worker_that_ends_leaves_its_segments_to_this_process(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A real worker process that says it is ready, takes a segment and exits (as one the
    kernel kills would): the check still gives the whole archive's result."""
    took = tmp_path / "took-a-segment"
    dies = (
        "import sys; from ark.archive import checkworker as c; "
        "c.write_frame(sys.stdout.buffer, c.READY); sys.stdin.buffer.read(8); "
        f"open({str(took)!r}, 'w').close()"
    )
    monkeypatch.setattr(checkpool, "WORKER_COMMAND", [sys.executable, "-c", dies])
    data, manifest = _write()
    checked = checkpool.check(io.BytesIO(data), manifest=manifest, processes=2)
    assert _summary(checked) == _summary(reader.check(io.BytesIO(data), manifest=manifest))
    assert took.exists() and checked.workers == 0


def test_a_worker_answers_a_damaged_segment_with_the_error_that_names_the_item() -> None:
    """The worker process as verify starts it; its error crosses the pipe whole."""
    data, manifest = _write()
    damaged = tampering.change_in_segment(data, manifest, 4, b"x" * 40)
    four, five = manifest.segments[4], manifest.segments[5]
    start, end = four.archive_offset, five.archive_offset
    rows = manifest.compact_items.rows(four.first_item, five.first_item)
    tar = (four.tar_offset, five.tar_offset - four.tar_offset)
    worker = subprocess.Popen(
        checkpool.WORKER_COMMAND, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert worker.stdin is not None and worker.stdout is not None
    with worker:
        assert checkworker.read_frame(worker.stdout) == checkworker.READY
        checkworker.write_frame(worker.stdin, (damaged[start:end], rows, tar, archive.Limits()))
        answer, peak_rss = checkworker.read_frame(worker.stdout)
        checkworker.write_frame(worker.stdin, (data[start:end], rows, tar, archive.Limits()))
        good, _ = checkworker.read_frame(worker.stdout)
        worker.stdin.close()
    assert worker.returncode == 0
    assert isinstance(answer, archive.CorruptArchive)
    assert answer.entry == rows.path(0) and answer.cause.startswith("checksum mismatch")
    assert peak_rss > 0
    assert isinstance(good, reader.CheckedSegment) and good.items == len(rows)


@pytest.mark.usefixtures("slow_here")
def test_two_processes_by_default_more_when_asked_never_more_than_the_cpus(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data, manifest = _write(count=2000)
    assert len(manifest.segments) >= 3 * 8  # room for 3 workers
    monkeypatch.setattr(checkpool, "usable_cpus", lambda: 8)
    assert checkpool.check(io.BytesIO(data), manifest=manifest).workers == 1
    assert checkpool.check(io.BytesIO(data), manifest=manifest, processes=4).workers >= 2
    monkeypatch.setattr(checkpool, "usable_cpus", lambda: 2)
    assert checkpool.check(io.BytesIO(data), manifest=manifest, processes=4).workers == 1


def test_a_worker_that_cannot_start_leaves_the_check_here(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(checkpool, "WORKER_COMMAND", ["/nonexistent/python"])
    data, manifest = _write()
    checked = checkpool.check(io.BytesIO(data), manifest=manifest, processes=3)
    assert checked.workers == 0 and checked.items == 600


def test_the_usable_cpus_are_at_least_one() -> None:
    assert 1 <= checkpool.usable_cpus() <= len(os.sched_getaffinity(0))
