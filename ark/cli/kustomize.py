"""Render a kustomize base in Python, for ``ark install`` (no kustomize binary needed).

Supported: ``resources`` (files, and directories with their own kustomization.yaml),
``namespace``, ``commonLabels``, ``labels`` (pairs), ``commonAnnotations`` and ``images``.
Anything else is refused by name rather than silently ignored.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from ark.cli.context import CliError, Obj

KUSTOMIZATION = "kustomization.yaml"
SUPPORTED = {
    "apiVersion",
    "kind",
    "resources",
    "namespace",
    "commonLabels",
    "labels",
    "commonAnnotations",
    "images",
}
CLUSTER_SCOPED = {
    "Namespace",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleBinding",
    "PriorityClass",
    "StorageClass",
    "PersistentVolume",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "APIService",
}
_POD_TEMPLATES = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


def load_documents(path: Path) -> list[Obj]:
    try:
        text = path.read_text(encoding="utf-8")
        return [d for d in yaml.safe_load_all(text) if d]
    except (OSError, yaml.YAMLError) as exc:
        raise CliError(f"cannot read {path}: {exc}") from None


def render(directory: Path, *, namespace: str | None = None) -> list[Obj]:
    """The objects of the kustomization in ``directory``; ``namespace`` overrides its own."""
    path = directory / KUSTOMIZATION
    if not path.is_file():
        raise CliError(f"no {KUSTOMIZATION} in {directory}")
    docs = load_documents(path)
    spec: Obj = docs[0] if docs else {}
    unknown = sorted(set(spec) - SUPPORTED)
    if unknown:
        raise CliError(f"{path}: ark install cannot render {', '.join(unknown)}")
    objs: list[Obj] = []
    for entry in spec.get("resources") or []:
        target = (directory / str(entry)).resolve()
        if target.is_dir():
            objs.extend(render(target))
        else:
            objs.extend(load_documents(target))
    base_namespace = spec.get("namespace")
    labels = dict(spec.get("commonLabels") or {})
    for group in spec.get("labels") or []:
        labels.update(group.get("pairs") or {})
    out = [copy.deepcopy(o) for o in objs]
    for obj in out:
        _label(obj, labels, pod_templates="commonLabels" in spec)
        _annotate(obj, dict(spec.get("commonAnnotations") or {}))
        _images(obj, spec.get("images") or [])
    wanted = namespace or base_namespace
    if wanted:
        for obj in out:
            set_namespace(obj, wanted, previous=base_namespace)
    return out


def _label(obj: Obj, labels: dict[str, str], *, pod_templates: bool) -> None:
    if not labels:
        return
    obj.setdefault("metadata", {}).setdefault("labels", {}).update(labels)
    if pod_templates and obj.get("kind") in _POD_TEMPLATES:
        template = obj.setdefault("spec", {}).setdefault("template", {})
        template.setdefault("metadata", {}).setdefault("labels", {}).update(labels)


def _annotate(obj: Obj, annotations: dict[str, str]) -> None:
    if annotations:
        obj.setdefault("metadata", {}).setdefault("annotations", {}).update(annotations)


def _images(obj: Obj, images: list[Obj]) -> None:
    if not images or obj.get("kind") not in _POD_TEMPLATES:
        return
    pod = (obj.get("spec") or {}).get("template", {}).get("spec") or {}
    for container in [*(pod.get("containers") or []), *(pod.get("initContainers") or [])]:
        image = str(container.get("image", ""))
        name = image.split("@", maxsplit=1)[0]
        if ":" in name.rsplit("/", 1)[-1]:
            name = name.rsplit(":", 1)[0]
        for rule in images:
            if rule.get("name") != name:
                continue
            new = rule.get("newName") or name
            if rule.get("digest"):
                container["image"] = f"{new}@{rule['digest']}"
            else:
                tag = rule.get("newTag") or _tag(image)
                container["image"] = f"{new}:{tag}" if tag else new


def _tag(image: str) -> str:
    last = image.split("@", maxsplit=1)[0].rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else ""


def set_namespace(obj: Obj, namespace: str, *, previous: str | None) -> None:
    """Move a namespaced object (and ServiceAccount subjects of bindings) to ``namespace``;
    a Namespace object of the base's namespace is renamed."""
    meta = obj.setdefault("metadata", {})
    kind = obj.get("kind")
    if kind == "Namespace":
        if previous is None or meta.get("name") == previous:
            meta["name"] = namespace
        return
    if kind not in CLUSTER_SCOPED:
        meta["namespace"] = namespace
    if kind in {"RoleBinding", "ClusterRoleBinding"}:
        for subject in obj.get("subjects") or []:
            if subject.get("kind") == "ServiceAccount" and subject.get("namespace") in (
                None,
                previous,
            ):
                subject["namespace"] = namespace


def default_deploy_dir() -> Path:
    """The operator's kustomize base: the copy a wheel carries (``ark/_deploy/base``), else
    the repository's ``deploy/base`` next to the ``ark`` package (a checkout)."""
    package = Path(__file__).resolve().parents[1]
    packaged = package / "_deploy" / "base"
    return packaged if packaged.is_dir() else package.parent / "deploy" / "base"
