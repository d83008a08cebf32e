"""Volume export and import throughput, per provider, against floors measured in the same run.

    hack/bench/run volumes [--size-gib 1] [--written 0.3] [--changed 0.01] [--targets aws,azure,gcp]

A volume of ``--size-gib`` with ``--written`` of its 512 KiB blocks holding random data is
made on moto's EBS (StartSnapshot/PutSnapshotBlock), exported into a MinIO location, then
imported into another EBS region (moto), Azure (the local ARM fake, bytes in Azurite page
blobs) and GCE (the local GCE fake, a raw disk image through fake-gcs-server). Then
``--changed`` of the blocks are rewritten into a second snapshot and exported on top of the
first: what it reads and stores should be about that share.

Floors, with the same 8 threads: **read floor**, every written block read through the raw SDK
(EBS GetSnapshotBlock), nothing else; **upload floor**, every written block put raw into the
location; **download floor**, every stored chunk read raw from the location. The export is
compared with the read and upload floors added (what moving each byte once costs here), each
import with the download floor (GCE's import also writes the volume's unwritten blocks, as
zeros, into its raw disk image).
Peak RSS is sampled while each phase runs (the process holds the volume's random blocks
only while seeding). Servers are started through hack/objstore as "ark-bench" and stopped
afterwards unless they were running.
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import json
import multiprocessing
import random
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import boto3
import psutil
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage as gcs

from ark import persistence, snapshot, storage
from ark.backup import export_volume
from ark.persistence import keys
from ark.restore import import_volume
from ark.snapshot.blocks import BlockTarget
from hack.fakes import azure_compute, gce_compute
from hack.fakes.disk_data import DiskData

ROOT = Path(__file__).resolve().parents[2]
NAME = "ark-bench"
BLOCK = 512 * 1024
MB = 1e6
CREDENTIALS = {"aws_access_key_id": "ark-bench", "aws_secret_access_key": "ark-bench"}
SOURCE, OTHER = "eu-west-1", "eu-central-1"
SUBSCRIPTION = "6f1c1a52-0d7e-4a55-9b1e-2f0f3c8a7d11"
PROJECT = "ark-bench"
PV = "pv-bench"


def objstore_env(service: str, stack: ExitStack) -> dict[str, str]:
    """The service's environment, started (and later stopped) here unless it was running."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(ROOT / "hack" / "objstore"), *args, service, "--name", NAME],
            capture_output=True,
            text=True,
            check=False,
        )

    found = run("env", "--json")
    if found.returncode != 0:
        found = run("up", "--json")
        if found.returncode != 0:
            raise SystemExit(f"hack/objstore up {service} failed: {found.stderr}")
        stack.callback(run, "down")
    env: dict[str, str] = json.loads(found.stdout)
    return env


