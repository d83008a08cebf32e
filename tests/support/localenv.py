"""Bring up the real servers the tests run against, through the same hack/ scripts users run.

Nothing here fakes a server: if a binary cannot be built or a server cannot start, the test
session fails with the step that broke (never a skip).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HACK = ROOT / "hack"


@dataclass(frozen=True)
class Started:
    """A service a test session uses, and whether this session must stop it afterwards."""

    env: dict[str, str]
    owned: bool


def _run(argv: list[str], *, step: str) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=ROOT)
    if result.returncode != 0:
        pytest.fail(
            f"{step} failed ({' '.join(argv)}, exit {result.returncode}):\n"
            f"{result.stderr.strip()[-4000:]}",
            pytrace=False,
        )
    return result.stdout


def _already_running(argv: list[str]) -> dict[str, str] | None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=ROOT)
    return dict(json.loads(result.stdout)) if result.returncode == 0 else None


def cluster_up(name: str, *, apiserver_args: Sequence[str] = ()) -> Started:
    env = _already_running([str(HACK / "cluster"), "env", "--name", name, "--json"])
    if env is not None:
        return Started(env=env, owned=False)
    extra = [f"--apiserver-arg={a}" for a in apiserver_args]
    out = _run(
        [str(HACK / "cluster"), "up", "--name", name, "--json", *extra],
        step=f"hack/cluster up {name}",
    )
    return Started(env=dict(json.loads(out)), owned=True)


def cluster_down(name: str) -> None:
    _run([str(HACK / "cluster"), "down", "--name", name], step=f"hack/cluster down {name}")


def test_servers() -> str:
    """The name of this session's servers: ``$ARK_TEST_CLUSTER`` or ``ark-test``. Sessions
    with different names share none (a session stops the servers it started when it ends)."""
    return os.environ.get("ARK_TEST_CLUSTER") or "ark-test"


def helm() -> Path:
    """The helm binary, built from its Go module by ``hack/build-tools helm`` if missing."""
    where = 'source "$1" && printf %s "$ARK_BIN/helm-$HELM_VERSION"'
    path = Path(_run(["bash", "-c", where, "-", str(HACK / "versions.sh")], step="helm's path"))
    if not path.exists():
        _run([str(HACK / "build-tools"), "helm"], step="hack/build-tools helm")
    return path


def promtool() -> Path:
    """Prometheus' promtool, built from its Go module by ``hack/build-tools promtool`` if
    missing."""
    where = 'source "$1" && printf %s "$ARK_BIN/promtool-$PROMETHEUS_VERSION"'
    path = Path(_run(["bash", "-c", where, "-", str(HACK / "versions.sh")], step="promtool's path"))
    if not path.exists():
        _run([str(HACK / "build-tools"), "promtool"], step="hack/build-tools promtool")
    return path


def objstore_up(service: str, name: str) -> Started:
    env = _already_running([str(HACK / "objstore"), "env", service, "--name", name, "--json"])
    if env is not None:
        return Started(env=env, owned=False)
    out = _run(
        [str(HACK / "objstore"), "up", service, "--name", name, "--json"],
        step=f"hack/objstore up {service}",
    )
    return Started(env=dict(json.loads(out)), owned=True)


def objstore_down(service: str, name: str) -> None:
    _run(
        [str(HACK / "objstore"), "down", service, "--name", name],
        step=f"hack/objstore down {service}",
    )


def objstore_kill(service: str, name: str) -> None:
    """SIGKILL a server (a crash); its data stays for ``objstore_restart``."""
    _run([str(HACK / "objstore"), "kill", service, "--name", name], step=f"kill {service}")


def objstore_restart(service: str, name: str) -> dict[str, str]:
    out = _run(
        [str(HACK / "objstore"), "restart", service, "--name", name, "--json"],
        step=f"hack/objstore restart {service}",
    )
    return dict(json.loads(out))


def csi_up(cluster: str, *, driver_of: str | None = None) -> Started:
    """The CSI snapshot stack (CRDs, snapshot-controller, sidecars, driver) for ``cluster``;
    with ``driver_of``, its sidecars use that cluster's driver (one storage, two clusters)."""
    if driver_of is None:
        env = _already_running([str(HACK / "csi"), "env", "--cluster", cluster, "--json"])
        if env is not None:
            return Started(env=env, owned=False)
    shared = ["--driver-of", driver_of] if driver_of else []
    out = _run(
        [str(HACK / "csi"), "up", "--cluster", cluster, *shared, "--json"], step="hack/csi up"
    )
    return Started(env=dict(json.loads(out)), owned=True)


def csi_down(cluster: str) -> None:
    _run([str(HACK / "csi"), "down", "--cluster", cluster], step="hack/csi down")
