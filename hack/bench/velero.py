"""Side by side with Velero: ark's operator and Velero's server on the same cluster, the same
MinIO and the same objects, each timed as a user meets it (CR created → Completed).

    hack/bench/run velero [--objects 10000 --namespaces 50] [--name vbench] [--keep] [--ark-only]

On one local cluster and one MinIO (both named ``--name``) it creates N small ConfigMaps over M
namespaces (``bench.engines.populate``; M at most 64, the most namespaces one ark Restore maps),
then installs both tools, each in its own namespace with its own location (prefixes ``ark`` and
``velero`` of one bucket):

  ark      ``ark install --no-operator`` (CRDs, a default location, its credential Secret) and
           the operator as a process, ``python -m ark.operator``
  Velero   its CRDs (``velero install --crds-only --dry-run -o yaml``), ``velero server`` with
           the AWS plugin (hack/build-tools velero) and a dummy Deployment ``velero`` (a Velero
           restore refuses to start without one; its pods never run here: there is no kubelet)

and measures, one after the other, each after a pause for the API server to settle:

  LIST floor      bench.engines' backup floor: a plain paginated LIST of every namespaced
                  resource, raw bytes to the store (a process of its own)
  ark library     bench.engines' backup: ark.backup.run in a process of its own, no operator
  ark operator    a Backup CR of the namespaces ``bench-ns-*``, created → Completed (a watch)
  velero          the same Backup CR for Velero
  velero          a Restore CR mapping every namespace to a fresh one, created → Completed
                  (first: Velero's restore caches every object of the kinds it restores in the
                  whole cluster, so its memory depends on what the cluster holds)
  POST floor      bench.engines' restore floor: raw parallel POSTs of the objects into fresh
                  namespaces (a process of its own)
  ark operator    the same Restore CR for ark

then ark restores Velero's backup (a second, read-only ark location on Velero's prefix: the
operator syncs the backup and reads Velero's format) and Velero restores ark's (a second,
read-only Velero location on ark's prefix), and counts the ConfigMaps in every restore's
namespaces. For the servers, each phase's peak RSS is the highest sampled sum of VmRSS over the
process tree (Velero starts plugin processes for each backup and restore) and its CPU seconds
are the tree's; "servers CPU s" is what etcd, kube-apiserver and MinIO used meanwhile.

With ``--ark-only`` Velero is neither built nor started: the floors, ark's library backup and
ark's operator backup and restore only (a quicker run while working on ark).

Velero runs with ``--client-qps 1000 --client-burst 2000`` (its defaults, 100 and 100, could bound
it by the client's own limit, not its work; ark's operator has no client limit by default), and
ark's operator with ``--restore-workers 32``, the POST floor's concurrency.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import yaml
from localenv import cluster, objstore, procs

from ark import control
from ark.api import limits
from ark.kube import KubeApiError, KubeClient, crds

if TYPE_CHECKING:  # mypy checks hack/bench's files as top-level modules (no __init__.py)
    import engines
else:
    from bench import engines

ARK_NS = "ark-system"
VELERO_NS = "velero"
VELERO_API = "/apis/velero.io/v1"
TERMINAL = {"Completed", "PartiallyFailed", "Failed", "FailedValidation"}
SAMPLE_SECONDS = 0.05
VELERO_QPS = ("--client-qps", "1000", "--client-burst", "2000")
ROOT = Path(__file__).resolve().parents[2]
Row = dict[str, Any]


# -- process trees: RSS and CPU ------------------------------------------------------------
def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants, now."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
    return found


def _rss_kib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def _cpu_seconds(roots: list[int]) -> float:
    """User + system CPU of the trees under ``roots``, with their reaped children's."""
    ticks = 0
    for pid in (p for root in roots for p in _tree(root)):
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{pid}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            ticks += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


class Sampler:
    """While a phase runs: the peak RSS of the server's process tree, sampled, and the CPU
    seconds it and the API servers used."""

    def __init__(self, server: int, api: list[int]) -> None:
        self.server, self.api = server, api
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_kib = max(self.peak_kib, _rss_kib(_tree(self.server)))
            self._stop.wait(SAMPLE_SECONDS)

    def __enter__(self) -> Sampler:
        self.cpu = -_cpu_seconds([self.server])
        self.api_cpu = -_cpu_seconds(self.api)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.cpu += _cpu_seconds([self.server])
        self.api_cpu += _cpu_seconds(self.api)