class PeakRss:
    """The process's resident memory, sampled every 20 ms while a phase runs."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self.peak = 0

    @contextmanager
    def sampling(self) -> Iterator[None]:
        self.peak = self._process.memory_info().rss
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.02):
                self.peak = max(self.peak, self._process.memory_info().rss)

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()


def timed(rss: PeakRss, work: Callable[[], Any]) -> tuple[float, Any]:
    with rss.sampling():
        start = time.perf_counter()
        result = work()
        return time.perf_counter() - start, result


def block_of(index: int, generation: int) -> bytes:
    """Block ``index``'s random-looking content in ``generation`` (made again when needed, so
    the volume is never held in memory)."""
    return hashlib.shake_256(f"{generation}:{index}".encode()).digest(BLOCK)


def seed(ebs: Any, size_gib: int, written: dict[int, int]) -> str:
    """A snapshot holding block ``i`` of generation ``written[i]`` for each written block."""
    snap = str(ebs.start_snapshot(VolumeSize=size_gib, Timeout=60)["SnapshotId"])

    def put(item: tuple[int, int]) -> None:
        data = block_of(*item)
        ebs.put_snapshot_block(
            SnapshotId=snap,
            BlockIndex=item[0],
            BlockData=data,
            DataLength=len(data),
            Checksum=base64.b64encode(hashlib.sha256(data).digest()).decode(),
            ChecksumAlgorithm="SHA256",
        )

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, written.items()))
    ebs.complete_snapshot(SnapshotId=snap, ChangedBlocksCount=len(written))
    return snap


def read_floor(ebs: Any, snap: str) -> float:
    listed = ebs.list_snapshot_blocks(SnapshotId=snap, MaxResults=10000)["Blocks"]
    start = time.perf_counter()

    def get(row: dict[str, Any]) -> int:
        got = ebs.get_snapshot_block(
            SnapshotId=snap, BlockIndex=row["BlockIndex"], BlockToken=row["BlockToken"]
        )
        return len(got["BlockData"].read())

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(get, listed))
    return time.perf_counter() - start


def upload_floor(objects: storage.ObjectStore, written: dict[int, int]) -> float:
    """Every written block put raw into the location (then deleted), 8 at a time."""

    def put(index: int) -> str:
        key = f"floor/{index}"
        objects.put(key, block_of(index, written[index]))
        return key

    start = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        made = list(pool.map(put, written))
    elapsed = time.perf_counter() - start
    for key in made:
        objects.delete(key)
    return elapsed


def download_floor(objects: storage.ObjectStore) -> float:
    chunk_keys = [i.key for i in objects.list(keys.CHUNKS)]
    start = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(objects.get, chunk_keys))
    return time.perf_counter() - start


BENCH_TOKEN = "bench-token"  # noqa: S105 - the local ARM fake's, nothing real


def _serve(kind: str, kwargs: dict[str, Any], conn: Any) -> None:
    """A fake in this (child) process: its memory is not the benchmark's."""
    module = azure_compute if kind == "azure" else gce_compute
    _, running = module.start(**kwargs)
    conn.send(running.url)
    running.thread.join()


