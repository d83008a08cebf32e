"""Throughput of ark.archive: writing and spooling N small objects, against a floor.

    uv run python hack/bench/archive.py [--items 100000] [--level 1] [--encrypt]

The floor is the least any backup must do with the same objects: ``json.dumps`` each one and
gzip the bytes (at the same level). "write" is orjson.dumps + ArchiveWriter.add_item into a file;
"spool" checks and indexes that archive with its manifest. ``--encrypt`` also writes and spools
through ark's encryption (AES-256-GCM chunks, as a location with ``spec.encryption`` stores it)
and prints its cost relative to the plain write and spool.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

import orjson

from ark import archive, crypto


def make_object(i: int) -> dict[str, Any]:
    """A ConfigMap of about 700 bytes, labels and an owner like real objects have."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": f"config-{i:07d}",
            "namespace": f"team-{i % 40:02d}",
            "uid": f"{i:08x}-0000-4000-8000-{i:012x}",
            "resourceVersion": str(100000 + i),
            "creationTimestamp": "2026-11-24T19:01:51Z",
            "labels": {"app": f"app-{i % 100}", "tier": "web"},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": f"app-{i % 100}",
                    "uid": f"{i % 100:08x}",
                    "controller": True,
                }
            ],
        },
        "data": {"settings.json": json.dumps({"id": i, "replicas": i % 7, "text": "x" * 300})},
    }


def floor(objects: list[dict[str, Any]], level: int) -> float:
    start = time.perf_counter()
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
    for obj in objects:
        compressor.compress(json.dumps(obj).encode())
    compressor.flush()
    return time.perf_counter() - start


DATA_KEY = crypto.DataKey(key=os.urandom(32), key_id="bench", wrapped=b"")


def write(
    objects: list[dict[str, Any]], path: Path, level: int, *, encrypt: bool = False
) -> tuple[float, archive.Manifest]:
    start = time.perf_counter()
    with path.open("wb") as raw:
        sink: Any = crypto.EncryptingWriter(raw, DATA_KEY, name="bench") if encrypt else raw
        with archive.ArchiveWriter(sink, backup_name="bench", compress_level=level) as writer:
            _add(writer, objects)
        if encrypt:
            sink.close()
    return time.perf_counter() - start, writer.manifest


def _add(writer: archive.ArchiveWriter, objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        meta = obj["metadata"]
        writer.add_item(
            resource="configmaps",
            group="",
            version="v1",
            kind="ConfigMap",
            namespace=meta["namespace"],
            name=meta["name"],
            data=orjson.dumps(obj),
        )


def spool(
    path: Path, manifest: archive.Manifest, spool_dir: Path, *, encrypted: bool = False
) -> float:
    start = time.perf_counter()
    with path.open("rb") as raw:
        src: Any = raw
        if encrypted:
            reader = crypto.DecryptingReader(raw, name="bench", key_for=lambda _h: DATA_KEY.key)
            src = io.BufferedReader(reader, buffer_size=1 << 20)
        with archive.spool(src, spool_dir=spool_dir, manifest=manifest) as idx:
            elapsed = time.perf_counter() - start
            assert len(idx) == manifest.total_items
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--level", type=int, default=archive.DEFAULT_COMPRESS_LEVEL)
    parser.add_argument("--encrypt", action="store_true", help="also measure encryption's cost")
    args = parser.parse_args()
    n, level = args.items, args.level
    objects = [make_object(i) for i in range(n)]
    raw = sum(len(orjson.dumps(obj)) for obj in objects)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.tar.gz"
        t_floor = floor(objects, level)
        t_write, manifest = write(objects, path, level)
        size = path.stat().st_size
        t_spool = spool(path, manifest, Path(tmp))
        if args.encrypt:
            t_write_enc, _ = write(objects, path, level, encrypt=True)
            t_spool_enc = spool(path, manifest, Path(tmp), encrypted=True)
    print(f"{n} items, {raw / 1e6:.1f} MB of JSON, gzip level {level}, archive {size / 1e6:.1f} MB")
    rows = [("floor", t_floor), ("write", t_write), ("spool", t_spool)]
    if args.encrypt:
        rows += [("write+enc", t_write_enc), ("spool+dec", t_spool_enc)]
    for label, seconds in rows:
        ratio = seconds / t_floor
        print(f"{label:9s} {n / seconds:10,.0f} items/s  {seconds:6.2f} s  {ratio:4.2f}x floor")
    if args.encrypt:
        print(
            f"encryption costs {100 * (t_write_enc / t_write - 1):+.1f}% on write, "
            f"{100 * (t_spool_enc / t_spool - 1):+.1f}% on spool"
        )


if __name__ == "__main__":
    main()