# -- CRs: created → terminal, seen through a watch ------------------------------------------
def _watch_done(kube: KubeClient, path: str, name: str, rv: str, timeout: float) -> Row:
    """The object once its status.phase is terminal, from the watch's event."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        query: dict[str, str | int | bool] = {
            "watch": True,
            "fieldSelector": f"metadata.name={name}",
            "resourceVersion": rv,
            "timeoutSeconds": 60,
        }
        resp = kube.open_stream(path, query=query, read_timeout=90)
        pending = bytearray()
        try:
            while chunk := resp.read1(1 << 16):
                pending += chunk
                while (end := pending.find(b"\n")) >= 0:
                    event = orjson.loads(pending[:end])
                    del pending[: end + 1]
                    obj: Row = event["object"]
                    if event["type"] == "ERROR":
                        raise SystemExit(f"bench: watch {path}/{name}: {obj.get('message')}")
                    rv = obj["metadata"]["resourceVersion"]
                    if (obj.get("status") or {}).get("phase") in TERMINAL:
                        resp.close()  # mid-stream: the connection cannot go back to the pool
                        return obj
        finally:
            resp.release_conn()
    raise SystemExit(f"bench: {path}/{name} not finished after {timeout:.0f}s")


def run_cr(kube: KubeClient, path: str, body: Row, *, server: int, api: list[int]) -> Row:
    """Create ``body`` at ``path``; wait until it is done; the phase's figures."""
    timeout = 3600.0
    with Sampler(server, api) as sampled:
        started = time.perf_counter()
        created = orjson.loads(kube.request("POST", path, body=body))
        meta = created["metadata"]
        done = _watch_done(kube, path, meta["name"], meta["resourceVersion"], timeout)
        seconds = time.perf_counter() - started
    status = done.get("status") or {}
    progress = status.get("progress") or {}
    return {
        "phase": status.get("phase"),
        "items": progress.get("itemsBackedUp", progress.get("itemsRestored", 0)),
        "seconds": seconds,
        "peak_rss_mib": sampled.peak_kib / 1024,
        "cpu_seconds": sampled.cpu,
        "server_cpu_seconds": sampled.api_cpu,
        "warnings": status.get("warnings", 0),
        "errors": status.get("errors", 0),
    }


def wait(what: str, check: Callable[[], object], *, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(KubeApiError):
            if check():
                return
        time.sleep(0.5)
    raise SystemExit(f"bench: timed out waiting for {what}")


def phase_of(kube: KubeClient, path: str) -> str | None:
    obj = kube.get_or_none(path)
    return ((obj or {}).get("status") or {}).get("phase")


def mapping(namespaces: int, to: str) -> dict[str, str]:
    return {ns: f"{to}-{ns.rsplit('-', 1)[1]}" for ns in engines._namespaces(namespaces)}


# -- the two tools -------------------------------------------------------------------------
def s3_config(s3: Mapping[str, str]) -> dict[str, str]:
    return {"region": "minio", "s3ForcePathStyle": "true", "s3Url": s3["ARK_S3_ENDPOINT"]}


def start_ark(inst: procs.Instance, kubeconfig: str, s3: Mapping[str, str], work: Path) -> int:
    creds = work / "credentials"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARK_")}
    env.update(KUBECONFIG=kubeconfig)
    config = ",".join(f"{k}={v}" for k, v in s3_config(s3).items())
    ark = Path(sys.executable).with_name("ark")
    argv = [str(ark), "install", "--no-operator", "-n", ARK_NS, "--provider", "aws",
            "--bucket", s3["ARK_S3_BUCKET"], "--prefix", "ark", "--config", config,
            "--secret-file", str(creds)]  # fmt: skip
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    health = procs.free_port()
    argv = [sys.executable, "-m", "ark.operator", "--namespace", ARK_NS,
            "--kubeconfig", kubeconfig, "--bind-address", "127.0.0.1",
            "--metrics-port", str(procs.free_port()), "--health-port", str(health),
            "--location-interval", "2", "--default-location-period", "2",
            "--restore-workers", str(engines.RESTORE_WORKERS)]  # fmt: skip
    return inst.start("ark-operator", argv, env=deployment_env(), cwd=ROOT)


def deployment_env() -> dict[str, str]:
    """The operator container's plain environment values in deploy/base (MALLOC_ARENA_MAX,
    ...): the bench runs the operator as its Deployment would."""
    doc = yaml.safe_load((ROOT / "deploy" / "base" / "deployment.yaml").read_text())
    container = doc["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}


def start_velero(
    inst: procs.Instance, kube: KubeClient, kubeconfig: str, s3: Mapping[str, str], work: Path
) -> int:
    velero = procs.binary("velero", "VELERO_VERSION", build_target="velero")
    plugin = procs.binary(
        "velero-plugin-for-aws", "VELERO_AWS_PLUGIN_VERSION", build_target="velero"
    )
    plugins = work / "velero-plugins"
    plugins.mkdir()
    shutil.copy2(plugin, plugins / "velero-plugin-for-aws")
    out = subprocess.run(
        [str(velero), "install", "--crds-only", "--dry-run", "-o", "yaml"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    names = []
    for doc in yaml.safe_load_all(out):
        for crd in (doc or {}).get("items", [doc]) if doc else ():
            names.append(crd["metadata"]["name"])
            with contextlib.suppress(KubeApiError):
                kube.request("POST", crds.CRD_PATH, body=crd)
    if pending := crds.wait_established(kube, names):
        raise SystemExit(f"bench: Velero's CRDs not Established: {sorted(pending)}")
    kube.request("POST", "/api/v1/namespaces", body={"metadata": {"name": VELERO_NS}})
    labels = {"app.kubernetes.io/name": "velero"}
    deployment = {
        "metadata": {"name": "velero", "labels": labels},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "velero", "image": "velero/velero:v1.18.3"}]},
            },
        },
    }
    kube.request("POST", f"/apis/apps/v1/namespaces/{VELERO_NS}/deployments", body=deployment)
    velero_bsl(kube, s3, "default", prefix="velero", default=True)
    argv = [str(velero), "server", "--kubeconfig", kubeconfig, "--namespace", VELERO_NS,
            "--plugin-dir", str(plugins), "--metrics-address", f"127.0.0.1:{procs.free_port()}",
            "--profiler-address", f"127.0.0.1:{procs.free_port()}",
            "--backup-sync-period", "5s", *VELERO_QPS]  # fmt: skip
    env = {"AWS_SHARED_CREDENTIALS_FILE": str(work / "credentials")}
    return inst.start("velero", argv, env=env, cwd=work)