def in_child(stack: ExitStack, kind: str, kwargs: dict[str, Any]) -> str:
    """Start fake ``kind`` in a child process (stopped with ``stack``); its URL."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_serve, args=(kind, kwargs, child), daemon=True)
    process.start()
    stack.callback(process.terminate)
    url: str = parent.recv()
    return url


def targets(stack: ExitStack, moto: str, wanted: list[str]) -> dict[str, BlockTarget]:
    out: dict[str, BlockTarget] = {}
    if "aws" in wanted:
        out["aws"] = snapshot.open_blocks(
            "aws", region=OTHER, config={"ec2Url": moto}, credentials=CREDENTIALS
        )
    if "azure" in wanted:
        az = objstore_env("azurite", stack)
        data = DiskData(
            connection_string=az["ARK_AZURE_CONNECTION_STRING"],
            account=az["ARK_AZURE_ACCOUNT"],
            key=az["ARK_AZURE_KEY"],
        )
        url = in_child(stack, "azure", {"token": BENCH_TOKEN, "data": data})
        config = {
            "subscriptionId": SUBSCRIPTION,
            "resourceGroup": "ark-bench",
            "armEndpoint": url,
            "pollingInterval": "0.05",
        }
        out["azure"] = snapshot.open_blocks(
            "azure", region="eastus", config=config, credentials={"AZURE_ACCESS_TOKEN": BENCH_TOKEN}
        )
    if "gcp" in wanted:
        endpoint = objstore_env("fake-gcs", stack)["ARK_GCS_ENDPOINT"]
        client = gcs.Client(
            project=PROJECT,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options={"api_endpoint": endpoint},
        )
        bucket = client.create_bucket(f"bench-images-{uuid.uuid4().hex[:10]}")
        url = in_child(stack, "gcp", {"projects": {PROJECT}, "storage": endpoint})
        config = {
            "project": PROJECT,
            "computeUrl": url,
            "pollingInterval": "0.05",
            "imageBucket": bucket.name,
            "storageUrl": endpoint,
        }
        out["gcp"] = snapshot.open_block_target(
            "gcp", region="us-central1", config=config, credentials={}
        )
    return out


ZONES = {"aws": f"{OTHER}a", "azure": "eastus-1", "gcp": "us-central1-a"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-gib", type=int, default=1)
    parser.add_argument("--written", type=float, default=0.3)
    parser.add_argument("--changed", type=float, default=0.01)
    parser.add_argument("--targets", default="aws,azure,gcp")
    args = parser.parse_args()
    blocks = args.size_gib * (1 << 30) // BLOCK
    rss = PeakRss()
    with ExitStack() as stack:
        moto = objstore_env("moto", stack)["ARK_MOTO_ENDPOINT"]
        minio = objstore_env("minio", stack)
        ebs = boto3.Session(
            region_name=SOURCE,
            aws_access_key_id=CREDENTIALS["aws_access_key_id"],
            aws_secret_access_key=CREDENTIALS["aws_secret_access_key"],
        ).client("ebs", endpoint_url=moto)
        count = int(blocks * args.written)
        written = {
            i: 0
            for i in sorted(
                random.Random(1).sample(  # noqa: S311 - a fixed layout, not a secret
                    range(blocks), count
                )
            )
        }
        first = seed(ebs, args.size_gib, written)
        changed = random.Random(2).sample(  # noqa: S311
            sorted(written), max(1, int(blocks * args.changed))
        )
        second = seed(ebs, args.size_gib, {**written, **dict.fromkeys(changed, 1)})
        logical = count * BLOCK
        objects = storage.open_store(
            storage.StoreLocation(
                provider="aws",
                bucket=minio["ARK_S3_BUCKET"],
                prefix=f"bench-volumes-{uuid.uuid4().hex[:8]}",
                config={"s3Url": minio["ARK_S3_ENDPOINT"], "s3ForcePathStyle": "true"},
                credentials={
                    "aws_access_key_id": minio["ARK_S3_ACCESS_KEY_ID"],
                    "aws_secret_access_key": minio["ARK_S3_SECRET_ACCESS_KEY"],
                },
            )
        )
        store = persistence.BackupStore(objects)
        source = snapshot.open_blocks(
            "aws", region=SOURCE, config={"ec2Url": moto}, credentials=CREDENTIALS
        )
        t_read = read_floor(ebs, first)
        t_up = upload_floor(objects, written)
        t_export, index = timed(
            rss,
            lambda: export_volume(store, "full", PV, source=source, snapshot_id=first),
        )
        export_rss = rss.peak
        t_down = download_floor(objects)
        t_incr, incr = timed(
            rss,
            lambda: export_volume(
                store, "incremental", PV, source=source, snapshot_id=second, parent="full"
            ),
        )
        print(
            f"{args.size_gib} GiB volume, {count} of its {blocks} blocks written "
            f"({logical / MB:.0f} MB), 8 threads, MinIO location"
        )
        print(
            f"read floor {logical / MB / t_read:.0f} MB/s, upload floor "
            f"{logical / MB / t_up:.0f} MB/s, download floor "
            f"{index.totals.stored_bytes / MB / t_down:.0f} MB/s"
        )
        print(
            f"export (aws, moto): {logical / MB / t_export:.0f} MB/s, "
            f"{t_export / (t_read + t_up):.2f}x read + upload floors, stored "
            f"{index.totals.stored_bytes / MB:.0f} MB, peak RSS {export_rss / 2**20:.0f} MiB"
        )
        print(
            f"incremental export after {len(changed)} blocks changed "
            f"({100 * len(changed) / blocks:.1f}% of the volume's): read "
            f"{incr.totals.read_bytes / MB:.1f} MB ({100 * incr.totals.read_bytes / logical:.1f}%"
            f" of the data), stored {incr.totals.new_bytes / MB:.1f} MB new, {t_incr:.2f} s"
        )
        for provider, target in targets(stack, moto, args.targets.split(",")).items():
            t_import, _ = timed(
                rss,
                functools.partial(
                    import_volume, store, "full", PV, target=target, zone=ZONES[provider]
                ),
            )
            print(
                f"import into {provider}: {logical / MB / t_import:.0f} MB/s, "
                f"{t_import / t_down:.2f}x the download floor, peak RSS {rss.peak / 2**20:.0f} MiB"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
