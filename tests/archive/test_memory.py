"""Memory stays bounded: 100,000 items through the writer stay under 16 MB (a fingerprint and
a row offset per item; the manifest rows are spooled to disk), the restore spool under 60 MB."""

from __future__ import annotations

import io
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from ark import archive
from ark.archive.manifest import ManifestItems

ITEMS = 100_000
LIMIT = 60 * 1024 * 1024
WRITER_LIMIT = ITEMS * 160  # bytes per item: a set entry, an int fingerprint, a row offset


def _bodies() -> Iterator[tuple[str, str, bytes]]:
    for i in range(ITEMS):
        namespace, name = f"team-{i % 40:02d}", f"config-{i:07d}"
        meta = {
            "name": name,
            "namespace": namespace,
            "uid": f"{i:032x}",
            "labels": {"app": f"app-{i % 100}", "tier": "web"},
            "ownerReferences": [
                {"kind": "Deployment", "name": f"app-{i % 100}", "controller": True}
            ],
        }
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": "v" * 300}}
        yield namespace, name, orjson.dumps(body)


@pytest.mark.slow
def test_writing_and_spooling_100k_items_keeps_memory_low(tmp_path: Path) -> None:
    path = tmp_path / "big.tar.gz"
    tracemalloc.start()
    try:
        with path.open("wb") as sink, archive.ArchiveWriter(sink, backup_name="big") as writer:
            for namespace, name, body in _bodies():
                writer.add_item(
                    resource="configmaps",
                    group="",
                    version="v1",
                    kind="ConfigMap",
                    namespace=namespace,
                    name=name,
                    data=body,
                )
        manifest = writer.manifest
        del writer
        _, write_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        with (
            path.open("rb") as src,
            archive.spool(src, spool_dir=tmp_path, manifest=manifest) as index,
        ):
            _, spool_peak = tracemalloc.get_traced_memory()
            assert len(index) == ITEMS
            assert index.verified
            last = index.get("configmaps", "team-39", f"config-{ITEMS - 1:07d}")
            assert last is not None
            assert orjson.loads(index.read(last))["metadata"]["name"] == last.name
    finally:
        tracemalloc.stop()
    assert write_peak < WRITER_LIMIT, f"writer peak {write_peak / 1e6:.1f} MB"
    assert spool_peak < LIMIT, f"spool peak {spool_peak / 1e6:.1f} MB (manifest held too)"


def test_parsing_a_100k_item_manifest_holds_little_more_than_its_text() -> None:
    """The rows go into the compact table as they are parsed: the peak is the text, the table
    and one row, not every row as Python lists (about 300 bytes each) on top."""
    items = ManifestItems()
    for i in range(ITEMS):
        path = f"resources/configmaps/namespaces/team-{i % 40:02d}/config-{i:07d}.json"
        items.append(archive.TarPath(path), 300 + i % 50, i.to_bytes(32, "big"))
    data = archive.Manifest(backup_name="big", items=items).to_json()
    del items
    tracemalloc.start()
    try:
        parsed = archive.Manifest.from_json(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert parsed.total_items == ITEMS
    # The text (one byte a character) and the table take 2.2 times the document; parsing it
    # whole first would take over 3.5 times (orjson's reader 14).
    assert peak < 2.6 * len(data), (peak, len(data))


def test_a_check_of_objects_whose_labels_all_differ_keeps_little_of_each() -> None:
    """Verify remembers a bounded number of checked label sets and owners: pods whose labels
    all differ (a StatefulSet's) do not each leave theirs in memory (about 1.3 KB an item did)."""
    pods = 20_000
    sink = io.BytesIO()
    with archive.ArchiveWriter(sink, backup_name="pods") as writer:
        for i in range(pods):
            meta = {
                "name": f"db-{i}",
                "namespace": "web",
                "labels": {"app": "db", "statefulset.kubernetes.io/pod-name": f"db-{i}"},
                "ownerReferences": [{"kind": "StatefulSet", "name": f"db{i}", "controller": True}],
            }
            body = orjson.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": meta})
            writer.add_item(
                resource="pods",
                group="",
                version="v1",
                kind="Pod",
                namespace="web",
                name=f"db-{i}",
                data=body,
            )
    data = sink.getvalue()
    tracemalloc.start()
    try:
        checked = archive.check(io.BytesIO(data), manifest=writer.manifest)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert checked.items == pods and len(checked.resource_list["v1/Pod"]) == pods
    # 25 MB when every one was kept; now about 5: the 1,024 remembered, the resource list,
    # the stream's buffers
    assert peak < 8_000_000, f"check peak {peak / 1e6:.1f} MB"
