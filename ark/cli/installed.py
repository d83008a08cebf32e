"""What a cluster runs, for ``ark version``: Kubernetes, ark's CRDs, and the operator
Deployment (its image and version label)."""

from __future__ import annotations

from typing import Any

from ark.api import kinds
from ark.cli import common, context
from ark.cli.context import Obj
from ark.kube import KubeApiError, KubeClient

_CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
VERSION_LABEL = "app.kubernetes.io/version"
VERSION_ANNOTATION = "ark.dev/version"


def crds_installed(client: KubeClient) -> dict[str, bool]:
    out = {}
    for kind in kinds.ALL_KINDS:
        try:
            client.get(f"{_CRD_PATH}/{kind.crd_name}")
            out[kind.crd_name] = True
        except KubeApiError as exc:
            if not exc.not_found:
                raise
            out[kind.crd_name] = False
    return out


def _runs_operator(deployment: Obj) -> bool:
    pod = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    for container in pod.get("containers") or []:
        words = [*container.get("command", []), *container.get("args", [])]
        if any("ark.operator" in str(w) for w in words):
            return True
    labels = deployment["metadata"].get("labels") or {}
    return labels.get("app.kubernetes.io/name") == "ark"


def operator_deployments(client: KubeClient, namespace: str) -> list[Obj]:
    found = client.get(f"/apis/apps/v1/namespaces/{namespace}/deployments")
    return [d for d in found.get("items") or [] if _runs_operator(d)]


def describe_deployment(deployment: Obj) -> dict[str, Any]:
    meta = deployment["metadata"]
    pod = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    images = [c.get("image") for c in pod.get("containers") or []]
    status = deployment.get("status") or {}
    replicas = (deployment.get("spec") or {}).get("replicas", 1)
    version = (meta.get("annotations") or {}).get(VERSION_ANNOTATION) or (
        meta.get("labels") or {}
    ).get(VERSION_LABEL)
    return {
        "deployment": meta["name"],
        "version": version,
        "images": images,
        "ready": f"{status.get('readyReplicas', 0)}/{replicas}",
    }


def server_report(s: context.Settings) -> dict[str, Any]:
    """The ``server`` part of ``ark version``'s report."""
    client = s.client()
    with common.api_errors():
        kube = client.version()
        installed = crds_installed(client)
        deployments = [describe_deployment(d) for d in operator_deployments(client, s.namespace)]
    return {
        "kubernetes": kube.get("gitVersion"),
        "server": client.server,
        "crdsInstalled": all(installed.values()),
        "crdsMissing": [n for n, ok in installed.items() if not ok],
        "namespace": s.namespace,
        "operator": deployments,
    }
