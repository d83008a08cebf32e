"""Every object store keeps the same contract, checked against a real server for each provider."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
import tracemalloc
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from ark import storage
from tests.storage import backends

MB = 1024 * 1024


def _stream(total: int, *, seed: bytes = b"ark") -> Iterator[bytes]:
    """``total`` bytes of incompressible data, 1 MiB at a time, never all in memory."""
    block = hashlib.shake_256(seed).digest(MB)
    for index, start in enumerate(range(0, total, MB)):
        yield index.to_bytes(8, "big") + block[8 : min(MB, total - start)]


def _digest(chunks: Iterator[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


# -- round trips -----------------------------------------------------------------------------


def test_empty_object_round_trips(store: storage.ObjectStore) -> None:
    store.put("empty", b"")
    assert store.get("empty") == b""
    assert store.exists("empty")
    assert list(store.list()) == [storage.ObjectInfo("empty", 0)]


def test_small_object_round_trips_from_bytes_file_and_chunks(store: storage.ObjectStore) -> None:
    store.put("a/bytes.json", b'{"kind": "Secret"}')
    store.put("a/file.bin", io.BytesIO(b"from a file"))
    store.put("a/chunks.bin", iter([b"one ", b"two ", b"three"]))
    assert store.get("a/bytes.json") == b'{"kind": "Secret"}'
    assert store.get("a/file.bin") == b"from a file"
    with store.open_read("a/chunks.bin") as stream:
        assert stream.read(4) == b"one "
        assert stream.read() == b"two three"


def test_streaming_writer_commits_on_exit(store: storage.ObjectStore) -> None:
    with store.open_write("streamed") as writer:
        for piece in (b"x" * 10, bytearray(b"y" * 5), memoryview(b"z" * 3)):
            writer.write(piece)
        assert not store.exists("streamed")  # nothing visible before the commit
    assert store.get("streamed") == b"x" * 10 + b"y" * 5 + b"z" * 3


def test_failed_write_leaves_no_object(store: storage.ObjectStore) -> None:
    store.put("kept", b"old")
    with pytest.raises(RuntimeError), store.open_write("kept") as writer:
        writer.write(b"partial new content")
        raise RuntimeError("interrupted")
    with pytest.raises(RuntimeError), store.open_write("never") as writer:
        writer.write(b"x" * (20 * MB))  # past one part: the multipart upload is aborted
        raise RuntimeError("interrupted")
    assert store.get("kept") == b"old"
    assert not store.exists("never")
    assert [o.key for o in store.list()] == ["kept"]


@pytest.mark.slow
def test_100mb_object_round_trips_in_bounded_memory(store: storage.ObjectStore) -> None:
    size = 100 * MB
    expected = _digest(_stream(size))
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        store.put("big/object.bin", _stream(size))
        _, upload_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        with store.open_read("big/object.bin") as stream:
            got = _digest(iter(lambda: stream.read(MB), b""))
        _, download_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert got == expected
    assert list(store.list("big/")) == [storage.ObjectInfo("big/object.bin", size)]
    assert upload_peak < 40 * MB, f"upload held {upload_peak / MB:.1f} MiB"
    assert download_peak < 40 * MB, f"download held {download_peak / MB:.1f} MiB"


def test_overwrite_replaces_content_and_size(store: storage.ObjectStore) -> None:
    store.put("obj", b"first version, longer")
    store.put("obj", b"second")
    assert store.get("obj") == b"second"
    assert list(store.list()) == [storage.ObjectInfo("obj", 6)]


# -- listing ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_listing_2500_keys_pages_through_objects_and_common_prefixes(
    store: storage.ObjectStore,
) -> None:
    flat = [f"flat/{i:04d}.json" for i in range(1200)]
    nested = [f"nested/{i:04d}/item.json" for i in range(1300)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: store.put(k, k.encode()), flat + nested))

    everything = list(store.list())
    assert sorted(o.key for o in everything) == sorted(flat + nested)
    assert all(o.size == len(o.key) for o in everything)
    assert sorted(o.key for o in store.list("flat/")) == flat
    assert sorted(o.key for o in store.list("nested/00")) == [
        k for k in nested if k.startswith("nested/00")
    ]

    top = store.list_level("")
    assert (top.objects, sorted(top.prefixes)) == ([], ["flat/", "nested/"])
    flat_level = store.list_level("flat/")
    assert (sorted(o.key for o in flat_level.objects), flat_level.prefixes) == (flat, [])
    nested_level = store.list_level("nested/")
    assert nested_level.objects == []
    assert sorted(nested_level.prefixes) == [f"nested/{i:04d}/" for i in range(1300)]
    assert store.list_level("nested/0001/").objects == [
        storage.ObjectInfo("nested/0001/item.json", len("nested/0001/item.json"))
    ]


def test_list_level_mixes_objects_and_prefixes(store: storage.ObjectStore) -> None:
    for key in ("backups/b1/b1.tar.gz", "backups/b1/velero-backup.json", "backups/b2/x", "top"):
        store.put(key, b"1")
    level = store.list_level("backups/")
    assert (level.objects, sorted(level.prefixes)) == ([], ["backups/b1/", "backups/b2/"])
    top = store.list_level()
    assert (top.objects, top.prefixes) == ([storage.ObjectInfo("top", 1)], ["backups/"])
    assert store.list_level("backups/b1").prefixes == ["backups/b1/"]
    assert store.list_level("nothing/") == storage.Listing(objects=[], prefixes=[])


def test_stores_under_different_prefixes_do_not_see_each_other(
    backend: backends.Backend,
) -> None:
    location = backend.new_location(prefix="cluster-a")
    a = storage.open_store(location)
    b = storage.open_store(dataclasses.replace(location, prefix="cluster-b"))
    a.put("backups/x", b"a")
    b.put("backups/x", b"b")
    assert (a.get("backups/x"), b.get("backups/x")) == (b"a", b"b")
    assert [o.key for o in a.list()] == ["backups/x"]
    assert a.list_level().prefixes == ["backups/"]


# -- deleting and missing objects ------------------------------------------------------------


def test_delete_removes_the_object_and_its_empty_prefix(store: storage.ObjectStore) -> None:
    store.put("dir/obj", b"1")
    store.delete("dir/obj")
    assert not store.exists("dir/obj")
    assert list(store.list()) == []
    assert store.list_level() == storage.Listing(objects=[], prefixes=[])


def test_delete_of_a_missing_key_is_not_an_error(store: storage.ObjectStore) -> None:
    store.delete("never/written")


def test_get_of_a_missing_key_raises_object_not_found(store: storage.ObjectStore) -> None:
    with pytest.raises(storage.ObjectNotFound, match="'missing/key' not found") as err:
        store.get("missing/key")
    assert err.value.key == "missing/key"
    with pytest.raises(storage.ObjectNotFound):
        store.open_read("missing/key").__enter__()
    assert not store.exists("missing/key")


# -- errors users read -----------------------------------------------------------------------


def test_wrong_credentials_are_a_clear_access_denied(backend: backends.Backend) -> None:
    location = backend.new_location()
    wrong = backend.wrong_credentials(location)
    if wrong is None:
        pytest.skip(f"{backend.provider} has no credentials to get wrong")
    store = storage.open_store(wrong)
    with pytest.raises(storage.StoreAccessDenied, match=location.bucket):
        store.check()
    with pytest.raises(storage.StoreAccessDenied):
        store.put("x", b"1")


def test_missing_bucket_is_a_clear_bucket_not_found(backend: backends.Backend) -> None:
    location = backend.missing_bucket()
    store = storage.open_store(location)
    for call in (store.check, lambda: store.put("x", b"1"), lambda: store.get("x")):
        with pytest.raises(storage.BucketNotFound, match=f"{location.bucket}.*does not exist"):
            call()
    with pytest.raises(storage.BucketNotFound):
        store.exists("x")
    with pytest.raises(storage.BucketNotFound):
        list(store.list())


def test_check_passes_on_a_reachable_bucket(store: storage.ObjectStore) -> None:
    store.check()


@pytest.mark.parametrize("key", ["../escape", "/absolute", "a/../../b", "a//b", "dir/", ""])
def test_keys_that_could_escape_are_refused(store: storage.ObjectStore, key: str) -> None:
    with pytest.raises(storage.InvalidKey):
        store.put(key, b"1")
    with pytest.raises(storage.InvalidKey):
        store.get(key)


# -- keys, concurrency, URLs, retention ------------------------------------------------------

ODD_KEYS = [
    "with space/file name.json",
    "ünïcødé/日本語/снимок.tar.gz",
    "symbols/a+b=c&d?e#f%20g;h,i'j\"k(l)[m]{n}~o!p@q$r",
    "emoji/🗄️ backup.json",
]


def test_keys_with_spaces_unicode_and_symbols_round_trip(store: storage.ObjectStore) -> None:
    for key in ODD_KEYS:
        store.put(key, key.encode())
    for key in ODD_KEYS:
        assert store.get(key) == key.encode()
    assert sorted(o.key for o in store.list()) == sorted(ODD_KEYS)
    assert sorted(store.list_level().prefixes) == sorted(k.split("/")[0] + "/" for k in ODD_KEYS)


def test_concurrent_writers_to_different_keys(store: storage.ObjectStore) -> None:
    def write(i: int) -> None:
        store.put(f"parallel/{i % 4}/obj-{i}", _stream(MB + i * 1000, seed=str(i).encode()))

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(write, range(48)))
    for i in range(48):
        with store.open_read(f"parallel/{i % 4}/obj-{i}") as stream:
            got = _digest(iter(lambda s=stream: s.read(MB), b""))  # type: ignore[misc]
        assert got == _digest(_stream(MB + i * 1000, seed=str(i).encode()))
    assert len(list(store.list("parallel/"))) == 48


def test_download_url_serves_the_object_where_the_provider_has_urls(
    store: storage.ObjectStore,
) -> None:
    key = ODD_KEYS[0]
    store.put(key, b"served over a URL")
    url = store.download_url(key, ttl=dt.timedelta(minutes=5))
    if url is None:
        assert store.location.provider in {"fs", "gcp"}  # fs: no URLs; gcp: anonymous, no signer
        return
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback server
        assert response.read() == b"served over a URL"


def test_retention_lock_prevents_deletion_where_supported(backend: backends.Backend) -> None:
    store = storage.open_store(backend.new_location(retention=True))
    store.put("locked/backup.tar.gz", b"precious")
    if backend.retention == "unsupported":
        with pytest.raises(storage.RetentionUnsupported):
            store.lock("locked/backup.tar.gz", until=backends.later(60))
        return
    store.lock("locked/backup.tar.gz", until=backends.later(60))
    with pytest.raises(storage.ObjectLocked, match=r"locked/backup\.tar\.gz"):
        store.delete("locked/backup.tar.gz")
    assert store.get("locked/backup.tar.gz") == b"precious"
    store.put("unlocked", b"free")
    store.delete("unlocked")
    assert not store.exists("unlocked")


def test_retention_reports_the_lock_and_its_mode(backend: backends.Backend) -> None:
    store = storage.open_store(backend.new_location(retention=True))
    store.put("locked/record.json", b"{}")
    store.put("free", b"1")
    assert store.retention("free") is None
    with pytest.raises(storage.ObjectNotFound):
        store.retention("missing")
    if backend.retention == "unsupported":
        return
    until = backends.later(120).replace(microsecond=0)
    store.lock("locked/record.json", until=until, mode="Governance")
    found = store.retention("locked/record.json")
    assert found is not None
    assert found.mode == "Governance"
    assert abs((found.until - until).total_seconds()) < 1
    assert found.active(backends.later(0))
    assert not found.active(backends.later(300))


def test_lock_on_a_bucket_without_retention_is_unsupported(store: storage.ObjectStore) -> None:
    store.put("obj", b"1")
    if store.location.provider == "gcp":
        pytest.skip("fake-gcs-server accepts object retention on any bucket")
    with pytest.raises(storage.RetentionUnsupported):
        store.lock("obj", until=backends.later(60))


def test_a_bucket_says_whether_it_can_lock(backend: backends.Backend) -> None:
    plain = storage.open_store(backend.new_location())
    with pytest.raises(storage.RetentionUnsupported, match=r"cannot lock|does not have"):
        plain.check_locking()
    able = storage.open_store(backend.new_location(retention=True))
    if backend.retention in {"unsupported", "client"}:
        # Azurite has no immutability; fake-gcs-server does not report a bucket's retention.
        with pytest.raises(storage.RetentionUnsupported):
            able.check_locking()
        return
    able.check_locking()
