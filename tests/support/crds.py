"""Install ark's generated CRDs into a test cluster and wait until they serve."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

from tests.support.localenv import ROOT

CRD_DIR = ROOT / "crds"


def load_crds(directory: Path = CRD_DIR) -> list[dict[str, Any]]:
    return [yaml.safe_load(p.read_text()) for p in sorted(directory.glob("*.yaml"))]


def install(api: client.ApiClient, *, timeout: float = 60) -> list[str]:
    """Create or replace every CRD in crds/; return their names once all are Established."""
    ext = client.ApiextensionsV1Api(api)
    names = []
    for crd in load_crds():
        name = crd["metadata"]["name"]
        names.append(name)
        try:
            live = ext.read_custom_resource_definition(name)
        except client.ApiException as exc:
            if exc.status != 404:
                raise
            ext.create_custom_resource_definition(crd)  # type: ignore[arg-type]
        else:
            crd["metadata"]["resourceVersion"] = live.metadata.resource_version
            ext.replace_custom_resource_definition(name, crd)  # type: ignore[arg-type]
    deadline = time.monotonic() + timeout
    pending = set(names)
    while pending and time.monotonic() < deadline:
        for name in sorted(pending):
            conditions = ext.read_custom_resource_definition(name).status.conditions or []
            if any(c.type == "Established" and c.status == "True" for c in conditions):
                pending.discard(name)
        time.sleep(0.2)
    if pending:
        raise AssertionError(f"CRDs not Established after {timeout}s: {sorted(pending)}")
    return names
