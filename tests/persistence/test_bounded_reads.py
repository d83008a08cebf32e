"""Every file kept next to a backup or a restore is read with a limit: a gzip bomb or garbage
in any of them is one StoredFileError naming the file, raised quickly, in little memory."""

from __future__ import annotations

import base64
import gzip
import os
import time
import tracemalloc
import zlib
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from ark import archive, persistence
from ark.persistence import BackupStore, FileLimit, Limits, StoredFileError
from ark.storage import ObjectNotFound, ObjectStore

MiB = 1 << 20
BACKUP = persistence.BackupKeys(archive.backup_name("b"))
RESTORE = persistence.RestoreKeys(archive.restore_name("r"))

Read = Callable[[BackupStore], object]
# (key, how it is read): every gzip file of a backup and a restore
GZIP_FILES: dict[str, tuple[str, Read]] = {
    "backup results": (BACKUP.results, lambda s: s.backup_results("b")),
    "backup log": (BACKUP.logs, lambda s: s.backup_log("b")),
    "snapshot list": (BACKUP.volume_snapshots, lambda s: s.snapshots("b")),
    "manifest": (BACKUP.manifest, lambda s: s.manifest("b")),
    "resource list": (BACKUP.resource_list, lambda s: s.resource_list("b")),
    "restore results": (RESTORE.results, lambda s: s.restore_results("r")),
    "restore log": (RESTORE.logs, lambda s: s.restore_log("r")),
}
JSON_FILES: dict[str, tuple[str, Read]] = {
    "record": (BACKUP.metadata, lambda s: s.record("b")),
    **{k: v for k, v in GZIP_FILES.items() if "log" not in k},
}


