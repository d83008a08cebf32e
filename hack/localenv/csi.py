"""The CSI snapshot stack beside a local cluster: real CRDs, controller, sidecars and a driver.

    hack/csi up   [--cluster NAME] [--driver-of OTHER] [--json]
                                              install the snapshot.storage.k8s.io CRDs, start it
    hack/csi env  [--cluster NAME] [--json]   print the driver name for a running stack
    hack/csi down [--cluster NAME]            stop it (the CRDs stay)

The processes are recorded with the cluster: `hack/cluster down` stops them too.

Processes, all against the cluster's API server (hack/cluster up --name NAME first):
snapshot-controller, and for the driver csi-provisioner and csi-snapshotter talking to it over a
unix socket. The driver is Kubernetes' e2e CSI mock driver (volumes and snapshots in its memory;
csi-driver-host-path is not on the Go module proxy). With --driver-of OTHER the sidecars talk to
cluster OTHER's running driver instead of one of their own: two clusters on one storage backend,
where a snapshot one cluster took is restored in the other. There is no kubelet: volumes are
provisioned and snapshotted, never mounted. Built once by `hack/build-tools csi`; versions in
versions.sh.
"""

from __future__ import annotations

import argparse
import json
import ssl
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from localenv import procs

ROLES = ("csi-mock-driver", "snapshot-controller", "csi-snapshotter", "csi-provisioner")
DRIVER = "io.kubernetes.storage.mock"
CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def _tag() -> str:
    v = procs.VERSIONS
    return f"{v['CSI_SNAPSHOTTER_VERSION']}-{v['CSI_PROVISIONER_VERSION']}-{v['K8S_VERSION']}"


def crd_dir() -> Path:
    return procs.CACHE / f"csi-crds-{procs.VERSIONS['CSI_SNAPSHOTTER_VERSION']}"


def _binary(name: str) -> Path:
    return procs.ensure_built(procs.BIN / f"{name}-{_tag()}", build_target="csi")


class _Api:
    """Just enough of the cluster's API (admin client certificate) to install CRDs."""

    def __init__(self, cluster: procs.Instance) -> None:
        pki = cluster.directory / "pki"
        self.ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        self.ctx.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
        self.base = f"https://127.0.0.1:{cluster.info['port']}"

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(  # noqa: S310 - https to the local API server
            self.base + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, context=self.ctx, timeout=30) as resp:  # noqa: S310
            return json.loads(resp.read())


