"""The README's demo: a full disaster-recovery cycle on a local control plane, driven the way a
user drives ark — the operator running as a process, everything else through the ``ark`` CLI.

    make demo            (runs hack/demo, which sets up what is missing, then this)
    hack/demo --keep     (leaves the cluster, MinIO and the operator running)
    hack/demo --down     (stops what a --keep run left)

1. starts a local Kubernetes control plane and a MinIO object store (hack/cluster, hack/objstore)
2. ``ark install --no-operator ...``: the CRDs, the operator's namespace, and a default
   BackupStorageLocation on MinIO with its credential Secret
3. starts the operator, ``python -m ark.operator``, as a process (the control plane has no
   kubelet to run its Deployment) and waits until it is healthy
4. deploys a multi-tier sample app (web Deployment, db StatefulSet with a volume claim, Services,
   Secrets, ConfigMaps, RBAC, a CRD with custom resources, CronJob, NetworkPolicy, HPA, Ingress)
5. ``ark backup create ... --wait``
6. deletes the namespace (the disaster) and waits until it is gone
7. ``ark restore create --from-backup ... --wait``, then the same with
   ``--namespace-mappings shop:shop-staging`` (a clone beside the original: it cannot have
   the original's nodePort or its static volume, and its results say so)
8. compares every object whole before and after (only what the server owns left out), prints
   a verified summary, stops the operator

Exits non-zero if the restore is not Completed and exactly equal, or if the clone differs
anywhere its results do not name.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ark import control
from ark.api.kinds import Kind
from ark.kube import KubeApiError, KubeClient, discover
from localenv import cluster, objstore, procs
from tests.support import compare, workloads

NAME = "demo"
NAMESPACE = "shop"
CLONE = "shop-staging"
ARK_NAMESPACE = "ark-system"
OPERATOR = "ark-operator"
"""The operator's role in the demo cluster's state: ``hack/cluster down`` stops it too."""
ROOT = Path(__file__).resolve().parents[2]
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


# -- the ark CLI and the operator ----------------------------------------------------------
def ark_command() -> list[str]:
    """The installed ``ark`` console script next to this interpreter, else the module."""
    script = Path(sys.executable).with_name("ark")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ark.cli.main"]


def ark(kubeconfig: str, *args: str) -> int:
    """Run ``ark ARGS`` as a user would, its output going straight to the terminal."""
    print(f"    $ ark {shlex.join(args)}", flush=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARK_")}
    env.update(KUBECONFIG=kubeconfig, ARK_NAMESPACE=ARK_NAMESPACE)
    return subprocess.run([*ark_command(), *args], env=env, cwd=ROOT, check=False).returncode


def must(code: int, what: str) -> None:
    if code != 0:
        raise SystemExit(f"demo: {what} failed (ark exited {code})")


def install(kubeconfig: str, s3: dict[str, str], work: Path) -> None:
    """CRDs, namespace, default location and its Secret, through ``ark install``."""
    creds = work / "minio-credentials"
    creds.touch(mode=0o600)
    creds.write_text(
        "[default]\n"
        f"aws_access_key_id = {s3['ARK_S3_ACCESS_KEY_ID']}\n"
        f"aws_secret_access_key = {s3['ARK_S3_SECRET_ACCESS_KEY']}\n"
    )
    config = f"region=minio,s3ForcePathStyle=true,s3Url={s3['ARK_S3_ENDPOINT']}"
    must(
        ark(kubeconfig, "install", "--no-operator", "--provider", "aws",
            "--bucket", s3["ARK_S3_BUCKET"], "--prefix", NAME, "--config", config,
            "--secret-file", str(creds)),
        "ark install",
    )  # fmt: skip


def start_operator(inst: procs.Instance, kubeconfig: str) -> int:
    """``python -m ark.operator`` for ``ark-system``, recorded in the cluster's state; its
    health port (waited for by :func:`operator_healthy`)."""
    inst.stop_role(OPERATOR)
    health = procs.free_port()
    argv = [
        sys.executable, "-m", "ark.operator",
        "--namespace", ARK_NAMESPACE,
        "--kubeconfig", kubeconfig,
        "--bind-address", "127.0.0.1",
        "--metrics-port", str(procs.free_port()),
        "--health-port", str(health),
        "--progress-interval", "0.5",
        "--location-interval", "1",
        "--default-location-period", "10",
    ]  # fmt: skip
    inst.start(OPERATOR, argv, cwd=ROOT)
    return health


def operator_healthy(inst: procs.Instance, health: int) -> None:
    def healthz() -> bool:
        url = f"http://127.0.0.1:{health}/healthz"
        with urllib.request.urlopen(url, timeout=1) as resp:
            return bool(resp.status == 200)

    procs.wait_until("start the ark operator", healthz, timeout=60, inst=inst, role=OPERATOR)


def operator_log(inst: procs.Instance) -> Path:
    return inst.directory / f"{OPERATOR}.log"


# -- the sample app and the comparison -----------------------------------------------------
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


def verify(
    before: dict[str, dict[str, Any]],
    after: dict[str, dict[str, Any]],
    *,
    named: set[str] | None = None,
    namespace_map: dict[str, str] | None = None,
) -> tuple[list[str], list[str]]:
    """Every object compared whole (only what the server owns left out): (differences the
    restore named in its results, differences it did not: problems)."""
    found = compare.differences(before, after, namespace_map=namespace_map)
    lines = {key: f"{key}: {'; '.join(diff)}" for key, diff in found.items()}
    unexplained = compare.unexplained(found, named or set())
    return [lines[k] for k in found if k not in unexplained], [lines[k] for k in unexplained]


def _named(kube: KubeClient, restore: str) -> set[str]:
    """``resource/name`` of the items the Restore's status names (failed, warned, different)."""
    obj = control.get(kube, control.RESTORE, ARK_NAMESPACE, restore) or {}
    return {f"{r['resource']}/{r['name']}" for r in (obj.get("status") or {}).get("results") or []}