def velero_bsl(
    kube: KubeClient, s3: Mapping[str, str], name: str, *, prefix: str, default: bool = False
) -> None:
    body = {
        "apiVersion": "velero.io/v1",
        "kind": "BackupStorageLocation",
        "metadata": {"name": name},
        "spec": {
            "provider": "aws",
            "objectStorage": {"bucket": s3["ARK_S3_BUCKET"], "prefix": prefix},
            "config": s3_config(s3),
            "default": default,
            "accessMode": "ReadWrite" if default else "ReadOnly",
            "validationFrequency": "2s",
        },
    }
    kube.request("POST", f"{VELERO_API}/namespaces/{VELERO_NS}/backupstoragelocations", body=body)


def ark_bsl(kube: KubeClient, s3: Mapping[str, str], name: str, *, prefix: str) -> None:
    body = {
        "metadata": {"name": name},
        "spec": {
            "provider": "aws",
            "objectStorage": {"bucket": s3["ARK_S3_BUCKET"], "prefix": prefix},
            "config": s3_config(s3),
            "credential": {"name": "ark-credentials", "key": "cloud"},
            "accessMode": "ReadOnly",
            "backupSyncPeriod": "1s",
            "validationFrequency": "1s",
        },
    }
    control.create(kube, control.BSL, ARK_NS, body)


