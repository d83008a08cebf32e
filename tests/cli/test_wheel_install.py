"""ark installed from its built wheel into a fresh virtualenv, run outside any checkout:
``ark install`` applies the operator from the manifests the wheel carries — the same objects
the repository's deploy/base renders — and ``ark uninstall`` removes them again."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ark.cli import kustomize
from ark.kube import KubeClient, KubeError
from tests.conftest import Cluster
from tests.support.installed import CLUSTER_WIDE
from tests.support.localenv import ROOT


@pytest.fixture(scope="module")
def wheel_ark(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``ark`` from a wheel built from this checkout, in a venv of its own."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(["uv", "build", "--wheel", "--out-dir", str(out)], cwd=ROOT, check=True)
    (wheel,) = out.glob("ark-*.whl")
    venv = out / "venv"
    subprocess.run(["uv", "venv", "-q", str(venv), "--python", sys.executable], check=True)
    python = str(venv / "bin" / "python")
    subprocess.run(["uv", "pip", "install", "-q", "--python", python, str(wheel)], check=True)
    return venv / "bin" / "ark"


def _run(ark: Path, cwd: Path, kubeconfig: str, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARK_", "VIRTUAL_ENV"))}
    env["KUBECONFIG"] = kubeconfig
    done = subprocess.run(
        [str(ark), *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, (args, done.stderr)
    return done.stdout


def _objects(rendered: str) -> list[dict[str, Any]]:
    return sorted(
        (d for d in yaml.safe_load_all(rendered) if d),
        key=lambda d: (d["kind"], d["metadata"]["name"]),
    )


@pytest.fixture
def scratch_namespace(kube: KubeClient) -> Iterator[str]:
    """A namespace name for the install to create; afterwards neither it nor a cluster-wide
    object of the install is left, even when the test failed half way (another test's
    cluster-wide objects are suffixed)."""
    name = f"wheel-{uuid.uuid4().hex[:8]}"
    yield name
    with contextlib.suppress(KubeError):
        kube.request("DELETE", f"/api/v1/namespaces/{name}")
    for obj in kustomize.render(kustomize.default_deploy_dir(), namespace=name):
        path = CLUSTER_WIDE.get(obj["kind"])
        if path is not None:
            with contextlib.suppress(KubeError):
                kube.request("DELETE", f"{path}/{obj['metadata']['name']}")


def test_the_wheel_carries_the_same_operator_as_the_checkout(
    wheel_ark: Path, tmp_path: Path, cluster: Cluster
) -> None:
    flags = ["install", "--provider", "aws", "--bucket", "b", "--config", "region=us-east-1"]
    from_wheel = _run(wheel_ark, tmp_path, cluster.kubeconfig, *flags, "--dry-run")
    checkout_ark = Path(sys.executable).parent / "ark"
    from_checkout = _run(checkout_ark, ROOT, cluster.kubeconfig, *flags, "--dry-run")
    assert _objects(from_wheel) == _objects(from_checkout)
    kinds = [d["kind"] for d in _objects(from_wheel)]
    assert kinds.count("CustomResourceDefinition") == 6 and "Deployment" in kinds


def test_install_and_uninstall_from_the_wheel(
    wheel_ark: Path,
    tmp_path: Path,
    cluster: Cluster,
    kube: KubeClient,
    ark_crds: list[str],
    scratch_namespace: str,
) -> None:
    ns = scratch_namespace
    flags = ["--provider", "aws", "--bucket", "b", "--config", "region=us-east-1", "-n", ns]
    out = _run(wheel_ark, tmp_path, cluster.kubeconfig, "install", *flags)
    assert f"ark installed in namespace {ns}" in out
    deployment = kube.get(f"/apis/apps/v1/namespaces/{ns}/deployments/ark")
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "ark"
    bsl = kube.get(f"/apis/ark.dev/v1/namespaces/{ns}/backupstoragelocations/default")
    assert bsl["spec"]["objectStorage"]["bucket"] == "b"
    version = _run(wheel_ark, tmp_path, cluster.kubeconfig, "version", "-n", ns)
    assert "CRDs:   installed" in version and f"Operator: ark in {ns}" in version

    out = _run(
        wheel_ark, tmp_path, cluster.kubeconfig, "uninstall", "--keep-crds", "--confirm", "-n", ns
    )
    assert f"ark uninstalled from namespace {ns}" in out
    with pytest.raises(KubeError):
        kube.get(f"/apis/apps/v1/namespaces/{ns}/deployments/ark")
