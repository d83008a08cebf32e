"""The README's demo: a full disaster-recovery cycle on a local control plane.

    make demo            (runs hack/demo, which sets up what is missing, then this)

1. starts a local Kubernetes control plane and a MinIO object store (hack/cluster, hack/objstore)
2. deploys a multi-tier sample app (web Deployment, db StatefulSet with a volume claim, Services,
   Secrets, ConfigMaps, RBAC, a CRD with custom resources, CronJob, NetworkPolicy, HPA, Ingress)
3. backs its namespace up to MinIO
4. deletes the namespace (the disaster) and waits until it is gone
5. restores it from the backup, then clones it into a second namespace
6. compares every object before and after, and prints a verified summary

Exits non-zero if anything does not come back as it was.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Callable
from typing import Any

from ark import backup, restore
from ark.api import BackupSpec, RestoreSpec
from ark.kube import KubeApiError, KubeClient, discover
from ark.storage import ObjectStore, StoreLocation, open_store
from localenv import cluster, objstore
from tests.support import workloads

NAMESPACE = "shop"
CLONE = "shop-staging"
_SKIP_DIRS = {"events", "events.events.k8s.io"}


def step(text: str) -> float:
    print(f"\n==> {text}", flush=True)
    return time.monotonic()


def done(started: float, text: str = "") -> None:
    print(f"    ok ({time.monotonic() - started:.1f}s){' ' + text if text else ''}", flush=True)


def wait(what: str, check: Callable[[], bool], *, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise SystemExit(f"demo: timed out waiting for {what}")


def namespace_objects(kube: KubeClient, namespace: str) -> dict[str, dict[str, Any]]:
    """The objects a restore must bring back itself (not those controllers re-create)."""
    out: dict[str, dict[str, Any]] = {}
    for res in discover(kube).resources:
        if not res.namespaced or "list" not in res.verbs or res.qualified in _SKIP_DIRS:
            continue
        for item in kube.get(res.path(namespace=namespace)).get("items", []):
            meta = item["metadata"]
            if any(o.get("controller") for o in meta.get("ownerReferences") or ()):
                continue
            labels = meta.get("labels") or {}
            if meta["name"] == "kube-root-ca.crt" or labels.get(
                "endpoints.kubernetes.io/managed-by"
            ):
                continue
            if labels.get("velero.io/exclude-from-backup") == "true":
                continue  # excluded from the backup on purpose (the app's `skip-me`)
            out[f"{res.qualified}/{meta['name']}"] = item
    return out


def essence(key: str, obj: dict[str, Any]) -> Any:
    body = {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion")}
    body["labels"] = obj["metadata"].get("labels") or {}
    if key.startswith("services/"):
        spec = dict(body["spec"])
        if spec.get("clusterIP") != "None":
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
        spec["ports"] = [{k: v for k, v in p.items() if k != "nodePort"} for p in spec["ports"]]
        body["spec"] = spec
    if key.startswith("persistentvolumeclaims/"):
        body["spec"] = {k: v for k, v in body["spec"].items() if k != "volumeName"}
    for subject in body.get("subjects") or ():
        subject.pop("namespace", None)
    return body


def verify(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> list[str]:
    problems = [f"missing: {k}" for k in sorted(set(before) - set(after))]
    problems += [
        f"differs: {k}"
        for k in sorted(set(before) & set(after))
        if essence(k, before[k]) != essence(k, after[k])
    ]
    return problems


def _store(s3: dict[str, str]) -> ObjectStore:
    return open_store(
        StoreLocation(
            provider="aws",
            bucket=s3["ARK_S3_BUCKET"],
            prefix="demo",
            config={"s3Url": s3["ARK_S3_ENDPOINT"], "s3ForcePathStyle": "true", "region": "minio"},
            credentials={
                "aws_access_key_id": s3["ARK_S3_ACCESS_KEY_ID"],
                "aws_secret_access_key": s3["ARK_S3_SECRET_ACCESS_KEY"],
            },
        )
    )


def _fresh_app(kube: KubeClient) -> dict[str, dict[str, Any]]:
    for ns in (NAMESPACE, CLONE):  # a previous run's leftovers
        with contextlib.suppress(KubeApiError):
            kube.request("DELETE", f"/api/v1/namespaces/{ns}")
        wait(f"namespace {ns} to go", lambda ns=ns: _absent(kube, ns))  # type: ignore[misc]
    t = step(f"sample multi-tier app in namespace {NAMESPACE}")
    kube.request("POST", "/api/v1/namespaces", body={"metadata": {"name": NAMESPACE}})
    workloads.deploy_shop(kube, NAMESPACE)
    wait("pods", lambda: len(kube.get(f"/api/v1/namespaces/{NAMESPACE}/pods")["items"]) >= 3)
    time.sleep(2)  # let the controllers settle
    before = namespace_objects(kube, NAMESPACE)
    done(t, f"{len(before)} objects (and a ConfigMap labelled to be left out of backups)")
    return before


def _cycle(kube: KubeClient, store: ObjectStore) -> bool:
    before = _fresh_app(kube)
    name = f"shop-{time.strftime('%Y%m%d%H%M%S')}"
    t = step(f"backup {name} of namespace {NAMESPACE} to MinIO")
    made = backup.run(kube, store, name=name, spec=BackupSpec(included_namespaces=[NAMESPACE]))
    if made.phase != "Completed":
        raise SystemExit(f"demo: backup {made.phase}: {made.failure_reason or made.issues.errors}")
    done(t, f"{made.phase}: {made.progress.items_backed_up} items")

    t = step(f"disaster: namespace {NAMESPACE} deleted")
    kube.request("DELETE", f"/api/v1/namespaces/{NAMESPACE}")
    wait(f"namespace {NAMESPACE} to be gone", lambda: _absent(kube, NAMESPACE))
    done(t, "gone")

    t = step(f"restore {NAMESPACE} from {name}")
    back = restore.run(
        kube, store, name=f"{name}-restore", backup_name=name, spec=RestoreSpec(backup_name=name)
    )
    done(t, f"{back.phase}: {back.counts}")
    after = namespace_objects(kube, NAMESPACE)

    t = step(f"clone {NAMESPACE} as {CLONE}")
    clone = restore.run(
        kube,
        store,
        name=f"{name}-clone",
        backup_name=name,
        spec=RestoreSpec(backup_name=name, namespace_mapping={NAMESPACE: CLONE}),
    )
    done(t, f"{clone.phase}: {clone.counts}")
    cloned = namespace_objects(kube, CLONE)

    step("verification: every object compared with the original")
    problems = verify(before, after) + [f"clone {p}" for p in verify(before, cloned)]
    pods = len(kube.get(f"/api/v1/namespaces/{NAMESPACE}/pods")["items"])
    print(f"    objects before the disaster : {len(before)}")
    print(f"    restored and equal          : {len(before) - len(verify(before, after))}")
    print(f"    cloned into {CLONE:<16}: {len(before) - len(verify(before, cloned))}")
    print(f"    pods re-created by their restored controllers: {pods}")
    for problem in problems:
        print(f"    PROBLEM {problem}")
    return not problems and back.phase == "Completed" and clone.phase == "Completed"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="hack/demo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keep", action="store_true", help="leave the cluster and MinIO running")
    args = parser.parse_args(argv)
    total = time.monotonic()

    t = step("local control plane (etcd + kube-apiserver + kube-controller-manager) and MinIO")
    inst = cluster.up("demo")
    s3 = objstore.up("minio", "demo")
    kube = KubeClient.load(kubeconfig=cluster.env_of(inst)["KUBECONFIG"])
    names = [n["metadata"]["name"] for n in kube.get("/api/v1/namespaces")["items"]]
    done(t, f"Kubernetes {kube.version()['gitVersion']}; namespaces: {', '.join(sorted(names))}")
    try:
        ok = _cycle(kube, _store(s3))
    finally:
        if args.keep:
            print(f"\nleft running: export KUBECONFIG={cluster.env_of(inst)['KUBECONFIG']}")
        else:
            cluster.down("demo")
            objstore.down("minio", "demo")
    print(
        f"\n{'PASS' if ok else 'FAIL'}: disaster-recovery cycle in {time.monotonic() - total:.1f}s"
    )
    return 0 if ok else 1


def _absent(kube: KubeClient, namespace: str) -> bool:
    try:
        kube.get(f"/api/v1/namespaces/{namespace}")
    except KubeApiError as exc:
        return exc.not_found
    return False


if __name__ == "__main__":
    sys.exit(main())
