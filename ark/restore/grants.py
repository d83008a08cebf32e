"""Cluster-wide grants follow a clone: the clone's subjects get a ClusterRoleBinding of their
own, and the original's binding is never touched.

A ClusterRoleBinding is one per cluster, but a clone (``namespaceMapping``) needs the grant for
its own ServiceAccounts. Restored under the original's name it would either be skipped (it
exists: the clone gets nothing) or take the original over (subjects moved: the original loses
it). So a binding with a subject in a mapping's target namespace is carried over as a new
ClusterRoleBinding (``clone_name``): the same roleRef, those subjects only, labelled with the
restore (``velero.io/restore-name``, as Velero labels what it restores) and annotated with the
original's name (``ark.dev/cloned-from``). The original's name is never written by a clone, in
this cluster or another: the other subjects keep their grant through the original binding
where it exists, and are named in a warning where it does not.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ark.kube import KubeApiError, KubeClient, object_path
from ark.restore.apply import Applied, Outcome

CLUSTER_ROLE_BINDINGS = "clusterrolebindings.rbac.authorization.k8s.io"
RESTORE_LABEL = "velero.io/restore-name"
CLONED_FROM = "ark.dev/cloned-from"
"""Annotation (a name may be longer than a label value) naming the binding this one copies."""
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_MAX_NAME = 253
_LISTED = 5


@dataclass(frozen=True)
class ClonedBinding:
    """The ClusterRoleBinding a clone gets in place of ``original``."""

    original: str
    body: dict[str, Any]
    left_out: tuple[str, ...]
    """The original's other subjects (described), which stay with the original binding."""

    @property
    def name(self) -> str:
        name: str = self.body["metadata"]["name"]
        return name

    @property
    def subjects(self) -> tuple[str, ...]:
        return tuple(describe(s) for s in self.body["subjects"])


def clone_name(original: str, targets: Iterable[str]) -> str:
    """``<original>-<8 hex>``, the hex from sha256 over the original's name and the sorted
    target namespaces of its cloned subjects: a restore run again gets the same name, a clone
    into other namespaces another. The original is cut so the whole fits 253 characters (the
    hash covers its full name, so two long names cut alike still differ)."""
    digest = hashlib.sha256("\n".join([original, *sorted(set(targets))]).encode()).hexdigest()
    return f"{original[: _MAX_NAME - 9]}-{digest[:8]}"


def label_value(value: str) -> str:
    """``value`` as a label value, cut as Velero cuts one: longer than 63 characters, it keeps
    its first 57 and ends with 6 hex of its sha256."""
    if len(value) <= 63:
        return value
    return value[:57] + hashlib.sha256(value.encode()).hexdigest()[:6]


def describe(subject: Mapping[str, Any]) -> str:
    """``ServiceAccount shop-staging/app``, ``User alice``."""
    ns = subject.get("namespace")
    return f"{subject.get('kind', '?')} {ns + '/' if ns else ''}{subject.get('name', '')}"


def clone_binding(
    resource_dir: str, obj: Mapping[str, Any], *, mapping: Mapping[str, str], restore: str
) -> ClonedBinding | None:
    """The binding a clone gets for ``obj`` (after the restore's rewrites: its subjects'
    namespaces are mapped already), or None: not a ClusterRoleBinding, no mapping, or no
    subject in a mapping's target namespace (restored as it is). ``obj`` is not changed."""
    targets = {target for source, target in mapping.items() if source != target}
    if resource_dir != CLUSTER_ROLE_BINDINGS or not targets:
        return None
    subjects = obj.get("subjects") or []
    cloned: list[dict[str, Any]] = []
    for subject in subjects:
        if subject.get("namespace") in targets and subject not in cloned:
            cloned.append(copy.deepcopy(subject))
    if not cloned:
        return None
    original: str = obj["metadata"]["name"]
    body = copy.deepcopy(dict(obj))
    meta = body["metadata"]
    meta["name"] = clone_name(original, (s["namespace"] for s in cloned))
    meta["labels"] = {**(meta.get("labels") or {}), RESTORE_LABEL: label_value(restore)}
    # The original's last-applied configuration describes the original, not this binding.
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != _LAST_APPLIED}
    meta["annotations"] = {**annotations, CLONED_FROM: original}
    body["subjects"] = cloned
    left_out = tuple(describe(s) for s in subjects if s.get("namespace") not in targets)
    return ClonedBinding(original=original, body=body, left_out=left_out)


def carry_over(
    client: KubeClient, clone: ClonedBinding, write: Callable[[dict[str, Any]], Applied]
) -> Applied:
    """Write the clone's binding (``write``: the restore's writer, under its policy or dry
    run) and say so in the original item's outcome; warn when the original is not in this
    cluster and some of its subjects are therefore bound by neither."""
    here = _exists(client, clone.original)
    applied = write(clone.body)
    about = f"ClusterRoleBinding {clone.name} for the clone's subjects ({_listed(clone.subjects)})"
    original = (
        "the original is not in this cluster and a clone does not create it"
        if here is False
        else "the original is left untouched"
    )
    if applied.outcome is Outcome.FAILED:
        applied.message = f"{applied.message} (carrying it over as {about}; {original})"
        return applied
    said = f"carried over as {about}; {original}"
    applied.message = f"{said}; {applied.message}" if applied.message else said
    if here is False and clone.left_out:
        applied.warnings.append(
            f"the original is not in this cluster and a clone does not create it: its other "
            f"subjects ({_listed(clone.left_out)}) are left without this grant (a restore "
            "without namespaceMapping brings the original back)"
        )
    return applied


def _exists(client: KubeClient, name: str) -> bool | None:
    """Whether ClusterRoleBinding ``name`` is in the cluster; None when it cannot be read."""
    path = object_path(
        group="rbac.authorization.k8s.io",
        version="v1",
        plural="clusterrolebindings",
        namespace=None,
        name=name,
    )
    try:
        client.get(path)
    except KubeApiError as exc:
        return False if exc.not_found else None
    return True


def _listed(items: Sequence[str]) -> str:
    shown = ", ".join(items[:_LISTED])
    return shown + (f" and {len(items) - _LISTED} more" if len(items) > _LISTED else "")
