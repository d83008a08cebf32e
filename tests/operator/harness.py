"""The operator as a real process (``python -m ark.operator``) and helpers to drive its CRs."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ark import control
from ark.api import kinds
from ark.kube import KubeClient
from tests.support.localenv import ROOT

T = TypeVar("T")

FAST = {
    "--progress-interval": "0.2",
    "--gc-interval": "1",
    "--location-interval": "0.5",
    "--schedule-interval": "0.5",
    "--default-location-period": "2",
    "--lease-duration": "4",
    "--lease-renew-deadline": "3",
    "--lease-retry-period": "0.5",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Operator:
    """One operator process for one namespace; restartable, killable."""

    def __init__(
        self, *, namespace: str, kubeconfig: str, log_dir: Path, extra: dict[str, str] | None = None
    ) -> None:
        self.namespace = namespace
        self.kubeconfig = kubeconfig
        self.log_dir = log_dir
        self.extra = {**FAST, **(extra or {})}
        self.metrics_port = free_port()
        self.health_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.identity = f"op-{uuid.uuid4().hex[:8]}"
        """This operator's name in the leader-election lease, the same across its restarts."""

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"operator-{self.namespace}-{self.starts}.log"

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None
        self.starts += 1
        argv = [
            sys.executable,
            "-m",
            "ark.operator",
            "--namespace",
            self.namespace,
            "--kubeconfig",
            self.kubeconfig,
            "--bind-address",
            "127.0.0.1",
            "--metrics-port",
            str(self.metrics_port),
            "--health-port",
            str(self.health_port),
            "--leader-identity",
            self.identity,
        ]
        for flag, value in self.extra.items():
            argv += [flag, value]
        env = {k: v for k, v in os.environ.items() if not k.startswith("ARK_")}
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env
            )
        wait_for(self.healthy, timeout=30, what=f"operator healthy ({self.log_path})")

    def healthy(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            raise AssertionError(f"operator exited: {self.log_text()[-3000:]}")
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.health_port}/healthz", timeout=1
            ) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False

    def metrics(self) -> str:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5
        ) as resp:
            return str(resp.read().decode())

    def log_text(self) -> str:
        return "\n".join(
            p.read_text(errors="replace")
            for p in sorted(self.log_dir.glob(f"operator-{self.namespace}-*.log"))
        )

    def kill(self) -> None:
        """SIGKILL: no cleanup, no last patches."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def wait_for(check: Callable[[], T | None], *, timeout: float, what: str, every: float = 0.2) -> T:
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def get(kube: KubeClient, kind: kinds.Kind, namespace: str, name: str) -> dict[str, Any] | None:
    return control.get(kube, kind, namespace, name)


def status(kube: KubeClient, kind: kinds.Kind, namespace: str, name: str) -> dict[str, Any]:
    obj = control.get(kube, kind, namespace, name)
    return (obj or {}).get("status") or {}


def phase(kube: KubeClient, kind: kinds.Kind, namespace: str, name: str) -> str | None:
    value = status(kube, kind, namespace, name).get("phase")
    return None if value is None else str(value)


def wait_phase(
    kube: KubeClient,
    kind: kinds.Kind,
    namespace: str,
    name: str,
    phases: set[str],
    *,
    timeout: float = 60,
) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        obj = control.get(kube, kind, namespace, name)
        if obj and (obj.get("status") or {}).get("phase") in phases:
            return obj
        return None

    try:
        return wait_for(reached, timeout=timeout, what=f"{kind.kind} {name} in {sorted(phases)}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; status: {status(kube, kind, namespace, name)}") from None


def wait_gone(
    kube: KubeClient,
    kind: kinds.Kind,
    namespace: str,
    name: str,
    *,
    timeout: float = 60,
    uid: str | None = None,
) -> None:
    """Wait until the object is gone; with ``uid``, until that object is gone, even when a
    new one of the same name (backup sync's, say) took its place before a look saw the gap."""

    def gone() -> bool:
        obj = control.get(kube, kind, namespace, name)
        return obj is None or (uid is not None and obj["metadata"]["uid"] != uid)

    wait_for(gone, timeout=timeout, what=f"{kind.kind} {name} deleted")


def events(kube: KubeClient, namespace: str, name: str) -> list[dict[str, Any]]:
    found = kube.get(
        f"/api/v1/namespaces/{namespace}/events",
        query={"fieldSelector": f"involvedObject.name={name}"},
    )
    return list(found.get("items") or [])


def event_reasons(kube: KubeClient, namespace: str, name: str) -> set[str]:
    return {str(e.get("reason")) for e in events(kube, namespace, name)}


def strip_finalizers(kube: KubeClient, namespace: str) -> None:
    """Let a test namespace go even when its operator is gone."""
    for kind in kinds.ALL_KINDS:
        for obj in control.list_objects(kube, kind, namespace):
            if obj["metadata"].get("finalizers"):
                control.patch(
                    kube,
                    kind,
                    namespace,
                    obj["metadata"]["name"],
                    {"metadata": {"finalizers": None}},
                )


def wait_event(kube: KubeClient, namespace: str, name: str, *reasons: str) -> None:
    """Events are posted asynchronously: wait for each reason to appear on ``name``."""
    wait_for(
        lambda: set(reasons) <= event_reasons(kube, namespace, name),
        timeout=15,
        what=f"events {reasons} on {name}",
    )