# -- the run -------------------------------------------------------------------------------
class Bench:
    """The cluster, the store and both servers of one run, and the rows measured."""

    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args, self.work = args, work
        self.inst = cluster.up(args.name)
        self.kubeconfig = cluster.env_of(self.inst)["KUBECONFIG"]
        self.s3 = objstore.up("minio", args.name)
        minio = list(procs.Instance.load("minio", args.name).pids.values())
        self.api = list(self.inst.pids.values()) + minio
        self.kube = KubeClient.load(kubeconfig=self.kubeconfig, pool_size=16)
        self.rows: dict[str, Row] = {}
        self.notes: list[str] = []
        self.ark = self.velero = 0
        (work / "credentials").write_text(
            "[default]\n"
            f"aws_access_key_id = {self.s3['ARK_S3_ACCESS_KEY_ID']}\n"
            f"aws_secret_access_key = {self.s3['ARK_S3_SECRET_ACCESS_KEY']}\n"
        )
        self.store = {
            "provider": "aws",
            "bucket": self.s3["ARK_S3_BUCKET"],
            "prefix": "library",
            "config": s3_config(self.s3),
            "credentials": {
                "aws_access_key_id": self.s3["ARK_S3_ACCESS_KEY_ID"],
                "aws_secret_access_key": self.s3["ARK_S3_SECRET_ACCESS_KEY"],
            },
        }

    def start(self) -> None:
        self.ark = start_ark(self.inst, self.kubeconfig, self.s3, self.work)
        bsl = control.path(control.BSL, ARK_NS, "default")
        wait("ark's location Available", lambda: phase_of(self.kube, bsl) == "Available")
        if self.args.ark_only:
            return
        self.velero = start_velero(self.inst, self.kube, self.kubeconfig, self.s3, self.work)
        vbsl = f"{VELERO_API}/namespaces/{VELERO_NS}/backupstoragelocations/default"
        wait("Velero's location Available", lambda: phase_of(self.kube, vbsl) == "Available")

    def floor(self, row: str, phase: str) -> None:
        time.sleep(engines.SETTLE_SECONDS)
        self.rows[row] = engines.run_phase(
            phase, self.kubeconfig, self.store, self.args, servers=self.api
        )
        print(line(row, self.rows[row]), flush=True)

    def cr(self, row: str, path: str, body: Row, server: int) -> Row:
        time.sleep(engines.SETTLE_SECONDS)
        result = self.rows[row] = run_cr(self.kube, path, body, server=server, api=self.api)
        print(line(row, result), flush=True)
        return result

    def backups(self) -> None:
        spec = {"includedNamespaces": [f"{engines.PREFIX}-*"], "storageLocation": "default"}
        self.floor("backup: LIST floor", "backup-floor")
        self.floor("backup: ark library", "backup")
        ark = {"apiVersion": "ark.dev/v1", "kind": "Backup", "metadata": {"name": "bench-ark"}}
        self.cr(
            "backup: ark operator",
            control.path(control.BACKUP, ARK_NS),
            {**ark, "spec": spec},
            self.ark,
        )
        if self.args.ark_only:
            return
        vb = {"apiVersion": "velero.io/v1", "kind": "Backup", "metadata": {"name": "bench-velero"}}
        path = f"{VELERO_API}/namespaces/{VELERO_NS}/backups"
        self.cr("backup: velero", path, {**vb, "spec": spec}, self.velero)

    def restores(self) -> None:
        """Velero's first: its restore caches every object of the kinds it restores, cluster
        wide (an informer each), so what the cluster holds is its memory; the floor and ark's
        side by side, the floor first."""
        if not self.args.ark_only:
            body = self._restore("velero.io/v1", "bench-velero", "velero-r")
            path = f"{VELERO_API}/namespaces/{VELERO_NS}/restores"
            self.cr("restore: velero", path, body, self.velero)
        self.floor("restore: POST floor", "restore-floor")
        self.cr("restore: ark operator", control.path(control.RESTORE, ARK_NS),
                self._restore("ark.dev/v1", "bench-ark", "ark-r"), self.ark)  # fmt: skip

    def _restore(self, api: str, backup: str, to: str) -> Row:
        spec = {"backupName": backup, "namespaceMapping": mapping(self.args.namespaces, to)}
        return {"apiVersion": api, "kind": "Restore", "metadata": {"name": to}, "spec": spec}

    def crossed(self) -> None:
        """ark restores Velero's backup; Velero restores ark's."""
        if self.args.ark_only:
            return
        ark_bsl(self.kube, self.s3, "velero-store", prefix="velero")
        synced = control.path(control.BACKUP, ARK_NS, "bench-velero")
        try:
            wait("ark to sync Velero's backup", lambda: phase_of(self.kube, synced), timeout=90)
            self.cr("ark restores velero's backup", control.path(control.RESTORE, ARK_NS),
                    self._restore("ark.dev/v1", "bench-velero", "ark-v"), self.ark)  # fmt: skip
        except SystemExit as exc:
            self.notes.append(f"ark restoring Velero's backup: {exc}")
        velero_bsl(self.kube, self.s3, "ark-store", prefix="ark")
        synced = f"{VELERO_API}/namespaces/{VELERO_NS}/backups/bench-ark"
        try:
            wait("Velero to sync ark's backup", lambda: phase_of(self.kube, synced), timeout=90)
            path = f"{VELERO_API}/namespaces/{VELERO_NS}/restores"
            body = self._restore("velero.io/v1", "bench-ark", "velero-a")
            self.cr("velero restores ark's backup", path, body, self.velero)
        except SystemExit as exc:
            self.notes.append(f"Velero restoring ark's backup: {exc}")

    def counts(self) -> dict[str, int]:
        """ConfigMaps labelled bench=ark per namespace prefix (metadata only)."""
        found: dict[str, int] = {}
        query: dict[str, str | int | bool] = {"labelSelector": "bench=ark", "limit": 5000}
        accept = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"
        while True:
            page = orjson.loads(
                self.kube.request("GET", "/api/v1/configmaps", query=query, accept=accept)
            )
            for item in page.get("items") or []:
                prefix = item["metadata"]["namespace"].rsplit("-", 1)[0]
                found[prefix] = found.get(prefix, 0) + 1
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return found
            query["continue"] = token