def _absent(kube: KubeClient, namespace: str) -> bool:
    try:
        kube.get(f"/api/v1/namespaces/{namespace}")
    except KubeApiError as exc:
        return exc.not_found
    return False


def _clear_leftovers(kube: KubeClient) -> None:
    for ns in (NAMESPACE, CLONE):  # a previous --keep run's namespaces
        with contextlib.suppress(KubeApiError):
            kube.request("DELETE", f"/api/v1/namespaces/{ns}")
    for ns in (NAMESPACE, CLONE):
        wait(f"namespace {ns} to go", lambda ns=ns: _absent(kube, ns))  # type: ignore[misc]


def _deploy_app(kube: KubeClient) -> dict[str, dict[str, Any]]:
    kube.request("POST", "/api/v1/namespaces", body={"metadata": {"name": NAMESPACE}})
    workloads.deploy_shop(kube, NAMESPACE)
    wait("pods", lambda: len(kube.get(f"/api/v1/namespaces/{NAMESPACE}/pods")["items"]) >= 3)
    time.sleep(2)  # let the controllers settle
    return namespace_objects(kube, NAMESPACE)


def _phase(kube: KubeClient, kind: Kind, name: str) -> str:
    obj = control.get(kube, kind, ARK_NAMESPACE, name) or {}
    return str((obj.get("status") or {}).get("phase") or "missing")


