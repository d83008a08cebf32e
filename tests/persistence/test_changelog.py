"""A schedule's change log in a location: segments read back as written, in order, encrypted
when the location encrypts; a plaintext segment where the location encrypts, a segment moved
to another name, a truncated or oversized one are refused, naming the file; gaps are found
with one listing; retention deletes what a kept backup no longer needs."""

from __future__ import annotations

import datetime as dt
import gzip
import os

import pytest

from ark import crypto, persistence
from ark.persistence import (
    BackupStore,
    ChangeLog,
    Checkpoint,
    EncryptionError,
    FileLimit,
    Gap,
    Limits,
    Record,
    SegmentName,
    StoredFileError,
    Trailer,
)
from ark.storage import ObjectStore

T0 = dt.datetime(2026, 12, 3, 10, 0, tzinfo=dt.UTC)
SECRET = "s3cr3t-value-in-a-configmap"
HERE = "5d0c2b8e-0d7c-4c3e-9f5a-0b1f6c9a1e01"
THERE = "8a7e3f21-6b2d-4e8f-a1c4-2f9d3b7e6c02"


def _at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def _segment(log: ChangeLog, seq: int, start: float, *, gaps: tuple[Gap, ...] = ()) -> str:
    builder = log.builder(SegmentName(start=_at(start), seq=seq))
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{seq}"}}
    builder.add(
        {
            "type": Record.ADDED.value,
            "t": persistence.stamp(_at(start + 1)),
            "resource": "configmaps",
            "rv": str(100 + seq),
            "object": {**obj, "data": {"v": SECRET}},
        }
    )
    trailer = Trailer(
        end=_at(start + 2),
        records=builder.records,
        counts=dict(builder.counts),
        checkpoints={"configmaps": Checkpoint(str(100 + seq), _at(start + 1))},
        gaps=gaps,
        newest_change=_at(start + 1),
    )
    return log.put(builder, trailer)


def _ring() -> crypto.Keyring:
    key = crypto.SecretKey("k1", os.urandom(32))
    return crypto.Keyring({"k1": key}, current="k1", where="BackupStorageLocation default")


def test_segments_read_back_in_order_with_their_trailers(fs_store: ObjectStore) -> None:
    log = ChangeLog(BackupStore(fs_store), "nightly", cluster=HERE)
    for seq in range(3):
        _segment(log, seq, start=10.0 * seq)
    names = log.segments()
    assert [n.seq for n in names] == [0, 1, 2]
    assert [n.start for n in names] == [_at(0), _at(10), _at(20)]
    segment = log.read(names[1])
    assert [r["object"]["metadata"]["name"] for r in segment.records] == ["cm-1"]
    assert segment.trailer.checkpoints["configmaps"] == Checkpoint("101", _at(11))
    resume = log.resume()
    assert resume is not None
    assert resume.next_seq == 3
    assert resume.trailer.end == _at(22)
    assert resume.trailer.newest_change == _at(21)


def test_an_empty_log_resumes_from_nothing(fs_store: ObjectStore) -> None:
    assert ChangeLog(BackupStore(fs_store), "nightly", cluster=HERE).resume() is None


def test_an_encrypting_location_stores_no_plaintext_and_reads_it_back(
    fs_store: ObjectStore,
) -> None:
    ring = _ring()
    log = ChangeLog(BackupStore(fs_store, keyring=ring), "nightly", cluster=HERE)
    key = _segment(log, 0, start=0)
    with fs_store.open_read(key) as raw:
        stored = raw.read()
    assert stored.startswith(crypto.MAGIC)
    assert SECRET.encode() not in stored
    assert log.read(log.segments()[0]).records[0]["object"]["data"] == {"v": SECRET}
    # Without the key the segment names it.
    with pytest.raises(EncryptionError) as refused:
        ChangeLog(BackupStore(fs_store), "nightly", cluster=HERE).read(log.segments()[0])
    assert refused.value.reason == "KeyUnavailable"


def test_a_plaintext_segment_is_refused_where_the_location_encrypts(
    fs_store: ObjectStore,
) -> None:
    _segment(ChangeLog(BackupStore(fs_store), "nightly", cluster=HERE), 0, start=0)
    log = ChangeLog(BackupStore(fs_store, keyring=_ring()), "nightly", cluster=HERE)
    with pytest.raises(EncryptionError, match="not encrypted, but the location encrypts"):
        log.read(log.segments()[0])


def test_a_segment_moved_to_another_name_is_refused(fs_store: ObjectStore) -> None:
    log = ChangeLog(BackupStore(fs_store), "nightly", cluster=HERE)
    key = _segment(log, 0, start=0)
    with fs_store.open_read(key) as raw:
        data = raw.read()
    moved = SegmentName(start=_at(5), seq=1)
    fs_store.put(f"{log.prefix}{moved.file}", data)
    with pytest.raises(StoredFileError, match="a segment moved here"):
        log.read(moved)


