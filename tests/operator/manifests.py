"""deploy/base as kustomize would render it for a namespace — enough of kustomize (resources
list, namespace override, ClusterRoleBinding subjects) to apply its RBAC in a test."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import yaml

from tests.support.localenv import ROOT

BASE = ROOT / "deploy" / "base"
CLUSTER_KINDS = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
}


def load(*, namespace: str, suffix: str = "") -> list[dict[str, Any]]:
    """Every object of deploy/base in ``namespace``; cluster-scoped names get ``suffix`` so
    tests do not collide (role refs follow)."""
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    objects: list[dict[str, Any]] = []
    for entry in kustomization["resources"]:
        objects.extend(d for d in yaml.safe_load_all((BASE / entry).read_text()) if d)
    for obj in objects:
        kind = obj["kind"]
        if kind not in CLUSTER_KINDS:
            obj["metadata"]["namespace"] = namespace
        if kind in {"ClusterRole", "ClusterRoleBinding"}:
            obj["metadata"]["name"] += suffix
        if kind in {"ClusterRoleBinding", "RoleBinding"}:
            if obj["roleRef"]["kind"] == "ClusterRole":
                obj["roleRef"]["name"] += suffix
            for subject in obj.get("subjects") or []:
                if subject["kind"] == "ServiceAccount":
                    subject["namespace"] = namespace
    return objects


def kubeconfig_for_token(admin_kubeconfig: str, token: str, path: Path) -> Path:
    """A kubeconfig with the admin one's cluster (server, CA) and a bearer token user."""
    admin = yaml.safe_load(Path(admin_kubeconfig).read_text())
    cluster = admin["clusters"][0]
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [cluster],
        "users": [{"name": "ark-sa", "user": {"token": token}}],
        "contexts": [{"name": "ark-sa", "context": {"cluster": cluster["name"], "user": "ark-sa"}}],
        "current-context": "ark-sa",
    }
    path.write_text(json.dumps(config))
    path.chmod(0o600)
    return path


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
