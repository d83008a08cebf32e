"""CLI tests: the real ``ark`` command in a subprocess (pipes, or a pseudo-terminal) against the
real API server; the operator, where a test needs one, runs as a real process too."""

from __future__ import annotations

import dataclasses
import errno
import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ark import control
from ark.kube import KubeClient
from tests.conftest import Cluster, NamespaceFactory, S3Server
from tests.operator.conftest import bsl_body, create_secret
from tests.operator.harness import Operator, strip_finalizers, wait_phase
from tests.support.localenv import ROOT

ANSI = "\x1b["


@dataclasses.dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


def _env(namespace: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARK_", "KUBECONFIG"))}
    env.update(NO_COLOR="", TERM="xterm-256color", COLUMNS="120")
    env.pop("NO_COLOR")
    if namespace:
        env["ARK_NAMESPACE"] = namespace
    return env


class Ark:
    """Runs ``python -m ark.cli.main`` with a kubeconfig and an operator namespace."""

    def __init__(self, *, kubeconfig: str, namespace: str | None) -> None:
        self.kubeconfig = kubeconfig
        self.namespace = namespace

    def argv(self, args: tuple[str, ...]) -> list[str]:
        return [sys.executable, "-m", "ark.cli.main", "--kubeconfig", self.kubeconfig, *args]

    def __call__(self, *args: str, stdin: str = "", timeout: float = 120) -> Result:
        done = subprocess.run(
            self.argv(args),
            input=stdin,
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=_env(self.namespace),
            timeout=timeout,
            check=False,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    def ok(self, *args: str) -> Result:
        result = self(*args)
        assert result.code == 0, f"ark {' '.join(args)} -> {result.code}\n{result.out}{result.err}"
        return result

    def in_terminal(self, *args: str, timeout: float = 120) -> Result:
        """Run in a pseudo-terminal (stdout and stderr both on it); ``out`` holds everything."""
        main, child = pty.openpty()
        proc = subprocess.Popen(
            self.argv(args),
            stdin=child,
            stdout=child,
            stderr=child,
            cwd=ROOT,
            env=_env(self.namespace),
            close_fds=True,
        )
        os.close(child)
        chunks: list[bytes] = []
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                ready, _, _ = select.select([main], [], [], 0.2)
                if ready:
                    try:
                        data = os.read(main, 65536)
                    except OSError as exc:  # EIO: the child closed the terminal
                        if exc.errno != errno.EIO:
                            raise
                        break
                    if not data:
                        break
                    chunks.append(data)
                elif proc.poll() is not None:
                    break
            code = proc.wait(timeout=max(deadline - time.monotonic(), 1))
        finally:
            os.close(main)
            if proc.poll() is None:
                proc.kill()
        return Result(code, b"".join(chunks).decode("utf-8", "replace"), "")


@pytest.fixture
def ark_ns(make_namespace: NamespaceFactory, ark_crds: list[str]) -> str:
    """An operator namespace with ark's CRDs installed (no operator running)."""
    return make_namespace("ark-cli")


@pytest.fixture
def ark(cluster: Cluster, ark_ns: str) -> Ark:
    return Ark(kubeconfig=cluster.kubeconfig, namespace=ark_ns)


@pytest.fixture
def unreachable_kubeconfig(cluster: Cluster, tmp_path: Path) -> str:
    """The test cluster's kubeconfig pointing at a port nothing listens on."""
    text = Path(cluster.kubeconfig).read_text()
    port = cluster.server.rsplit(":", 1)[1]
    path = tmp_path / "unreachable.kubeconfig"
    path.write_text(text.replace(f":{port}", ":1"))
    return str(path)


@pytest.fixture
def running_operator(
    cluster: Cluster, kube: KubeClient, ark_ns: str, tmp_path: Path
) -> Iterator[Operator]:
    op = Operator(namespace=ark_ns, kubeconfig=cluster.kubeconfig, log_dir=tmp_path)
    op.start()
    yield op
    op.stop()
    strip_finalizers(kube, ark_ns)


@pytest.fixture
def default_location(
    kube: KubeClient, ark_ns: str, minio: S3Server, s3_bucket: str, running_operator: Operator
) -> str:
    """A credential Secret and an Available default BackupStorageLocation on MinIO."""
    create_secret(kube, ark_ns, minio)
    control.create(kube, control.BSL, ark_ns, bsl_body("default", s3_bucket, minio))
    wait_phase(kube, control.BSL, ark_ns, "default", {"Available"}, timeout=30)
    return "default"


@pytest.fixture
def app_namespace(kube: KubeClient, make_namespace: NamespaceFactory) -> str:
    """A namespace with a few ConfigMaps to back up."""
    namespace = make_namespace("app")
    for i in range(8):
        kube.request(
            "POST",
            f"/api/v1/namespaces/{namespace}/configmaps",
            body={
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"cm-{i}"},
                "data": {"i": str(i)},
            },
        )
    return namespace