def test_a_truncated_segment_is_refused(fs_store: ObjectStore) -> None:
    log = ChangeLog(BackupStore(fs_store), "nightly", cluster=HERE)
    key = _segment(log, 0, start=0)
    with fs_store.open_read(key) as raw:
        lines = gzip.decompress(raw.read()).splitlines(keepends=True)
    fs_store.put(key, gzip.compress(b"".join(lines[:-1])))  # no trailer
    with pytest.raises(StoredFileError, match="no trailer"):
        log.read(log.segments()[0])


def test_a_segment_over_its_limit_is_refused_while_it_inflates(fs_store: ObjectStore) -> None:
    log = ChangeLog(BackupStore(fs_store), "nightly", cluster=HERE)
    _segment(log, 0, start=0)
    small = ChangeLog(
        BackupStore(fs_store, limits=Limits(changelog_segment=FileLimit(1 << 20, 100))),
        "nightly",
        cluster=HERE,
    )
    with pytest.raises(StoredFileError, match="inflates to more than its limit"):
        small.read(small.segments()[0])


def test_gaps_are_found_with_one_listing_and_retention_takes_old_segments(
    fs_store: ObjectStore,
) -> None:
    log = ChangeLog(BackupStore(fs_store), "nightly", cluster=HERE)
    gap = Gap("deployments.apps", _at(3), _at(12), "compacted")
    _segment(log, 0, start=0)
    _segment(log, 1, start=10, gaps=(gap,))
    _segment(log, 2, start=20)
    assert log.gaps() == [gap]
    assert gap.covers(_at(5)) and not gap.covers(_at(12))
    # Segment 0 ends where 1 starts (10 s): a backup kept from 15 s needs 1 and 2 only.
    assert log.delete_before(_at(15)) == 1
    assert [n.seq for n in log.segments()] == [1, 2]
    assert log.gaps() == []  # it ended before the oldest kept backup


def test_a_segment_put_again_after_a_store_error_is_the_same_segment(
    fs_store: ObjectStore,
) -> None:
    """The watcher retries a put that failed with the same builder: finishing it twice must
    not flush the compressor twice (zlib's 'inconsistent stream state' killed the flusher)."""
    log = ChangeLog(BackupStore(fs_store), "nightly", cluster=HERE)
    builder = log.builder(SegmentName(start=_at(0), seq=0))
    builder.add({"type": Record.ADDED.value, "t": persistence.stamp(_at(1)), "resource": "x"})
    trailer = Trailer(
        end=_at(2), records=1, counts=dict(builder.counts), checkpoints={}, gaps=(),
        newest_change=_at(1),
    )  # fmt: skip
    first = builder.finish(trailer)
    assert log.put(builder, trailer) and builder.finish(trailer) == first
    segment = log.read(log.segments()[0])
    assert [r["resource"] for r in segment.records] == ["x"]
    assert segment.trailer.end == _at(2)


def test_clusters_sharing_a_bucket_keep_their_logs_of_one_schedule_apart(
    fs_store: ObjectStore,
) -> None:
    """Two clusters with a schedule of one name write two logs; one's retention deletes none
    of the other's segments or gaps, and a segment of one is not read as the other's."""
    here = ChangeLog(BackupStore(fs_store), "nightly", cluster=HERE)
    there = ChangeLog(BackupStore(fs_store), "nightly", cluster=THERE)
    gap = Gap("deployments.apps", _at(3), _at(4), "compacted")
    for seq, start in enumerate((0, 10, 20)):
        _segment(here, seq, start=start, gaps=(gap,) if seq == 0 else ())
        _segment(there, seq, start=start, gaps=(gap,) if seq == 0 else ())
    assert here.prefix != there.prefix and HERE in here.prefix
    assert here.delete_before(_at(25)) == 2
    assert [n.seq for n in here.segments()] == [2] and here.gaps() == []
    assert [n.seq for n in there.segments()] == [0, 1, 2] and there.gaps() == [gap]
    segment = there.read(there.segments()[0])
    assert segment.records[0]["object"]["metadata"]["name"] == "cm-0"

    # A segment copied into the other cluster's folder says whose it is.
    with fs_store.open_read(f"{there.prefix}{there.segments()[1].file}") as raw:
        fs_store.put(f"{here.prefix}{there.segments()[1].file}", raw.read())
    with pytest.raises(StoredFileError, match="a segment moved here"):
        here.read(there.segments()[1])


def test_a_cluster_uid_that_is_not_one_names_no_folder(fs_store: ObjectStore) -> None:
    for bad in ("", "../x", "a/b", "-x", "x" * 64):
        with pytest.raises(ValueError, match="cluster uid"):
            ChangeLog(BackupStore(fs_store), "nightly", cluster=bad)
