"""Waiting for CustomResourceDefinitions to serve."""

from __future__ import annotations

import time
from collections.abc import Iterable

from ark.kube.client import KubeClient
from ark.kube.errors import KubeApiError

CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def established(crd: dict[str, object]) -> bool:
    status = crd.get("status")
    conditions = status.get("conditions") if isinstance(status, dict) else None
    return any(
        isinstance(c, dict) and c.get("type") == "Established" and c.get("status") == "True"
        for c in conditions or ()
    )


def wait_established(
    client: KubeClient, names: Iterable[str], *, timeout: float = 60.0, every: float = 0.2
) -> set[str]:
    """Wait until every named CRD is Established; returns those that were not within
    ``timeout`` (a CRD that cannot be read counts as not yet)."""
    pending = set(names)
    deadline = time.monotonic() + timeout
    while pending:
        for name in sorted(pending):
            try:
                if established(client.get(f"{CRD_PATH}/{name}")):
                    pending.discard(name)
            except KubeApiError:
                continue
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(every)
    return pending
