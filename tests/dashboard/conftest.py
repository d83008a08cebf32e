"""The dashboard against real servers: a real operator makes a schedule's backup (verified,
and tested by the schedule's restore test), a restore (into a namespace where one object
already differs), and keeps the location healthy; the real ``ark dashboard`` runs as a
process; Debian's Chromium, driven by Playwright, reads it.

One world per module: the operator, the backup and the restore take a while on a busy machine,
and each test only reads them (the dry-run test adds its own restore).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from ark import control
from ark.kube import KubeClient
from tests.conftest import Cluster, S3Server, _namespace_factory
from tests.operator.conftest import bsl_body, create_secret
from tests.operator.harness import Operator, strip_finalizers, wait_for, wait_phase
from tests.support.localenv import ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts" / "dashboard"
BACKUP, RESTORE, SCHEDULE = "b1", "r1", "nightly"
REFUSED = "offsite-weekly"
"""A backup naming a location that does not exist: FailedValidation."""
CONFIGMAPS = 4


@dataclass(frozen=True)
class World:
    kubeconfig: str
    namespace: str
    """The operator's namespace (the dashboard's -n)."""
    app: str
    clone: str
    """Where the restore put the app; ``cm-0`` was there already, different."""


def _configmap(kube: KubeClient, namespace: str, name: str, value: str) -> None:
    kube.request(
        "POST",
        f"/api/v1/namespaces/{namespace}/configmaps",
        body={
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name},
            "data": {"value": value},
        },
    )


def ark_argv(kubeconfig: str, namespace: str) -> list[str]:
    return [sys.executable, "-m", "ark.cli.main", "--kubeconfig", kubeconfig, "-n", namespace]


def _ark(kubeconfig: str, namespace: str, *args: str) -> None:
    done = subprocess.run(
        [*ark_argv(kubeconfig, namespace), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"ark {' '.join(args)}: {done.stdout}{done.stderr}"


def _restore_tested(kube: KubeClient, namespace: str) -> str | None:
    """The schedule's restore test verdict once it has one (Passed or Failed)."""
    schedule = control.get(kube, control.SCHEDULE, namespace, SCHEDULE) or {}
    phase = ((schedule.get("status") or {}).get("restoreTest") or {}).get("phase")
    return phase if phase in {"Passed", "Failed"} else None


def _empty_bucket(minio: S3Server, name: str) -> None:
    s3: Any = minio.client()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=name, Delete={"Objects": keys})
    s3.delete_bucket(Bucket=name)


@pytest.fixture(scope="module")
def world(
    cluster: Cluster,
    kube: KubeClient,
    ark_crds: list[str],
    minio: S3Server,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[World]:
    factory = _namespace_factory(cluster)
    make = next(factory)
    bucket = f"ark-dash-{uuid.uuid4().hex[:12]}"
    s3: Any = minio.client()
    s3.create_bucket(Bucket=bucket)
    namespace, app, clone = make("ark-dash"), make("app"), make("app-copy")
    op = Operator(
        namespace=namespace,
        kubeconfig=cluster.kubeconfig,
        log_dir=tmp_path_factory.mktemp("dashboard-operator"),
    )
    try:
        for i in range(CONFIGMAPS):
            _configmap(kube, app, f"cm-{i}", f"value {i}")
        _configmap(kube, clone, "cm-0", "changed since the backup")
        create_secret(kube, namespace, minio)
        op.start()
        control.create(kube, control.BSL, namespace, bsl_body("default", bucket, minio))
        wait_phase(kube, control.BSL, namespace, "default", {"Available"}, timeout=60)
        control.create(
            kube,
            control.SCHEDULE,
            namespace,
            {
                "metadata": {"name": SCHEDULE},
                "spec": {
                    "schedule": "0 3 * * *",
                    "template": {"includedNamespaces": [app]},
                    "restoreTest": {"enabled": True},
                },
            },
        )
        # the schedule's backup taken now (as its cron would at 3:00): it tests it by a restore
        _ark(
            cluster.kubeconfig,
            namespace,
            "backup",
            "create",
            BACKUP,
            "--from-schedule",
            SCHEDULE,
            "--wait",
        )
        _ark(cluster.kubeconfig, namespace, "backup", "verify", BACKUP)
        control.create(  # one the operator refuses, beside it
            kube,
            control.BACKUP,
            namespace,
            {"metadata": {"name": REFUSED}, "spec": {"storageLocation": "offsite"}},
        )
        wait_phase(kube, control.BACKUP, namespace, REFUSED, {"FailedValidation"})
        control.create(
            kube,
            control.RESTORE,
            namespace,
            {
                "metadata": {"name": RESTORE},
                "spec": {"backupName": BACKUP, "namespaceMapping": {app: clone}},
            },
        )
        wait_phase(
            kube, control.RESTORE, namespace, RESTORE, {"Completed", "PartiallyFailed"}, timeout=120
        )
        wait_for(
            lambda: _restore_tested(kube, namespace),
            timeout=120,
            what="the schedule's restore test of its backup",
        )
        yield World(cluster.kubeconfig, namespace, app, clone)
    finally:
        op.stop()
        strip_finalizers(kube, namespace)
        next(factory, None)  # deletes the namespaces
        _empty_bucket(minio, bucket)


@dataclass(frozen=True)
class Dashboard:
    url: str
    """``http://127.0.0.1:PORT/``"""
    port: int
    proc: subprocess.Popen[str]


@pytest.fixture(scope="module")
def dashboard(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    """``ark dashboard --port 0`` as a process: its first line on stdout is its URL."""
    log = tmp_path_factory.mktemp("dashboard") / "stderr.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARK_", "KUBECONFIG"))}
    with log.open("w") as err:
        proc = subprocess.Popen(
            [*ark_argv(world.kubeconfig, world.namespace), "dashboard", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            cwd=ROOT,
            env=env,
        )
    first: list[str] = []
    reader = threading.Thread(target=lambda: first.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout=60)
    try:
        assert first and first[0].startswith("ark dashboard: http://127.0.0.1:"), (
            f"first line {first!r}; stderr: {log.read_text()}"
        )
        url = first[0].split()[2]
        assert first[0].rstrip().endswith("(Ctrl-C to stop)")
        yield Dashboard(url=url, port=int(url.rstrip("/").rsplit(":", 1)[1]), proc=proc)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium (never a browser Playwright downloads). Missing, the test fails: the
    dashboard is tested in CI, and hack/setup installs it."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run hack/setup (it installs Debian's chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    opened = browser.new_page(viewport={"width": 1440, "height": 420})
    yield opened
    opened.close()


def screenshot(page: Page, name: str) -> None:
    """A full-page screenshot kept as a test artifact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
