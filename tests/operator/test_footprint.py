"""The idle operator's footprint: its memory, and the cloud SDKs it loads.

The operator's own process says which modules it imported: ``PYTHONPROFILEIMPORTTIME`` makes
the interpreter write one line for each to stderr (the operator's log), the lazy ones a
location check imports in a thread included. Its memory is read from ``/proc``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ark import control
from ark.kube import KubeClient
from tests.conftest import Cluster, NamespaceFactory, S3Server
from tests.operator.conftest import bsl_body
from tests.operator.harness import Operator, wait_phase

IDLE_LIMIT_MIB = 100
"""An operator with no locations (measured: 82 MiB; the client libraries are most of it)."""
S3_IDLE_LIMIT_MIB = 140
"""With one S3 location checked and synced every second (measured: 120 MiB; 160 MiB when
every store opened parsed the SDK's S3 model again)."""
CLOUD_SDKS = ("boto3", "botocore", "azure", "google.cloud", "google.api_core")
AWS_SDK = ("boto3", "botocore")


@pytest.fixture(autouse=True)
def imports_logged(monkeypatch: pytest.MonkeyPatch) -> None:
    """The operators these tests start write every module they import to their log."""
    monkeypatch.setenv("PYTHONPROFILEIMPORTTIME", "1")


def imported(op: Operator) -> set[str]:
    """Every module the operator's interpreter has imported so far."""
    return set(re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s+(\S+)$", op.log_text(), re.M))


def loaded(modules: set[str], packages: tuple[str, ...]) -> list[str]:
    return sorted({p for p in packages for m in modules if m == p or m.startswith(f"{p}.")})


def rss_mib(op: Operator) -> float:
    assert op.proc is not None
    status = Path(f"/proc/{op.proc.pid}/status").read_text()
    found = re.search(r"^VmRSS:\s+(\d+) kB$", status, re.M)
    assert found is not None, status
    return int(found.group(1)) / 1024


def test_importing_the_operator_loads_no_cloud_sdk() -> None:
    code = "import sys, ark.operator.main; print(' '.join(sys.modules))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded(set(run.stdout.split()), CLOUD_SDKS) == []


@pytest.mark.slow
def test_an_idle_operator_without_locations_stays_small_and_loads_no_cloud_sdk(
    cluster: Cluster, ark_crds: list[str], make_namespace: NamespaceFactory, tmp_path: Path
) -> None:
    op = Operator(
        namespace=make_namespace("ark-idle"), kubeconfig=cluster.kubeconfig, log_dir=tmp_path
    )
    op.start()
    try:
        time.sleep(10)
        modules, rss = imported(op), rss_mib(op)
    finally:
        op.stop()
    assert "ark.operator.main" in modules  # the log does list the operator's imports
    assert loaded(modules, CLOUD_SDKS) == []
    assert rss <= IDLE_LIMIT_MIB, f"idle operator uses {rss:.0f} MiB"


@pytest.mark.slow
def test_an_s3_location_loads_the_aws_sdk_alone_and_checking_it_does_not_grow_memory(
    kube: KubeClient, op_namespace: str, s3_bucket: str, minio: S3Server, operator: Operator
) -> None:
    control.create(kube, control.BSL, op_namespace, bsl_body("default", s3_bucket, minio))
    wait_phase(kube, control.BSL, op_namespace, "default", {"Available"}, timeout=30)
    time.sleep(15)  # checked and synced about 15 times
    status = control.get(kube, control.BSL, op_namespace, "default")
    assert status is not None and status["status"]["phase"] == "Available"
    modules, rss = imported(operator), rss_mib(operator)
    assert loaded(modules, CLOUD_SDKS) == sorted(AWS_SDK)
    assert rss <= S3_IDLE_LIMIT_MIB, f"operator with one S3 location uses {rss:.0f} MiB"
