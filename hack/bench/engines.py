"""Backup and restore benchmarks against a floor measured in the same run.

    hack/bench/run engines [--objects 10000 --namespaces 100] [--store fs|minio] [--keep]
                           [--engines backup,restore,verify] [--rounds N] [--encrypt]

On a dedicated local cluster ("bench-N"; "$ARK_TEST_CLUSTER-bench-N" when that is set, so a
session's servers are its own), it creates N small ConfigMaps spread over M namespaces, then
measures, each in a fresh process (so peak RSS is that phase's own), the restores going into a
second, empty cluster ("bench-N-target": a restore into another cluster):

  backup floor   a plain paginated LIST of every namespaced resource, cluster-wide (same client,
                 page size and worker count), the raw response bytes written to the same store
  backup         ark.backup.run of the same namespaces
  restore floor  raw parallel POSTs of the same objects (same client and concurrency) into
                 fresh namespaces of the target cluster
  restore        ark.restore.run of the backup into the target cluster
  verify floor   (``--engines ...,verify``) every object of the backup downloaded from the store
                 and thrown away: the store's download rate
  inflate floor  the same download with the gzip'd files (the archive) also inflated by zlib, in
                 one stream, and thrown away: what a check of the items in one process must do
                 before it sees one
  verify-one     ark.backup.verify.run of the backup (download, checksums, parse) in one process
  verify         the same with the archive's segments checked in a worker process too (ark's
                 default: 2 processes)
  backup-enc     (``--encrypt``) the backup again, through a location with ``spec.encryption``
                 (a 256-bit key in a Secret, read through control.bsl_keyring as the operator
                 does): every file AES-256-GCM encrypted on the way to the store
  restore-enc    (``--encrypt``) that backup restored, decrypted on the way from the store, into
                 a third, empty cluster ("bench-N-target-enc")

and prints seconds, objects/s, the ratios ark/floor, each phase's peak RSS (its process's and,
for verify, its worker processes' together) and the CPU seconds used during it by the phase's
process (with its workers) and by the servers (etcd, kube-apiserver, ...; MinIO) on
the same machine, which tell a phase limited by its own work from one waiting on a server. With
``--rounds N`` the backup floor and the backup run N times (which goes first alternates, each
after a pause for the API server to settle) and the ratio printed is the median of the rounds:
a small shared machine is noisy. The restore runs once. With ``--encrypt`` each round also
runs backup-enc (the order of the three alternating), and the encrypted/plain ratios printed are
the medians of the rounds for the backup and the one run's for the restore (whose cluster, unlike
the plain restore's, did not hold the restore floor's objects first).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson

from ark import backup, control, crypto, persistence, restore
from ark.api import BackupSpec, RestoreSpec
from ark.api.locations import BackupStorageLocationSpec
from ark.archive import checkpool
from ark.backup import verify
from ark.kube import KubeApiError, KubeClient, discover
from ark.storage import ObjectStore, StoreLocation, open_store

WORKERS = 8
RESTORE_WORKERS = 32
PREFIX = "bench-ns"
SETTLE_SECONDS = 3.0
KEY_NAMESPACE = "ark-bench"
KEY_HOLDER = "bench-keys"  # the Secret holding the key
KEY_ID = "k1"


def _namespaces(count: int, *, suffix: str = "") -> list[str]:
    return [f"{PREFIX}{suffix}-{i:04d}" for i in range(count)]


def _peak_rss_mib() -> float:
    """This process's own peak RSS. Not getrusage's ru_maxrss: Linux carries that across
    fork+exec, so a child would report the driver's peak (its 100k-object populate)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _TreeRss:
    """The highest sum of resident memory of this process and its children (verify's worker
    processes), sampled every 10 ms from /proc while a phase runs; with this process's own
    exact peak (:func:`_peak_rss_mib`) the phase's peak is the higher of the two."""

    _PAGE = os.sysconf("SC_PAGE_SIZE")

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> _TreeRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            pids = [os.getpid()]
            for task in Path("/proc/self/task").iterdir():
                with contextlib.suppress(OSError):
                    pids += map(int, (task / "children").read_text().split())
            total = 0
            for pid in pids:
                with contextlib.suppress(OSError, ValueError, IndexError):
                    total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * self._PAGE
            self.peak = max(self.peak, total)