HEADER = (
    f"{'phase':<30} {'result':<10} {'items':>7} {'warn':>5} {'seconds':>8} {'items/s':>8} "
    f"{'peak RSS':>10} {'CPU s':>6} {'servers CPU s':>13}"
)


def line(name: str, r: Row) -> str:
    return (
        f"{name:<30} {r.get('phase', '-'):<10} {r['items']:>7} {r.get('warnings', '-'):>5} "
        f"{r['seconds']:>8.2f} {r['items'] / r['seconds']:>8.0f} {r['peak_rss_mib']:>7.0f} MiB "
        f"{r['cpu_seconds']:>6.1f} {r['server_cpu_seconds']:>13.1f}"
    )


def report(bench: Bench, counts: Mapping[str, int], args: argparse.Namespace) -> None:
    rows = bench.rows
    print(f"\n{args.objects} ConfigMaps in {args.namespaces} namespaces; one cluster, one MinIO")
    print(HEADER)
    for name, r in rows.items():
        print(line(name, r))

    def ratio(a: str, b: str, key: str = "seconds") -> str:
        if a not in rows or b not in rows:
            return "-"
        return f"{rows[a][key] / rows[b][key]:.2f}"

    for what in ("backup", "restore"):
        floor = "LIST floor" if what == "backup" else "POST floor"
        print(
            f"{what}: ark/velero time {ratio(f'{what}: ark operator', f'{what}: velero')}, "
            f"peak RSS {ratio(f'{what}: ark operator', f'{what}: velero', 'peak_rss_mib')}; "
            f"ark operator/{floor} {ratio(f'{what}: ark operator', f'{what}: {floor}')} "
            f"(target <= 1.15); velero/{floor} {ratio(f'{what}: velero', f'{what}: {floor}')}"
        )
    per = args.objects
    prefixes = ("ark-r",) if args.ark_only else ("ark-r", "velero-r", "ark-v", "velero-a")
    print("ConfigMaps restored (want " + str(per) + " each): " + ", ".join(
        f"{prefix} {counts.get(prefix, 0)}" for prefix in prefixes
    ))  # fmt: skip
    for note in bench.notes:
        print(f"note: {note}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hack/bench/run velero",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument(
        "--namespaces",
        type=int,
        default=50,
        help=f"at most {limits.NAMESPACE_MAPPINGS_MAX}, the namespaces one ark Restore maps",
    )
    parser.add_argument("--name", default="vbench", help="the cluster's and MinIO's name")
    parser.add_argument("--keep", action="store_true", help="leave the servers running")
    parser.add_argument(
        "--ark-only", action="store_true", help="leave Velero out: the floors and ark only"
    )
    return parser


@contextlib.contextmanager
def _servers(args: argparse.Namespace) -> Iterator[Bench]:
    work = Path(tempfile.mkdtemp(prefix="ark-vbench-"))
    bench: Bench | None = None
    try:
        bench = Bench(args, work)
        yield bench
    finally:
        if bench is not None and not args.keep and not args.ark_only:
            for line in bench.inst.log_tail("velero", 5).splitlines():
                print(f"velero log: {line[:200]}")
        if not args.keep:
            cluster.down(args.name)
            objstore.down("minio", args.name)
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.namespaces > limits.NAMESPACE_MAPPINGS_MAX:
        parser.error(
            f"--namespaces {args.namespaces}: one ark Restore maps at most "
            f"{limits.NAMESPACE_MAPPINGS_MAX} namespaces (Velero has no such limit)"
        )
    with _servers(args) as bench:
        started = time.perf_counter()
        engines.populate(bench.kube, objects=args.objects, namespaces=args.namespaces)
        print(f"populated {args.objects} ConfigMaps in {time.perf_counter() - started:.0f}s")
        bench.start()
        print("ark's operator and Velero's server are up; measuring\n" + HEADER, flush=True)
        bench.backups()
        bench.restores()
        bench.crossed()
        counts = bench.counts()
        report(bench, counts, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
