"""The change log's costs on a running cluster: changes per second it keeps up with, the lag
from a change to its stored segment, and the watcher's memory.

    KUBECONFIG=... hack/bench/run changelog --changes 30000 --writers 64 [--rate 1000]

Writers patch ConfigMaps in one namespace as fast as the API server takes them: a small Go
program (``hack/bench/loadgen``, built here with the machine's Go, HTTP/2 over the cluster's
client certificate) so that the writers' own CPU does not set the pace, as Python writers in
this process did (370/s). A watcher in this process records the changes into a directory store
with flushSeconds 10. Printed: changes made per second, changes stored per second, the lag of
the last change (made -> in a stored segment), peak RSS of this process (the watcher's) when
ready and at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ark.api import BackupSpec
from ark.backup.changelog import ChangeWatcher, WatchOptions
from ark.kube import KubeClient
from ark.persistence import BackupStore, ChangeLog
from ark.storage import StoreLocation, open_store


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


LOADGEN = Path(__file__).parent / "loadgen"


def _loadgen() -> Path:
    """The writer, built once into the tools cache (Go's build cache makes a rebuild quick)."""
    cache = Path(os.environ.get("ARK_CACHE", Path.home() / ".cache" / "ark")) / "bin"
    cache.mkdir(parents=True, exist_ok=True)
    binary = cache / "ark-loadgen"
    subprocess.run(["go", "build", "-o", str(binary), "."], cwd=LOADGEN, check=True)
    return binary


def _write(loadgen: Path, kube: KubeClient, namespace: str, args: argparse.Namespace) -> float:
    """Run the writers; the seconds they took."""
    conf = kube.api.configuration
    out = subprocess.run(
        [
            str(loadgen),
            f"-server={conf.host}",
            f"-ca={conf.ssl_ca_cert}",
            f"-cert={conf.cert_file}",
            f"-key={conf.key_file}",
            f"-namespace={namespace}",
            f"-objects={args.objects}",
            f"-changes={args.changes}",
            f"-writers={args.writers}",
            f"-rate={args.rate}",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result = json.loads(out)
    if result["errors"]:
        raise SystemExit(f"loadgen: {result['errors']} of {args.changes} changes failed")
    return float(result["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=30000)
    parser.add_argument("--objects", type=int, default=500)
    parser.add_argument("--writers", type=int, default=64)
    parser.add_argument(
        "--rate", type=float, default=0.0, help="changes/s, paced (default: as fast as taken)"
    )
    parser.add_argument("--flush-seconds", type=float, default=10.0)
    args = parser.parse_args()
    loadgen = _loadgen()
    kube = KubeClient.load(pool_size=64)
    namespace = f"bench-{uuid.uuid4().hex[:6]}"
    kube.request("POST", "/api/v1/namespaces", body={"metadata": {"name": namespace}})
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    with ThreadPoolExecutor(32) as pool:
        list(
            pool.map(
                lambda i: kube.request("POST", base, body={"metadata": {"name": f"cm-{i}"}}),
                range(args.objects),
            )
        )
    with tempfile.TemporaryDirectory() as bucket:
        store = open_store(StoreLocation(provider="fs", bucket=bucket, prefix="bench"))
        log = ChangeLog(BackupStore(store), "bench", cluster=kube.cluster_uid())
        options = WatchOptions(flush_seconds=args.flush_seconds)
        spec = BackupSpec(included_namespaces=[namespace])
        with ChangeWatcher(kube, log, spec, options=options) as watcher:
            assert watcher.wait_ready(120)
            rss_ready = _rss_mib()
            made = _write(loadgen, kube, namespace, args)
            last_made = time.monotonic()
            target = args.changes
            while True:
                stored = sum(log.read(n).trailer.counts.get("MODIFIED", 0) for n in log.segments())
                if stored >= target:
                    break
                time.sleep(0.1)
            lag = time.monotonic() - last_made
        kube.request("DELETE", f"/api/v1/namespaces/{namespace}")
    paced = f" paced at {args.rate:,.0f}/s" if args.rate else ""
    print(
        f"{args.changes} changes{paced} to {args.objects} ConfigMaps by {args.writers} writers: "
        f"made at {args.changes / made:,.0f}/s ({made:.1f} s); all stored {lag:.1f} s after the "
        f"last (flushSeconds {args.flush_seconds:g}); {stored / (made + lag):,.0f} stored/s "
        f"overall; peak RSS {rss_ready:.0f} MiB ready, {_rss_mib():.0f} MiB at the end"
    )


if __name__ == "__main__":
    main()