def install_crds(cluster: procs.Instance, *, timeout: float = 60) -> list[str]:
    """Create the upstream snapshot.storage.k8s.io CRDs (kept as they are when present) and
    wait until they are Established."""
    api = _Api(cluster)
    _binary("snapshot-controller")  # builds the stack and copies the CRDs when missing
    names = []
    for path in sorted(crd_dir().glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        names.append(crd["metadata"]["name"])
        try:
            api.call("POST", CRD_PATH, crd)
        except urllib.error.HTTPError as exc:
            if exc.code != 409:
                raise procs.StepError(
                    f"install CRD {path.name}", f"{exc.code} {exc.read()!r}"
                ) from exc
    deadline = time.monotonic() + timeout
    for name in names:
        while True:
            conditions = api.call("GET", f"{CRD_PATH}/{name}").get("status", {}).get("conditions")
            if any(c["type"] == "Established" and c["status"] == "True" for c in conditions or []):
                break
            if time.monotonic() > deadline:
                raise procs.StepError(f"install CRD {name}", f"not Established after {timeout}s")
            time.sleep(0.2)
    return names


def _cluster(name: str) -> procs.Instance:
    cluster = procs.Instance.load("cluster", name)
    if not cluster.running():
        raise procs.StepError(
            "the CSI stack", f"cluster {name!r} is not running (hack/cluster up --name {name})"
        )
    return cluster


def serving(cluster: procs.Instance) -> bool:
    shared = cluster.info.get("csi_driver_of")
    if shared:
        other = procs.Instance.load("cluster", str(shared))
        if not (other.running() and "csi-mock-driver" in other.pids):
            return False
    roles = ROLES[1:] if shared else ROLES
    return cluster.running() and all(role in cluster.pids for role in roles)


def up(cluster_name: str, *, driver_of: str | None = None) -> procs.Instance:
    """Start the stack, its processes recorded with the cluster (so `hack/cluster down` stops
    them too, before the API server); a running stack is reused when it uses the same driver.
    With ``driver_of`` the sidecars use that cluster's running driver (its socket)."""
    cluster = _cluster(cluster_name)
    install_crds(cluster)
    if serving(cluster) and cluster.info.get("csi_driver_of") == driver_of:
        return cluster
    down(cluster_name)
    kubeconfig = str(cluster.directory / "kubeconfig")
    if driver_of:
        owner = _cluster(driver_of)
        if not serving(owner) or owner.info.get("csi_driver_of"):
            raise procs.StepError(
                "the CSI stack",
                f"cluster {driver_of!r} runs no CSI driver of its own to share "
                f"(hack/csi up --cluster {driver_of})",
            )
        socket = owner.directory / "csi.sock"
    else:
        socket = cluster.directory / "csi.sock"
        cluster.start(
            "csi-mock-driver", [str(_binary("csi-mock-driver")), f"--endpoint={socket}", "--v=2"]
        )
        procs.wait_until(
            "start the CSI mock driver",
            socket.exists,
            timeout=30,
            inst=cluster,
            role="csi-mock-driver",
        )
    cluster.info["csi_driver_of"] = driver_of
    cluster.save()
    common = [f"--kubeconfig={kubeconfig}", "--leader-election=false", "--v=3"]
    # A failed sync is retried after 1 s, doubling up to --retry-interval-max (5 minutes by
    # default): on a busy machine a content waiting for its finalizer to go could then wait
    # minutes. Here every controller retries within 5 s.
    retry = "--retry-interval-max=5s"
    cluster.start("snapshot-controller", [str(_binary("snapshot-controller")), *common, retry])
    sidecar = [*common, f"--csi-address={socket}", "--timeout=30s", retry]
    cluster.start("csi-snapshotter", [str(_binary("csi-snapshotter")), *sidecar])
    cluster.start("csi-provisioner", [str(_binary("csi-provisioner")), *sidecar])
    time.sleep(1.0)  # a bad flag or an unreachable API server shows within a second
    for role in ROLES[1:] if driver_of else ROLES:
        if not procs.pid_alive(cluster.pids[role]):
            raise procs.StepError(
                f"start {role}", f"exited; last log lines:\n{cluster.log_tail(role)}"
            )
    return cluster


def down(cluster_name: str) -> list[str]:
    """Stop the stack's processes; the cluster (and the CRDs in it) stay."""
    cluster = procs.Instance.load("cluster", cluster_name)
    stopped = (cluster.stop_role(role) for role in reversed(ROLES))
    return [s for s in stopped if s is not None]


def env_of(inst: procs.Instance) -> dict[str, str]:
    return {"ARK_CSI_DRIVER": DRIVER, "ARK_CSI_LOGS": str(inst.directory)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="hack/csi", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for command in ("up", "env", "down"):
        p = sub.add_parser(command)
        p.add_argument("--cluster", default="default")
        p.add_argument("--json", action="store_true")
        if command == "up":
            p.add_argument(
                "--driver-of",
                metavar="OTHER",
                help="use cluster OTHER's running CSI driver (one storage backend, two clusters)",
            )
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            started = time.monotonic()
            inst = up(args.cluster, driver_of=args.driver_of)
            shared = f", cluster {args.driver_of!r}'s" if args.driver_of else ""
            print(
                f"CSI stack for cluster {args.cluster!r} ready in "
                f"{time.monotonic() - started:.1f}s (driver {DRIVER}{shared})",
                file=sys.stderr,
            )
            procs.print_env(env_of(inst), as_json=args.json)
        elif args.command == "env":
            inst = procs.Instance.load("cluster", args.cluster)
            if not serving(inst):
                print(f"no CSI stack runs for cluster {args.cluster!r}", file=sys.stderr)
                return 1
            procs.print_env(env_of(inst), as_json=args.json)
        else:
            stopped = down(args.cluster)
            print(
                f"CSI stack {args.cluster!r}: stopped {', '.join(stopped) or 'nothing'}",
                file=sys.stderr,
            )
    except procs.StepError as exc:
        print(f"hack/csi: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
