"""Local object stores and cloud emulators on 127.0.0.1, each with a bucket ready.

    hack/objstore up   SERVICE [--name NAME] [--json]   start (or reuse) it, print its environment
    hack/objstore env  SERVICE [--name NAME] [--json]
    hack/objstore down SERVICE [--name NAME] | --all
    hack/objstore restart minio [--name NAME]         stop and start again, same port and data
    hack/objstore kill SERVICE [--name NAME]          SIGKILL it, keeping its data (a crash)

SERVICE is one of:
    minio     S3 (MinIO, built with `go install`); credentials from MINIO_ROOT_USER/PASSWORD
              when set, else local defaults; bucket $ARK_BUCKET (default "ark")
    azurite   Azure Blob (Azurite from npm); container $ARK_BUCKET
    fake-gcs  Google Cloud Storage (fake-gcs-server, `go install`); bucket $ARK_BUCKET
    moto      EC2/EBS (moto in server mode, from the project's Python environment), its EBS
              direct APIs extended to every EC2 snapshot as in AWS (hack/fakes/moto_ebs.py)
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from localenv import procs

AZURITE_ACCOUNT = "devstoreaccount1"
# Azurite's published, well-known development key (not a secret).
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def _bucket() -> str:
    return os.environ.get("ARK_BUCKET", "ark")


def _http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - loopback URL
        return bool(200 <= resp.status < 500)


def _minio_up(inst: procs.Instance) -> dict[str, str]:
    """Start MinIO; on an instance that ran before (see ``restart``), on its port and data."""
    binary = procs.binary("minio", "MINIO_VERSION", build_target="minio")
    port = int(inst.info.get("port") or procs.free_port())
    console = procs.free_port()
    user = os.environ.get("MINIO_ROOT_USER", "ark-minio")
    password = os.environ.get("MINIO_ROOT_PASSWORD", "ark-minio-secret")
    inst.info = {"port": port}
    inst.start(
        "minio",
        [
            str(binary),
            "server",
            str(inst.directory / "data"),
            "--address",
            f"127.0.0.1:{port}",
            "--console-address",
            f"127.0.0.1:{console}",
            "--quiet",
        ],
        env={
            "MINIO_ROOT_USER": user,
            "MINIO_ROOT_PASSWORD": password,
            "MINIO_BROWSER": "off",
            "MINIO_UPDATE": "off",
        },
    )
    endpoint = f"http://127.0.0.1:{port}"
    procs.wait_until(
        "start minio",
        lambda: _http_ok(f"{endpoint}/minio/health/ready"),
        timeout=60,
        inst=inst,
        role="minio",
    )
    import boto3  # noqa: PLC0415 - only the MinIO path needs the SDK

    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=user,
        aws_secret_access_key=password,
        region_name="us-east-1",
    )
    try:
        s3.create_bucket(Bucket=_bucket())
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass  # a restart keeps its data
    except Exception as exc:
        raise procs.StepError("create minio bucket", str(exc)) from exc
    return {
        "ARK_S3_ENDPOINT": endpoint,
        "ARK_S3_BUCKET": _bucket(),
        "ARK_S3_ACCESS_KEY_ID": user,
        "ARK_S3_SECRET_ACCESS_KEY": password,
    }


def _azurite_up(inst: procs.Instance) -> dict[str, str]:
    version = procs.VERSIONS["AZURITE_VERSION"]
    exe = procs.ensure_built(
        procs.CACHE / f"azurite-{version}" / "node_modules" / ".bin" / "azurite-blob",
        build_target="azurite",
    )
    port = procs.free_port()
    inst.info = {"port": port}
    (inst.directory / "data").mkdir(parents=True, exist_ok=True)
    # Azurite closes its server on SIGTERM but leaves timers behind, so node never exits and
    # every `down` waited out the 15 s grace period before a SIGKILL. Exit shortly after.
    on_term = inst.directory / "exit-on-sigterm.js"
    on_term.write_text(
        "for (const sig of ['SIGTERM', 'SIGINT']) {\n"
        "  process.once(sig, () => setTimeout(() => process.exit(0), 1000).unref());\n"
        "}\n"
    )
    inst.start(
        "azurite",
        [
            str(exe),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--location",
            str(inst.directory / "data"),
            "--skipApiVersionCheck",
            "--loose",
            "--silent",
        ],
        env={"NODE_OPTIONS": f"--require={on_term}"},
    )
    endpoint = f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"
    procs.wait_until(
        "start azurite", lambda: procs.tcp_open(port), timeout=60, inst=inst, role="azurite"
    )
    conn = (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
        f"AccountKey={AZURITE_KEY};BlobEndpoint={endpoint};"
    )
    from azure.storage.blob import BlobServiceClient  # noqa: PLC0415

    try:
        BlobServiceClient.from_connection_string(conn).create_container(_bucket())
    except Exception as exc:
        raise procs.StepError("create azurite container", str(exc)) from exc
    return {
        "ARK_AZURE_BLOB_ENDPOINT": endpoint,
        "ARK_AZURE_ACCOUNT": AZURITE_ACCOUNT,
        "ARK_AZURE_KEY": AZURITE_KEY,
        "ARK_AZURE_CONNECTION_STRING": conn,
        "ARK_AZURE_CONTAINER": _bucket(),
    }


def _fake_gcs_up(inst: procs.Instance) -> dict[str, str]:
    binary = procs.binary("fake-gcs-server", "FAKE_GCS_VERSION", build_target="fake-gcs")
    port = procs.free_port()
    inst.info = {"port": port}
    data = inst.directory / "data"
    (data / _bucket()).mkdir(parents=True, exist_ok=True)  # preloaded folders become buckets
    inst.start(
        "fake-gcs",
        [
            str(binary),
            "-scheme",
            "http",
            "-host",
            "127.0.0.1",
            "-port",
            str(port),
            "-backend",
            "memory",
            "-public-host",
            f"127.0.0.1:{port}",
            "-data",
            str(data),
            "-log-level",
            "warn",
        ],
    )
    endpoint = f"http://127.0.0.1:{port}"
    procs.wait_until(
        "start fake-gcs-server",
        lambda: _http_ok(f"{endpoint}/storage/v1/b"),
        timeout=60,
        inst=inst,
        role="fake-gcs",
    )
    return {"ARK_GCS_ENDPOINT": endpoint, "ARK_GCS_BUCKET": _bucket()}


def _moto_up(inst: procs.Instance) -> dict[str, str]:
    # moto's server with its EBS direct APIs extended to every EC2 snapshot, as in AWS
    shim = Path(__file__).resolve().parents[1] / "fakes" / "moto_ebs.py"
    if importlib.util.find_spec("moto") is None:
        raise procs.StepError(
            "start moto", "moto missing: run `uv sync` (moto[server] is a dev dependency)"
        )
    port = procs.free_port()
    inst.info = {"port": port}
    inst.start("moto", [sys.executable, str(shim), "-H", "127.0.0.1", "-p", str(port)])
    endpoint = f"http://127.0.0.1:{port}"
    procs.wait_until(
        "start moto", lambda: _http_ok(f"{endpoint}/moto-api/"), timeout=60, inst=inst, role="moto"
    )
    return {"ARK_MOTO_ENDPOINT": endpoint}


SERVICES: dict[str, Callable[[procs.Instance], dict[str, str]]] = {
    "minio": _minio_up,
    "azurite": _azurite_up,
    "fake-gcs": _fake_gcs_up,
    "moto": _moto_up,
}


def up(service: str, name: str) -> dict[str, str]:
    inst = procs.Instance.load(service, name)
    if inst.running() and "env" in inst.info:
        return dict(inst.info["env"])
    inst.stop()
    shutil.rmtree(inst.directory, ignore_errors=True)
    inst = procs.Instance(kind=service, name=name, directory=inst.directory)
    inst.directory.mkdir(parents=True)
    env = SERVICES[service](inst)
    inst.info["env"] = env
    inst.save()
    return env


def restart(service: str, name: str) -> dict[str, str]:
    """Stop a running server and start it again on the same port, keeping its data (MinIO):
    how tests play a store that crashes and comes back."""
    inst = procs.Instance.load(service, name)
    if service != "minio" or "port" not in inst.info:
        raise procs.StepError(f"restart {service}", "only a MinIO started by `up` can restart")
    inst.stop()
    env = SERVICES[service](inst)
    inst.info["env"] = env
    inst.save()
    return env


def down(service: str, name: str) -> list[str]:
    inst = procs.Instance.load(service, name)
    stopped = inst.stop()
    shutil.rmtree(inst.directory, ignore_errors=True)
    return stopped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="hack/objstore",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for command in ("up", "env", "down", "restart", "kill"):
        p = sub.add_parser(command)
        p.add_argument("service", nargs="?", choices=sorted(SERVICES))
        p.add_argument("--name", default="default")
        p.add_argument("--json", action="store_true")
        if command == "down":
            p.add_argument("--all", action="store_true", help="every service hack/objstore started")
    args = parser.parse_args(argv)
    if args.service is None and not (args.command == "down" and args.all):
        parser.error("a SERVICE is required")
    try:
        if args.command == "up":
            started = time.monotonic()
            env = up(args.service, args.name)
            print(
                f"{args.service} {args.name!r} ready in {time.monotonic() - started:.1f}s",
                file=sys.stderr,
            )
            procs.print_env(env, as_json=args.json)
        elif args.command == "kill":
            killed = procs.crash(procs.Instance.load(args.service, args.name))
            print(
                f"{args.service} {args.name!r}: killed {', '.join(killed) or 'nothing'}",
                file=sys.stderr,
            )
        elif args.command == "restart":
            procs.print_env(restart(args.service, args.name), as_json=args.json)
        elif args.command == "env":
            inst = procs.Instance.load(args.service, args.name)
            if not inst.running():
                print(f"{args.service} {args.name!r} is not running", file=sys.stderr)
                return 1
            procs.print_env(inst.info["env"], as_json=args.json)
        else:
            targets = (
                [
                    (s, p.name)
                    for s in SERVICES
                    if (procs.RUN / s).exists()
                    for p in (procs.RUN / s).iterdir()
                ]
                if args.all
                else [(args.service, args.name)]
            )
            for service, name in targets:
                stopped = down(service, name)
                print(
                    f"{service} {name!r}: stopped {', '.join(stopped) or 'nothing'}",
                    file=sys.stderr,
                )
    except procs.StepError as exc:
        print(f"hack/objstore: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
