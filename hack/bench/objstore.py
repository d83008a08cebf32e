"""Upload and download throughput of one large object through each ark.storage provider.

    uv run python hack/bench/objstore.py [--size-mb 100] [--runs 3] [fs aws azure gcp]

Servers are the same real ones the tests use (MinIO, Azurite, fake-gcs-server on loopback),
started through hack/objstore under the name "ark-bench" and stopped afterwards unless they were
already running. Each run streams ``--size-mb`` of incompressible data from a generator into
``put``, reads it back through ``open_read`` checking its SHA-256, and deletes it; the table
shows the best run and the process's resident-memory growth over the whole benchmark.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil

from ark import storage

ROOT = Path(__file__).resolve().parents[2]
MB = 1024 * 1024
SERVICES = {"aws": "minio", "azure": "azurite", "gcp": "fake-gcs"}
NAME = "ark-bench"


def stream(total: int) -> Iterator[bytes]:
    block = hashlib.shake_256(b"ark-bench").digest(MB)
    for index, start in enumerate(range(0, total, MB)):
        yield index.to_bytes(8, "big") + block[8 : min(MB, total - start)]


def objstore(*args: str) -> tuple[int, str]:
    result = subprocess.run(
        [str(ROOT / "hack" / "objstore"), *args], capture_output=True, text=True, check=False
    )
    return result.returncode, result.stdout


def location(provider: str, env: dict[str, str], prefix: str) -> storage.StoreLocation:
    if provider == "fs":
        return storage.StoreLocation(provider="fs", bucket=env["dir"], prefix=prefix)
    if provider == "aws":
        return storage.StoreLocation(
            provider="aws",
            bucket=env["ARK_S3_BUCKET"],
            prefix=prefix,
            config={"s3Url": env["ARK_S3_ENDPOINT"], "s3ForcePathStyle": "true"},
            credentials={
                "aws_access_key_id": env["ARK_S3_ACCESS_KEY_ID"],
                "aws_secret_access_key": env["ARK_S3_SECRET_ACCESS_KEY"],
            },
        )
    if provider == "azure":
        return storage.StoreLocation(
            provider="azure",
            bucket=env["ARK_AZURE_CONTAINER"],
            prefix=prefix,
            config={"storageAccountURI": env["ARK_AZURE_BLOB_ENDPOINT"]},
            credentials={"AZURE_STORAGE_ACCOUNT_ACCESS_KEY": env["ARK_AZURE_KEY"]},
        )
    return storage.StoreLocation(
        provider="gcp",
        bucket=env["ARK_GCS_BUCKET"],
        prefix=prefix,
        config={"storeEndpoint": env["ARK_GCS_ENDPOINT"], "anonymous": "true"},
    )


def run_once(store: storage.ObjectStore, size: int) -> tuple[float, float]:
    expected = hashlib.sha256()
    for chunk in stream(size):
        expected.update(chunk)
    started = time.perf_counter()
    store.put("bench/object.bin", stream(size))
    uploaded = time.perf_counter()
    got = hashlib.sha256()
    with store.open_read("bench/object.bin") as source:
        while chunk := source.read(MB):
            got.update(chunk)
    downloaded = time.perf_counter()
    store.delete("bench/object.bin")
    if got.digest() != expected.digest():
        raise SystemExit(f"{store!r}: the object read back differs from the one written")
    return uploaded - started, downloaded - uploaded


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("providers", nargs="*", default=["fs", "aws", "azure", "gcp"])
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    size = args.size_mb * MB
    process = psutil.Process()
    print(f"{args.size_mb} MiB object, best of {args.runs} runs, SHA-256 checked")
    print(f"{'provider':<9}{'server':<17}{'upload MB/s':>12}{'download MB/s':>15}{'RSS +MiB':>10}")
    for provider in args.providers:
        started_here = False
        with tempfile.TemporaryDirectory(prefix="ark-bench-fs-") as directory:
            if provider == "fs":
                env, server = {"dir": directory}, "tmp directory"
            else:
                service = SERVICES[provider]
                code, out = objstore("env", service, "--name", NAME, "--json")
                if code != 0:
                    code, out = objstore("up", service, "--name", NAME, "--json")
                    if code != 0:
                        print(f"{provider}: hack/objstore up {service} failed", file=sys.stderr)
                        return 1
                    started_here = True
                env, server = json.loads(out), service
            try:
                store = storage.open_store(location(provider, env, f"bench-{uuid.uuid4().hex}"))
                rss_before = process.memory_info().rss
                timings = [run_once(store, size) for _ in range(args.runs)]
                rss_growth = (process.memory_info().rss - rss_before) / MB
            finally:
                if started_here:
                    objstore("down", SERVICES[provider], "--name", NAME)
        up = size / MB / min(t[0] for t in timings)
        down = size / MB / min(t[1] for t in timings)
        print(f"{provider:<9}{server:<17}{up:>12.0f}{down:>15.0f}{rss_growth:>10.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
