"""A real Kubernetes control plane on 127.0.0.1: etcd, kube-apiserver, kube-controller-manager.

    hack/cluster up   [--name NAME] [--port PORT]   start (or reuse) a cluster, print its env
    hack/cluster env  [--name NAME] [--json]        print KUBECONFIG for a running cluster
    hack/cluster down [--name NAME | --all]         stop it by pid and delete its data
    hack/cluster status

Binaries are built once from Kubernetes' Go modules by hack/build-tools into ~/.cache/ark/bin.
Each named cluster has its own ports, certificates and etcd data under ~/.cache/ark/run/cluster/,
so a second, independent cluster (`--name other`) can run beside the first for cross-cluster tests.
There is no kubelet or scheduler: Pods stay Pending, which is all API-object tests need.
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from localenv import procs

KIND = "cluster"
SERVICE_CIDR = "10.0.0.0/24"


def _openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(
        ["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise procs.StepError(
            "generate certificates", f"openssl {args[0]}: {result.stderr.strip()}"
        )


def _issue_cert(pki: Path, name: str, subject: str, *, server: bool) -> None:
    _openssl("genrsa", "-out", f"{name}.key", "2048", cwd=pki)
    _openssl("req", "-new", "-key", f"{name}.key", "-subj", subject, "-out", f"{name}.csr", cwd=pki)
    ext = pki / f"{name}.ext"
    if server:
        sans = [
            "IP:127.0.0.1",
            "IP:10.0.0.1",
            "DNS:localhost",
            "DNS:kubernetes",
            "DNS:kubernetes.default",
            "DNS:kubernetes.default.svc",
            "DNS:kubernetes.default.svc.cluster.local",
        ]
        ext.write_text(
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
            f"extendedKeyUsage=serverAuth\nsubjectAltName={','.join(sans)}\n"
        )
    else:
        ext.write_text(
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
            "extendedKeyUsage=clientAuth\n"
        )
    _openssl(
        "x509",
        "-req",
        "-in",
        f"{name}.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "3650",
        "-sha256",
        "-extfile",
        ext.name,
        "-out",
        f"{name}.crt",
        cwd=pki,
    )


def _make_pki(pki: Path) -> None:
    pki.mkdir(parents=True, exist_ok=True)
    _openssl("genrsa", "-out", "ca.key", "2048", cwd=pki)
    _openssl(
        "req",
        "-x509",
        "-new",
        "-key",
        "ca.key",
        "-days",
        "3650",
        "-sha256",
        "-subj",
        "/CN=ark-local-ca",
        "-out",
        "ca.crt",
        cwd=pki,
    )
    _issue_cert(pki, "apiserver", "/CN=kube-apiserver", server=True)
    _issue_cert(pki, "admin", "/O=system:masters/CN=ark-admin", server=False)
    # The controller manager acts for every controller; system:masters keeps the local plane simple.
    _issue_cert(
        pki,
        "controller-manager",
        "/O=system:masters/CN=system:kube-controller-manager",
        server=False,
    )
    _openssl("genrsa", "-out", "sa.key", "2048", cwd=pki)
    _openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=pki)


def _kubeconfig(pki: Path, port: int, user: str, name: str) -> str:
    def b64(path: Path) -> str:
        return base64.b64encode(path.read_bytes()).decode()

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": name,
                "cluster": {
                    "server": f"https://127.0.0.1:{port}",
                    "certificate-authority-data": b64(pki / "ca.crt"),
                },
            }
        ],
        "users": [
            {
                "name": f"{name}-{user}",
                "user": {
                    "client-certificate-data": b64(pki / f"{user}.crt"),
                    "client-key-data": b64(pki / f"{user}.key"),
                },
            }
        ],
        "contexts": [{"name": name, "context": {"cluster": name, "user": f"{name}-{user}"}}],
        "current-context": name,
    }
    return json.dumps(config, indent=2)  # JSON is YAML; no PyYAML needed here


def _ready(inst: procs.Instance, path: str = "/readyz") -> bool:
    pki = inst.directory / "pki"
    ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    ctx.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
    url = f"https://127.0.0.1:{inst.info['port']}{path}"
    with urllib.request.urlopen(url, context=ctx, timeout=2) as resp:
        return bool(resp.status == 200)


def _default_namespaces_ready(inst: procs.Instance) -> bool:
    # kube-system, kube-public, default exist and the service-account controller has run.
    return _ready(inst, "/api/v1/namespaces/default/serviceaccounts/default")


def env_of(inst: procs.Instance) -> dict[str, str]:
    return {
        "KUBECONFIG": str(inst.directory / "kubeconfig"),
        "ARK_CLUSTER_NAME": inst.name,
        "ARK_CLUSTER_SERVER": f"https://127.0.0.1:{inst.info['port']}",
        # For tests that make etcd do real things to the API server (e.g. compact a revision).
        "ARK_ETCD_ENDPOINT": f"http://127.0.0.1:{inst.info['etcd_port']}",
    }


def up(
    name: str, *, port: int | None = None, apiserver_args: list[str] | None = None
) -> procs.Instance:
    inst = procs.Instance.load(KIND, name)
    if inst.running():
        try:
            if _ready(inst):
                return inst
        except OSError:
            pass
    inst.stop()
    shutil.rmtree(inst.directory, ignore_errors=True)
    inst = procs.Instance(kind=KIND, name=name, directory=inst.directory)
    inst.directory.mkdir(parents=True)

    etcd = procs.binary("etcd", "ETCD_VERSION", build_target="etcd")
    apiserver = procs.binary("kube-apiserver", "K8S_VERSION", build_target="k8s")
    kcm = procs.binary("kube-controller-manager", "K8S_VERSION", build_target="k8s")

    pki = inst.directory / "pki"
    _make_pki(pki)
    api_port = port or procs.free_port()
    etcd_port, peer_port = procs.free_port(), procs.free_port()
    inst.info = {"port": api_port, "etcd_port": etcd_port, "peer_port": peer_port}
    inst.save()
    (inst.directory / "kubeconfig").write_text(_kubeconfig(pki, api_port, "admin", f"ark-{name}"))
    (inst.directory / "controller-manager.kubeconfig").write_text(
        _kubeconfig(pki, api_port, "controller-manager", f"ark-{name}")
    )

    inst.start(
        "etcd",
        [
            str(etcd),
            f"--name=ark-{name}",
            f"--data-dir={inst.directory / 'etcd'}",
            f"--listen-client-urls=http://127.0.0.1:{etcd_port}",
            f"--advertise-client-urls=http://127.0.0.1:{etcd_port}",
            f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
            f"--initial-cluster=ark-{name}=http://127.0.0.1:{peer_port}",
            "--unsafe-no-fsync",  # a throwaway test cluster: durability is not the point
            "--quota-backend-bytes=8589934592",
            "--log-level=warn",
        ],
    )
    procs.wait_until(
        "start etcd", lambda: procs.tcp_open(etcd_port), timeout=30, inst=inst, role="etcd"
    )

    inst.start(
        "kube-apiserver",
        [
            str(apiserver),
            f"--etcd-servers=http://127.0.0.1:{etcd_port}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={api_port}",
            f"--cert-dir={pki}",
            f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--authorization-mode=RBAC",
            "--allow-privileged=true",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            "--api-audiences=https://kubernetes.default.svc.cluster.local",
            "--enable-priority-and-fairness=true",
            "--profiling=false",
            "--v=0",
            *(apiserver_args or []),
        ],
    )
    procs.wait_until(
        "start kube-apiserver", lambda: _ready(inst), timeout=120, inst=inst, role="kube-apiserver"
    )

    kcm_config = str(inst.directory / "controller-manager.kubeconfig")
    inst.start(
        "kube-controller-manager",
        [
            str(kcm),
            f"--kubeconfig={kcm_config}",
            f"--authentication-kubeconfig={kcm_config}",
            f"--authorization-kubeconfig={kcm_config}",
            "--leader-elect=false",
            "--secure-port=0",
            "--controllers=*",
            f"--service-account-private-key-file={pki / 'sa.key'}",
            f"--root-ca-file={pki / 'ca.crt'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--kube-api-qps=200",
            "--kube-api-burst=400",
            "--concurrent-namespace-syncs=10",
            "--concurrent-gc-syncs=40",
            "--v=0",
        ],
    )
    procs.wait_until(
        "start kube-controller-manager (default ServiceAccount appears)",
        lambda: _default_namespaces_ready(inst),
        timeout=120,
        inst=inst,
        role="kube-controller-manager",
    )
    inst.info["started"] = time.time()
    inst.save()
    return inst


def down(name: str) -> list[str]:
    inst = procs.Instance.load(KIND, name)
    stopped = inst.stop()
    shutil.rmtree(inst.directory, ignore_errors=True)
    return stopped


def _names() -> list[str]:
    root = procs.RUN / KIND
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.exists() else []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="hack/cluster",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="start (or reuse) a cluster and print its environment")
    p_up.add_argument("--name", default="default")
    p_up.add_argument("--port", type=int, help="kube-apiserver port (default: a free one)")
    p_up.add_argument(
        "--apiserver-arg",
        action="append",
        default=[],
        metavar="FLAG",
        help="extra kube-apiserver flag, e.g. --apiserver-arg=--feature-gates=X=false (repeatable)",
    )
    p_up.add_argument("--json", action="store_true")
    p_env = sub.add_parser("env", help="print the environment of a running cluster")
    p_env.add_argument("--name", default="default")
    p_env.add_argument("--json", action="store_true")
    p_down = sub.add_parser("down", help="stop a cluster and delete its data")
    p_down.add_argument("--name", default="default")
    p_down.add_argument("--all", action="store_true", help="every cluster hack/cluster started")
    sub.add_parser("status", help="list clusters and whether they run")
    args = parser.parse_args(argv)

    try:
        if args.command == "up":
            started = time.monotonic()
            inst = up(args.name, port=args.port, apiserver_args=args.apiserver_arg)
            print(
                f"cluster {args.name!r} ready in {time.monotonic() - started:.1f}s "
                f"at https://127.0.0.1:{inst.info['port']}",
                file=sys.stderr,
            )
            procs.print_env(env_of(inst), as_json=args.json)
        elif args.command == "env":
            inst = procs.Instance.load(KIND, args.name)
            if not inst.running():
                print(
                    f"cluster {args.name!r} is not running (hack/cluster up --name {args.name})",
                    file=sys.stderr,
                )
                return 1
            procs.print_env(env_of(inst), as_json=args.json)
        elif args.command == "down":
            for name in _names() if args.all else [args.name]:
                stopped = down(name)
                print(
                    f"cluster {name!r}: stopped {', '.join(stopped) or 'nothing (not running)'}",
                    file=sys.stderr,
                )
        else:
            for name in _names():
                inst = procs.Instance.load(KIND, name)
                state = "running" if inst.running() else "stopped"
                print(f"{name}\t{state}\thttps://127.0.0.1:{inst.info.get('port', '?')}")
    except procs.StepError as exc:
        print(f"hack/cluster: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