# -- the cycle -----------------------------------------------------------------------------
def _cycle(kube: KubeClient, inst: procs.Instance, s3: dict[str, str]) -> bool:
    kubeconfig = cluster.env_of(inst)["KUBECONFIG"]
    _clear_leftovers(kube)

    t = step(f"ark install: CRDs, namespace {ARK_NAMESPACE}, a default location on MinIO")
    install(kubeconfig, s3, inst.directory)
    health = start_operator(inst, kubeconfig)  # starts while the app is deployed
    done(t)

    t = step(f"sample multi-tier app in namespace {NAMESPACE}")
    before = _deploy_app(kube)
    done(t, f"{len(before)} objects (and a ConfigMap labelled to be left out of backups)")

    t = step(f"the operator, as a process: python -m ark.operator -n {ARK_NAMESPACE}")
    operator_healthy(inst, health)
    done(t, f"healthy; log: {operator_log(inst)}")

    name = f"shop-{time.strftime('%Y%m%d%H%M%S')}"
    t = step(f"backup of namespace {NAMESPACE} to MinIO")
    must(ark(kubeconfig, "backup", "create", name, "--include-namespaces", NAMESPACE, "--wait"),
         f"backup {name}")  # fmt: skip
    done(t)

    t = step(f"disaster: namespace {NAMESPACE} deleted")
    kube.request("DELETE", f"/api/v1/namespaces/{NAMESPACE}")
    wait(f"namespace {NAMESPACE} to be gone", lambda: _absent(kube, NAMESPACE))
    done(t, "gone")

    t = step(f"restore {NAMESPACE} from {name}")
    restored = f"{name}-restore"
    ark(kubeconfig, "restore", "create", restored, "--from-backup", name, "--wait")
    done(t)
    after = namespace_objects(kube, NAMESPACE)

    t = step(f"clone {NAMESPACE} as {CLONE}")
    cloned_name = f"{name}-clone"
    ark(kubeconfig, "restore", "create", cloned_name, "--from-backup", name,
        "--namespace-mappings", f"{NAMESPACE}:{CLONE}", "--wait")  # fmt: skip
    done(t)
    cloned = namespace_objects(kube, CLONE)
    ark(kubeconfig, "restore", "get", restored, cloned_name)

    step("verification: every object compared whole with the original")
    phases = {
        f"backup {name}": _phase(kube, control.BACKUP, name),
        f"restore {restored}": _phase(kube, control.RESTORE, restored),
    }
    problems = [f"{what} is {p}, not Completed" for what, p in phases.items() if p != "Completed"]
    _, unexplained = verify(before, after)
    problems += unexplained
    # Beside its original the clone cannot have the original's volume or nodePort: it says so.
    said, unsaid = verify(
        before, cloned, named=_named(kube, cloned_name), namespace_map={NAMESPACE: CLONE}
    )
    problems += [f"clone, not in its results: {p}" for p in unsaid]
    pods = len(kube.get(f"/api/v1/namespaces/{NAMESPACE}/pods")["items"])
    print(f"    objects before the disaster : {len(before)}")
    print(f"    restored and equal          : {len(before) - len(unexplained)}")
    print(f"    cloned into {CLONE:<16}: {len(before) - len(said) - len(unsaid)} equal, "
          f"{len(said)} different and named in its results "
          f"({_phase(kube, control.RESTORE, cloned_name)}):")  # fmt: skip
    for line in said:
        print(f"      {line}")
    print(f"    pods re-created by their restored controllers: {pods}")
    for problem in problems:
        print(f"    PROBLEM {problem}")
    return not problems


def down() -> int:
    inst = procs.Instance.load(cluster.KIND, NAME)
    stopped = inst.stop_role(OPERATOR)
    stopped_all = [stopped] if stopped else []
    stopped_all += cluster.down(NAME) + objstore.down("minio", NAME)
    print(f"stopped: {', '.join(stopped_all) or 'nothing was running'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="hack/demo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--keep", action="store_true", help="leave the cluster, MinIO and the operator running"
    )
    which.add_argument("--down", action="store_true", help="stop what a --keep run left")
    args = parser.parse_args(argv)
    if args.down:
        return down()
    total = time.monotonic()

    t = step("local control plane (etcd + kube-apiserver + kube-controller-manager) and MinIO")
    procs.Instance.load(cluster.KIND, NAME).stop_role(OPERATOR)  # a --keep run's operator
    inst = cluster.up(NAME)
    ok = False
    try:
        s3 = objstore.up("minio", NAME)
        kubeconfig = cluster.env_of(inst)["KUBECONFIG"]
        kube = KubeClient.load(kubeconfig=kubeconfig)
        done(t, f"Kubernetes {kube.version()['gitVersion']}; export KUBECONFIG={kubeconfig}")
        ok = _cycle(kube, inst, s3)
    finally:
        if args.keep:
            print(f"\nleft running: export KUBECONFIG={cluster.env_of(inst)['KUBECONFIG']}")
            print(f"  the operator (log: {operator_log(inst)}), MinIO; stop all: hack/demo --down")
        else:
            if not ok and operator_log(inst).exists():
                print(f"\noperator log, last lines:\n{inst.log_tail(OPERATOR, 30)}")
            down()
    print(
        f"\n{'PASS' if ok else 'FAIL'}: disaster-recovery cycle in {time.monotonic() - total:.1f}s"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