def _own_cpu_seconds() -> float:
    """This process's CPU and that of its children that ended (verify's workers)."""
    own, children = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU the processes ``pids`` (all their threads) have used so far."""
    ticks = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def _store(spec: dict[str, Any]) -> ObjectStore:
    return open_store(StoreLocation(**spec))


def populate(kube: KubeClient, *, objects: int, namespaces: int) -> None:
    names = _namespaces(namespaces)
    for ns in names:
        try:
            kube.request("POST", "/api/v1/namespaces", body={"metadata": {"name": ns}})
        except KubeApiError as exc:
            if not exc.already_exists:
                raise
    per_ns = objects // namespaces

    def create(i: int) -> None:
        ns = names[i % namespaces]
        body = {
            "metadata": {"name": f"cm-{i:07d}", "labels": {"bench": "ark"}},
            "data": {"key": f"value-{i}", "config.yaml": "replicas: 3\nmode: fast\n"},
        }
        try:
            kube.request("POST", f"/api/v1/namespaces/{ns}/configmaps", body=body)
        except KubeApiError as exc:
            if not exc.already_exists:
                raise

    _bounded(create, per_ns * namespaces)


def _bounded(create: Callable[[int], None], count: int) -> None:
    """``create(i)`` for every i on RESTORE_WORKERS threads, a bounded window submitted at a
    time (as the restore does: 100,000 pending futures would dominate the floor's memory)."""
    window: deque[Future[None]] = deque()
    with ThreadPoolExecutor(RESTORE_WORKERS) as pool:
        for i in range(count):
            if len(window) >= RESTORE_WORKERS * 4:
                window.popleft().result()
            window.append(pool.submit(create, i))
        for future in window:
            future.result()


def put_key(kube: KubeClient, key: bytes) -> None:
    """The encryption key, as a Secret in its own namespace (not one the backup includes)."""
    for path, body in (
        ("/api/v1/namespaces", {"metadata": {"name": KEY_NAMESPACE}}),
        (
            f"/api/v1/namespaces/{KEY_NAMESPACE}/secrets",
            {
                "metadata": {"name": KEY_HOLDER},
                "stringData": {KEY_ID: base64.b64encode(key).decode()},
            },
        ),
    ):
        try:
            kube.request("POST", path, body=body)
        except KubeApiError as exc:
            if not exc.already_exists:
                raise


def _encrypted(kube: KubeClient, store: ObjectStore) -> persistence.BackupStore:
    """``store`` as a location with ``spec.encryption`` (the key from put_key's Secret)."""
    spec = BackupStorageLocationSpec.model_validate(
        {
            "provider": store.location.provider,
            "objectStorage": {"bucket": store.location.bucket},
            "encryption": {
                "current": KEY_ID,
                "keys": [{"id": KEY_ID, "secret": {"name": KEY_HOLDER, "key": KEY_ID}}],
            },
        }
    )
    location = control.StorageLocation(name="bench", spec=spec, phase=None)
    keyring: crypto.Keyring = control.bsl_keyring(kube, KEY_NAMESPACE, location)
    return persistence.BackupStore(store, keyring=keyring)


# -- phases, each run in its own process -------------------------------------------------
def phase_backup_floor(
    kube: KubeClient,
    store: ObjectStore,
    args: argparse.Namespace,  # noqa: ARG001 - every phase takes the same arguments
) -> dict[str, Any]:
    found = discover(kube)
    resources = [
        r
        for r in found.resources
        if r.namespaced
        and {"list", "get"} <= r.verbs
        and r.qualified not in ("events", "events.events.k8s.io")
    ]
    tasks = [(r, None) for r in resources]  # cluster-wide, as the backup lists them
    lock = threading.Lock()
    with store.open_write("floor/lists.json") as out:

        def one(task: tuple[Any, str | None]) -> int:
            res, ns = task
            n, token = 0, None
            while True:  # a plain paginated LIST: raw pages, parsed only for the token
                query: dict[str, str | int | bool] = {"limit": 500}
                if token:
                    query["continue"] = token
                raw = kube.request("GET", res.path(namespace=ns), query=query)
                page = orjson.loads(raw)
                with lock:
                    out.write(raw)
                n += len(page.get("items") or [])
                token = (page.get("metadata") or {}).get("continue")
                if not token:
                    return n

        with ThreadPoolExecutor(WORKERS) as pool:
            count = sum(pool.map(one, tasks))
    return {"items": count}


def phase_backup(kube: KubeClient, store: ObjectStore, args: argparse.Namespace) -> dict[str, Any]:  # noqa: ARG001
    return _backup(kube, store, "bench")


def phase_backup_enc(
    kube: KubeClient,
    store: ObjectStore,
    args: argparse.Namespace,  # noqa: ARG001 - every phase takes the same arguments
) -> dict[str, Any]:
    return _backup(kube, _encrypted(kube, store), "bench-enc")


def _backup(
    kube: KubeClient, store: ObjectStore | persistence.BackupStore, name: str
) -> dict[str, Any]:
    result = backup.run(
        kube,
        store,
        name=name,
        workers=WORKERS,
        spec=BackupSpec(included_namespaces=[f"{PREFIX}-*"], include_cluster_resources=False),
    )
    if result.phase != "Completed":
        raise SystemExit(f"backup {result.phase}: {result.failure_reason}")
    return {"items": result.progress.items_backed_up}


def phase_restore_floor(
    kube: KubeClient,
    store: ObjectStore,  # noqa: ARG001 - every phase takes the same arguments
    args: argparse.Namespace,
) -> dict[str, Any]:
    targets = _namespaces(args.namespaces, suffix="-floor")
    for ns in targets:
        kube.request("POST", "/api/v1/namespaces", body={"metadata": {"name": ns}})
    per_ns = args.objects // args.namespaces

    def create(i: int) -> None:
        ns = targets[i % args.namespaces]
        body = {
            "metadata": {"name": f"cm-{i:07d}", "labels": {"bench": "ark"}},
            "data": {"key": f"value-{i}", "config.yaml": "replicas: 3\nmode: fast\n"},
        }
        kube.request("POST", f"/api/v1/namespaces/{ns}/configmaps", body=body)

    _bounded(create, per_ns * args.namespaces)
    return {"items": per_ns * args.namespaces}


def phase_restore(
    kube: KubeClient,
    store: ObjectStore,
    args: argparse.Namespace,  # noqa: ARG001 - every phase takes the same arguments
) -> dict[str, Any]:
    return _restore(kube, store, "bench", RestoreSpec(backup_name="bench"))


def phase_restore_enc(
    kube: KubeClient,
    store: ObjectStore,
    args: argparse.Namespace,  # noqa: ARG001 - every phase takes the same arguments
) -> dict[str, Any]:
    spec = RestoreSpec(backup_name="bench-enc")
    return _restore(kube, _encrypted(kube, store), "bench-enc", spec)


def _restore(
    kube: KubeClient, store: ObjectStore | persistence.BackupStore, name: str, spec: RestoreSpec
) -> dict[str, Any]:
    result = restore.run(
        kube,
        store,
        name=f"{name}-restore",
        backup_name=name,
        workers=RESTORE_WORKERS,
        spec=spec,
    )
    if result.errors:
        raise SystemExit(f"restore {result.phase}: {[str(e) for e in result.issues.errors[:5]]}")
    return {"items": result.counts.get("created", 0)}


def _download(store: ObjectStore, *, inflate: bool) -> int:
    """Every object of the backup read and thrown away (the gzip'd ones inflated, with
    ``inflate``); the bytes downloaded."""
    size = 0
    for info in list(store.list("backups/bench/")):
        gzipped = inflate and info.key.endswith(".gz")
        inflater = zlib.decompressobj(zlib.MAX_WBITS | 16) if gzipped else None
        with store.open_read(info.key) as stream:
            while chunk := stream.read(1 << 20):
                size += len(chunk)
                while inflater is not None and chunk:
                    inflater.decompress(chunk, 1 << 20)
                    chunk = inflater.unconsumed_tail
                    if inflater.eof:  # the next gzip member: ark's archives have one a segment
                        chunk = inflater.unused_data
                        inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    return size


def phase_verify_floor(
    kube: KubeClient,  # noqa: ARG001 - every phase takes the same arguments
    store: ObjectStore,
    args: argparse.Namespace,
) -> dict[str, Any]:
    return {"items": args.objects, "bytes": _download(store, inflate=False)}


def phase_inflate_floor(
    kube: KubeClient,  # noqa: ARG001 - every phase takes the same arguments
    store: ObjectStore,
    args: argparse.Namespace,
) -> dict[str, Any]:
    return {"items": args.objects, "bytes": _download(store, inflate=True)}


def phase_verify(
    kube: KubeClient,  # noqa: ARG001 - every phase takes the same arguments
    store: ObjectStore,
    args: argparse.Namespace,  # noqa: ARG001
) -> dict[str, Any]:
    result = verify.run(persistence.BackupStore(store), "bench")
    if not result.ok:
        raise SystemExit(f"verify: {[str(p) for p in result.problems[:5]]}")
    return {
        "items": result.items,
        "bytes": result.bytes,
        "workers": result.workers,
    }


def phase_verify_one(
    kube: KubeClient,
    store: ObjectStore,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """verify as on a machine of one CPU: every segment checked in this process."""
    checkpool.usable_cpus = lambda: 1
    return phase_verify(kube, store, args)


PHASES = {
    "backup-floor": phase_backup_floor,
    "backup": phase_backup,
    "restore-floor": phase_restore_floor,
    "restore": phase_restore,
    "verify-floor": phase_verify_floor,
    "inflate-floor": phase_inflate_floor,
    "verify": phase_verify,
    "verify-one": phase_verify_one,
    "backup-enc": phase_backup_enc,
    "restore-enc": phase_restore_enc,
}


def run_phase(
    name: str,
    kubeconfig: str,
    store: dict[str, Any],
    args: argparse.Namespace,
    *,
    servers: Sequence[int] = (),
) -> dict[str, Any]:
    """Run one phase in a child process; its wall time and peak RSS are the phase's own, and
    so is the servers' CPU (the processes ``servers``) measured around it."""
    cmd = [
        sys.executable,
        "-m",
        "bench.engines",
        "--phase",
        name,
        "--kubeconfig",
        kubeconfig,
        "--store-json",
        json.dumps(store),
        "--objects",
        str(args.objects),
        "--namespaces",
        str(args.namespaces),
    ]
    before = _cpu_seconds(servers)
    done = subprocess.run(cmd, check=False, capture_output=True, text=True)
    server_cpu = _cpu_seconds(servers) - before
    if done.returncode != 0:
        raise SystemExit(f"bench: phase {name} failed (exit {done.returncode}):\n{done.stderr}")
    stats = dict(json.loads(done.stdout.strip().splitlines()[-1]))
    stats["server_cpu_seconds"] = server_cpu
    return stats


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hack/bench/run engines",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--namespaces", type=int, default=100)
    parser.add_argument("--store", choices=["fs", "minio"], default="fs")
    parser.add_argument("--keep", action="store_true", help="leave the bench cluster running")
    parser.add_argument(
        "--engines",
        default="backup,restore",
        help="which engines to measure, comma-separated: backup, restore, verify "
        "(default: backup,restore)",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="backup floor + backup rounds (median ratio)"
    )
    parser.add_argument(
        "--encrypt",
        action="store_true",
        help="also back up and restore through client-side encryption (spec.encryption), "
        "and print the encrypted/plain ratios",
    )
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    parser.add_argument("--kubeconfig", help=argparse.SUPPRESS)
    parser.add_argument("--store-json", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    if args.phase:  # child process
        kube = KubeClient.load(kubeconfig=args.kubeconfig, pool_size=64)
        target = _store(json.loads(args.store_json))
        started, cpu = time.perf_counter(), _own_cpu_seconds()
        with _TreeRss() as tree:
            stats = PHASES[args.phase](kube, target, args)
        stats["seconds"] = time.perf_counter() - started
        stats["cpu_seconds"] = _own_cpu_seconds() - cpu
        stats["peak_rss_mib"] = max(_peak_rss_mib(), tree.peak / 2**20)
        print(json.dumps(stats))
        return 0

    from localenv import cluster, objstore, procs  # noqa: PLC0415 - only the driver starts servers

    # The servers are this session's own when $ARK_TEST_CLUSTER names it (as the tests' are).
    owner = os.environ.get("ARK_TEST_CLUSTER")
    bench = f"{owner}-bench" if owner else "bench"
    # source, the target of the restores, and with --encrypt an empty one for restore-enc
    names = {"source": f"{bench}-{args.objects}", "target": f"{bench}-{args.objects}-target"}
    if args.encrypt:
        names["target-enc"] = f"{bench}-{args.objects}-target-enc"
    clusters = {role: cluster.up(name) for role, name in names.items()}
    kubeconfigs = {role: cluster.env_of(c)["KUBECONFIG"] for role, c in clusters.items()}
    servers = {role: list(c.pids.values()) for role, c in clusters.items()}
    tmp = Path(tempfile.mkdtemp(prefix="ark-bench-"))
    if args.store == "fs":
        store: dict[str, Any] = {"provider": "fs", "bucket": str(tmp), "prefix": "bench"}
    else:
        s3 = objstore.up("minio", bench)
        minio = list(procs.Instance.load("minio", bench).pids.values())
        servers = {where: pids + minio for where, pids in servers.items()}
        store = {
            "provider": "aws",
            "bucket": s3["ARK_S3_BUCKET"],
            "prefix": f"bench-{os.getpid()}",
            "config": {
                "s3Url": s3["ARK_S3_ENDPOINT"],
                "s3ForcePathStyle": "true",
                "region": "minio",
            },
            "credentials": {
                "aws_access_key_id": s3["ARK_S3_ACCESS_KEY_ID"],
                "aws_secret_access_key": s3["ARK_S3_SECRET_ACCESS_KEY"],
            },
        }
    try:
        started = time.perf_counter()
        with KubeClient.load(kubeconfig=kubeconfigs["source"], pool_size=64) as kube:
            populate(kube, objects=args.objects, namespaces=args.namespaces)
        if args.encrypt:
            key = os.urandom(32)
            for role in ("source", "target-enc"):
                with KubeClient.load(kubeconfig=kubeconfigs[role]) as kube:
                    put_key(kube, key)
        print(
            f"populated {args.objects} ConfigMaps in {args.namespaces} namespaces "
            f"in {time.perf_counter() - started:.1f}s ({args.store} store)"
        )
        rounds, results = _measure(args, kubeconfigs, store, servers=servers)
    finally:
        if not args.keep:
            for name in names.values():
                cluster.down(name)
            if args.store == "minio":
                objstore.down("minio", bench)
        shutil.rmtree(tmp, ignore_errors=True)

    _report(rounds, results)
    return 0


def _measure(
    args: argparse.Namespace,
    kubeconfigs: dict[str, str],
    store: dict[str, Any],
    *,
    servers: dict[str, list[int]],
) -> tuple[list[dict[str, dict[str, Any]]], dict[str, dict[str, Any]]]:
    """The rounds of backup floor + backup (sorted by ratio) and the phases to print: the
    median round's, then the restore's. ``kubeconfigs`` and ``servers`` are the clusters'
    (source, target, target-enc)."""
    kubeconfig = kubeconfigs["source"]
    engines = {e.strip() for e in args.engines.split(",")}
    rounds: list[dict[str, dict[str, Any]]] = []
    backups = (
        ("backup-floor", "backup", "backup-enc") if args.encrypt else ("backup-floor", "backup")
    )
    if "backup" in engines:
        for n in range(max(1, args.rounds)):
            # Alternate which goes first, and let the API server settle (its Go GC collects
            # the last LIST's garbage) before each: either would bias the second phase.
            order = backups if n % 2 == 0 else backups[::-1]
            round_: dict[str, dict[str, Any]] = {}
            for phase in order:
                time.sleep(SETTLE_SECONDS)
                round_[phase] = run_phase(phase, kubeconfig, store, args, servers=servers["source"])
            rounds.append({p: round_[p] for p in backups})
    rounds.sort(key=lambda r: r["backup"]["seconds"] / r["backup-floor"]["seconds"])
    results = dict(rounds[len(rounds) // 2]) if rounds else {}  # the median round
    if engines & {"restore", "verify"} and "backup" not in results:
        # the restore and verify need a backup
        results["backup"] = run_phase("backup", kubeconfig, store, args, servers=servers["source"])
    if args.encrypt and "restore" in engines and "backup-enc" not in results:
        results["backup-enc"] = run_phase(
            "backup-enc", kubeconfig, store, args, servers=servers["source"]
        )
    if "verify" in engines:
        for p in ("verify-floor", "inflate-floor", "verify-one", "verify"):
            time.sleep(SETTLE_SECONDS)
            results[p] = run_phase(p, kubeconfig, store, args, servers=servers["source"])
    if "restore" in engines:
        for p in ("restore-floor", "restore"):
            results[p] = run_phase(p, kubeconfigs["target"], store, args, servers=servers["target"])
        if args.encrypt:
            results["restore-enc"] = run_phase(
                "restore-enc", kubeconfigs["target-enc"], store, args, servers=servers["target-enc"]
            )
    return rounds, results


def _report(rounds: list[dict[str, dict[str, Any]]], results: dict[str, dict[str, Any]]) -> None:
    print(
        f"{'phase':<14} {'items':>8} {'seconds':>8} {'items/s':>9} {'peak RSS':>10} "
        f"{'CPU s':>6} {'servers CPU s':>13}"
    )
    for phase, r in results.items():
        print(
            f"{phase:<14} {r['items']:>8} {r['seconds']:>8.2f} {r['items'] / r['seconds']:>9.0f} "
            f"{r['peak_rss_mib']:>7.0f} MiB {r['cpu_seconds']:>6.1f} "
            f"{r['server_cpu_seconds']:>13.1f}"
        )
    if rounds:
        ratios = [r["backup"]["seconds"] / r["backup-floor"]["seconds"] for r in rounds]
        each = ", ".join(f"{x:.2f}" for x in ratios)
        print(f"backup/floor  = {ratios[len(ratios) // 2]:.2f}  (target <= 1.25; rounds: {each})")
        rss = max(r["backup"]["peak_rss_mib"] for r in rounds)
        print(f"backup peak RSS {rss:.0f} MiB, the highest of the rounds (target <= 200 MiB)")
    if "verify-floor" in results:
        seconds = results["verify"]["seconds"]
        r = seconds / results["verify-floor"]["seconds"]
        ri = seconds / results["inflate-floor"]["seconds"]
        rss, workers = results["verify"]["peak_rss_mib"], results["verify"]["workers"]
        one = results["verify-one"]["seconds"] / seconds
        print(f"verify-one/verify = {one:.2f} (the speed-up of {workers} worker processes)")
        print(
            f"verify/download floor = {r:.2f}; verify/inflate floor = {ri:.2f}; "
            f"verify peak RSS {rss:.0f} MiB, its process's and its {workers} workers' together "
            "(target <= 150 MiB at 100k items)"
        )
    if "restore-floor" in results:
        r = results["restore"]["seconds"] / results["restore-floor"]["seconds"]
        print(f"restore/floor = {r:.2f}  (target <= 1.50)")
    _report_encryption(rounds, results)


def _report_encryption(
    rounds: list[dict[str, dict[str, Any]]], results: dict[str, dict[str, Any]]
) -> None:
    """Encrypted over plain, wall and CPU seconds (the target: encryption costs at most 10%)."""

    def ratio(enc: dict[str, Any], plain: dict[str, Any], key: str) -> float:
        return float(enc[key] / plain[key])

    if rounds and "backup-enc" in rounds[0]:
        wall = sorted(ratio(r["backup-enc"], r["backup"], "seconds") for r in rounds)
        cpu = sorted(ratio(r["backup-enc"], r["backup"], "cpu_seconds") for r in rounds)
        each = ", ".join(f"{x:.2f}" for x in wall)
        print(
            f"backup encrypted/plain = {wall[len(wall) // 2]:.2f} wall, "
            f"{cpu[len(cpu) // 2]:.2f} CPU  (target <= 1.10; medians of rounds: {each})"
        )
    if "restore-enc" in results:
        enc, plain = results["restore-enc"], results["restore"]
        print(
            f"restore encrypted/plain = {ratio(enc, plain, 'seconds'):.2f} wall, "
            f"{ratio(enc, plain, 'cpu_seconds'):.2f} CPU  (target <= 1.10)"
        )


if __name__ == "__main__":
    sys.exit(main())