def _gzip_of(prefix: bytes, zeros: int) -> bytes:
    """``prefix`` followed by ``zeros`` zero bytes, gzip'd without holding them."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    out = [deflate.compress(prefix)]
    block = bytes(MiB)
    for _ in range(zeros // MiB):
        out.append(deflate.compress(block))
    out.append(deflate.flush())
    return b"".join(out)


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """1 GiB of zeros, about 1 MiB of gzip."""
    return _gzip_of(b"", 1 << 30)


def _refused(store: ObjectStore, key: str, read: Read, *, limits: Limits | None = None) -> str:
    """Read ``key`` through ``read``: the StoredFileError's message, checked to name the key,
    and that it came within seconds and 100 MiB of memory."""
    backups = BackupStore(store, limits=limits or Limits())
    tracemalloc.start()
    began = time.monotonic()
    try:
        with pytest.raises(StoredFileError) as caught:
            read(backups)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.monotonic() - began < 20
    assert peak < 100 * MiB
    assert key in str(caught.value)
    assert caught.value.key == key
    return str(caught.value)


@pytest.mark.parametrize("kind", GZIP_FILES)
def test_a_gzip_bomb_in_any_gzip_file_is_refused(
    store: ObjectStore, bomb: bytes, kind: str
) -> None:
    key, read = GZIP_FILES[kind]
    store.put(key, bomb)
    message = _refused(store, key, read)
    assert "limit" in message or "not JSON" in message


@pytest.mark.parametrize("kind", JSON_FILES)
def test_json_shaped_bomb_stops_at_the_decompressed_limit(store: ObjectStore, kind: str) -> None:
    key, read = JSON_FILES[kind]
    small = FileLimit(stored=MiB, decompressed=4 * MiB)
    limits = Limits(
        record=FileLimit(stored=4 * MiB),
        results=small,
        log=small,
        snapshots=small,
        resource_list=small,
        manifest=small,
    )
    if kind == "record":
        store.put(key, b"{" + b" " * (4 * MiB))
        assert "larger than its limit of 4 MiB" in _refused(store, key, read, limits=limits)
    else:
        store.put(key, _gzip_of(b'{"items": [', 64 * MiB))
        assert "more than its limit of 4 MiB" in _refused(store, key, read, limits=limits)


def test_a_log_bomb_stops_at_the_logs_limit(store: ObjectStore, bomb: bytes) -> None:
    store.put(BACKUP.logs, bomb)
    message = _refused(store, BACKUP.logs, lambda s: s.backup_log("b"))
    assert "inflates to more than its limit of 64 MiB" in message


def test_a_large_stored_file_is_refused_before_it_is_read_whole(store: ObjectStore) -> None:
    text = base64.b64encode(os.urandom(3 * MiB))  # gzip barely shrinks it
    store.put(BACKUP.results, gzip.compress(b'{"a": "' + text + b'"}'))
    limits = Limits(results=FileLimit(stored=MiB, decompressed=64 * MiB))
    message = _refused(store, BACKUP.results, lambda s: s.backup_results("b"), limits=limits)
    assert "larger than its limit of 1 MiB" in message


GARBAGE: list[tuple[str, bytes, str]] = [
    ("record", b"not json", "not JSON"),
    ("record", b'{"metadata": ', "not JSON"),
    ("record", b"[1, 2]", "not a JSON object"),
    ("backup results", b"plain text", "not gzip"),
    ("backup results", gzip.compress(b'{"a": '), "not JSON"),
    ("backup results", gzip.compress(b"[]"), "not a JSON object"),
    ("backup results", gzip.compress(b"{}")[:-6], "truncated"),
    ("backup log", b"\x1f\x8b garbage", "not gzip"),
    ("snapshot list", gzip.compress(b'{"a": 1}'), "not a JSON list"),
    ("snapshot list", gzip.compress(b'[{"spec": 1}]'), "not a list of snapshot records"),
    ("manifest", gzip.compress(b"[]"), "not JSON"),
    ("manifest", gzip.compress(b'{"formatVersion": 99}'), "unsupported formatVersion"),
    ("manifest", b"plain", "not gzip"),
    ("resource list", gzip.compress(b'{"v1/Pod": [1]}'), "not a map of lists of names"),
    ("restore results", gzip.compress(b"nonsense"), "not JSON"),
    ("restore log", b"\x00\x01", "not gzip"),
]


@pytest.mark.parametrize(("kind", "data", "cause"), GARBAGE)
def test_garbage_in_any_file_names_the_file_and_the_cause(
    store: ObjectStore, kind: str, data: bytes, cause: str
) -> None:
    key, read = {**GZIP_FILES, **JSON_FILES}[kind]
    store.put(key, data)
    assert cause in _refused(store, key, read)


def test_a_manifest_that_is_not_utf8_names_the_file_and_the_cause(store: ObjectStore) -> None:
    store.put(BACKUP.manifest, gzip.compress(b'{"formatVersion": "\xff\xfe"}'))
    assert "not UTF-8" in _refused(store, BACKUP.manifest, lambda s: s.manifest("b"))


def test_an_unreadable_record_means_the_backup_is_not_complete(store: ObjectStore) -> None:
    store.put(BACKUP.metadata, b"\x00garbage")
    backups = BackupStore(store)
    assert backups.complete_record("b") is None
    assert backups.has_files("b")


def test_a_missing_file_is_object_not_found_or_nothing(store: ObjectStore) -> None:
    backups = BackupStore(store)
    assert backups.complete_record("b") is None
    assert backups.snapshots("b") == []
    assert backups.manifest("b") is None
    read: list[Callable[[], Any]] = [
        lambda: backups.record("b"),
        lambda: backups.backup_results("b"),
        lambda: backups.backup_log("b"),
        lambda: backups.restore_results("r"),
    ]
    for one in read:
        with pytest.raises(ObjectNotFound):
            one()


def test_a_file_within_its_limit_is_read(store: ObjectStore) -> None:
    store.put(BACKUP.results, gzip.compress(orjson.dumps({"errors": {}})))
    assert BackupStore(store).backup_results("b") == {"errors": {}}
