"""The change log's costs on a running cluster: changes per second it keeps up with, the lag
from a change to its stored segment, and the watcher's memory.

    KUBECONFIG=... uv run python hack/bench/changelog.py --changes 20000 --writers 32

Writers patch ConfigMaps in one namespace as fast as they can (the API server's pace is the
limit); a watcher records them into a directory store with flushSeconds 10. Printed: changes
made per second, changes stored per second, the lag of the last change (made -> in a stored
segment), peak RSS of this process before and after.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from ark.api import BackupSpec
from ark.backup.changelog import ChangeWatcher, WatchOptions
from ark.kube import KubeClient
from ark.persistence import BackupStore, ChangeLog
from ark.storage import StoreLocation, open_store


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=20000)
    parser.add_argument("--objects", type=int, default=500)
    parser.add_argument("--writers", type=int, default=32)
    parser.add_argument("--flush-seconds", type=float, default=10.0)
    args = parser.parse_args()
    kube = KubeClient.load(pool_size=args.writers + 64)
    namespace = f"bench-{uuid.uuid4().hex[:6]}"
    kube.request("POST", "/api/v1/namespaces", body={"metadata": {"name": namespace}})
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    with ThreadPoolExecutor(args.writers) as pool:
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
            done = threading.Event()

            def change(i: int) -> None:
                kube.request(
                    "PATCH",
                    f"{base}/cm-{i % args.objects}",
                    body={"data": {"i": str(i)}},
                    content_type="application/merge-patch+json",
                )

            started = time.monotonic()
            with ThreadPoolExecutor(args.writers) as pool:
                list(pool.map(change, range(args.changes)))
            made = time.monotonic() - started
            last_made = time.monotonic()
            target = args.changes
            while True:
                stored = sum(log.read(n).trailer.counts.get("MODIFIED", 0) for n in log.segments())
                if stored >= target:
                    break
                time.sleep(0.1)
            lag = time.monotonic() - last_made
            done.set()
        kube.request("DELETE", f"/api/v1/namespaces/{namespace}")
    print(
        f"{args.changes} changes to {args.objects} ConfigMaps by {args.writers} writers: "
        f"made at {args.changes / made:,.0f}/s ({made:.1f} s); all stored {lag:.1f} s after the "
        f"last (flushSeconds {args.flush_seconds:g}); {stored / (made + lag):,.0f} stored/s "
        f"overall; peak RSS {rss_ready:.0f} MiB ready, {_rss_mib():.0f} MiB at the end"
    )


if __name__ == "__main__":
    main()
