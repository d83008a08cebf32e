"""Strategic merge patch (kubectl patch's default) for resource modifiers: the common cases of
Kubernetes' built-in types, without the Go type registry Kubernetes derives them from.

What is covered:

- Objects merge key by key and null removes a key, as in a JSON merge patch.
- Lists Kubernetes merges by a key (``patchMergeKey``) are merged by it: a patch item changes
  the item with the same key and adds one that is new: containers, initContainers
  and ephemeralContainers (``name``), their ports (``containerPort``), env (``name``),
  volumeMounts (``mountPath``) and volumeDevices (``devicePath``); a pod's volumes,
  imagePullSecrets, resourceClaims and schedulingGates (``name``), hostAliases (``ip``) and
  topologySpreadConstraints (``topologyKey``) — in Pods, PodTemplates and the pod templates of
  Deployments, ReplicaSets, StatefulSets, DaemonSets, ReplicationControllers, Jobs and CronJobs;
  a Service's ports (``port``); a ServiceAccount's secrets (``name``); every object's
  ownerReferences (``uid``) and finalizers (merged as a set).
- Every other list is replaced whole, as Kubernetes does for lists without a merge strategy
  (args, command, tolerations, an Ingress's rules).
- Directives: ``$patch: replace`` (an object or list becomes the patch's), ``$patch: delete``
  (an object becomes empty; in a merged list, the item with that key is removed),
  ``$deleteFromPrimitiveList/<field>``, ``$retainKeys`` and ``$setElementOrder/<field>`` (for
  a list the patch also changes).
- Merged lists come out in the API server's order: the items the patch names in its order, the
  others in their live order, a new item before them (see ``_ordered``).

Custom resources have no merge keys: for them (any group with a dot that is not ``*.k8s.io``)
a strategic merge patch is a JSON merge patch, as for Kubernetes' built-in types' other fields.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ark.restore.patches import PatchError, apply_merge_patch

_DIRECTIVE = "$patch"
_RETAIN_KEYS = "$retainKeys"
_DELETE_FROM = "$deleteFromPrimitiveList/"
_SET_ORDER = "$setElementOrder/"


@dataclass(frozen=True)
class Schema:
    """What the merge needs to know of a field: for an object, its fields that need more than
    a plain merge; for a list, the key its items merge by (or ``set``: a list of strings merged
    as a set), ``fields`` then describing the items."""

    fields: Mapping[str, Schema] = field(default_factory=dict)
    merge_key: str | None = None
    set: bool = False


_ANY = Schema()
_CONTAINER = {
    "ports": Schema(merge_key="containerPort"),
    "env": Schema(merge_key="name"),
    "volumeMounts": Schema(merge_key="mountPath"),
    "volumeDevices": Schema(merge_key="devicePath"),
}
_POD_SPEC = Schema(
    {
        "containers": Schema(_CONTAINER, merge_key="name"),
        "initContainers": Schema(_CONTAINER, merge_key="name"),
        "ephemeralContainers": Schema(_CONTAINER, merge_key="name"),
        "volumes": Schema(merge_key="name"),
        "imagePullSecrets": Schema(merge_key="name"),
        "resourceClaims": Schema(merge_key="name"),
        "schedulingGates": Schema(merge_key="name"),
        "hostAliases": Schema(merge_key="ip"),
        "topologySpreadConstraints": Schema(merge_key="topologyKey"),
    }
)
_METADATA = Schema({"finalizers": Schema(set=True), "ownerReferences": Schema(merge_key="uid")})
_TEMPLATE = Schema({"metadata": _METADATA, "spec": _POD_SPEC})
_WORKLOAD = Schema({"metadata": _METADATA, "spec": Schema({"template": _TEMPLATE})})

KINDS: Mapping[tuple[str, str], Schema] = {
    ("", "Pod"): Schema({"metadata": _METADATA, "spec": _POD_SPEC}),
    ("", "PodTemplate"): Schema({"metadata": _METADATA, "template": _TEMPLATE}),
    ("", "ReplicationController"): _WORKLOAD,
    ("apps", "Deployment"): _WORKLOAD,
    ("apps", "ReplicaSet"): _WORKLOAD,
    ("apps", "StatefulSet"): _WORKLOAD,
    ("apps", "DaemonSet"): _WORKLOAD,
    ("batch", "Job"): _WORKLOAD,
    ("batch", "CronJob"): Schema(
        {
            "metadata": _METADATA,
            "spec": Schema(
                {"jobTemplate": Schema({"metadata": _METADATA, "spec": _WORKLOAD.fields["spec"]})}
            ),
        }
    ),
    ("", "Service"): Schema(
        {"metadata": _METADATA, "spec": Schema({"ports": Schema(merge_key="port")})}
    ),
    ("", "ServiceAccount"): Schema({"metadata": _METADATA, "secrets": Schema(merge_key="name")}),
}
"""Built-in kinds with merge keys below the top level; other built-in kinds have only
metadata's."""
_BUILT_IN = Schema({"metadata": _METADATA})


def built_in(api_version: str) -> bool:
    """Whether ``api_version`` is one of Kubernetes' own groups (custom resources' groups have
    a dot and are not ``*.k8s.io``)."""
    group = api_version.rpartition("/")[0]
    return "." not in group or group.endswith(".k8s.io")


def schema_of(obj: Mapping[str, Any]) -> Schema | None:
    """The merge schema of ``obj``'s kind; None for a custom resource."""
    api_version = str(obj.get("apiVersion") or "")
    if not built_in(api_version):
        return None
    return KINDS.get((api_version.rpartition("/")[0], str(obj.get("kind") or "")), _BUILT_IN)


def apply_strategic_merge_patch(doc: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with ``patch`` applied as Kubernetes would for ``doc``'s kind (see the module's
    docstring for what is covered); raises PatchError for a patch that does not fit."""
    schema = schema_of(doc)
    if schema is None:
        merged: dict[str, Any] = apply_merge_patch(doc, patch)
        return merged
    return _merge_map(copy.deepcopy(doc), patch, schema, path="")


def _merge_map(
    original: dict[str, Any], patch: Mapping[str, Any], schema: Schema, *, path: str
) -> dict[str, Any]:
    directive = patch.get(_DIRECTIVE)
    if directive == "replace":
        replaced: dict[str, Any] = _clean(
            {k: v for k, v in patch.items() if k != _DIRECTIVE}, schema, path=path
        )
        return replaced
    if directive == "delete":
        return {}
    if directive is not None:
        raise PatchError(f"{path or '/'}: unknown $patch directive {directive!r}")
    original = _retain_and_delete(original, patch, path=path)
    for key, value in patch.items():
        if key in (_DIRECTIVE, _RETAIN_KEYS) or key.startswith((_DELETE_FROM, _SET_ORDER)):
            continue
        child = schema.fields.get(key, _ANY)
        where = f"{path}/{key}"
        if value is None:
            original.pop(key, None)
        elif isinstance(value, dict) and isinstance(original.get(key), dict):
            original[key] = _merge_map(original[key], value, child, path=where)
        elif isinstance(value, list) and isinstance(original.get(key), list):
            order = patch.get(_SET_ORDER + key)
            original[key] = _merge_list(
                original[key],
                value,
                child,
                path=where,
                order=order if isinstance(order, list) else None,
            )
        else:
            original[key] = _clean(value, child, path=where)
    return original


def _retain_and_delete(
    original: dict[str, Any], patch: Mapping[str, Any], *, path: str
) -> dict[str, Any]:
    """``$retainKeys`` (keep only these keys) and ``$deleteFromPrimitiveList/<field>``."""
    if _RETAIN_KEYS in patch:
        keep = patch[_RETAIN_KEYS]
        if not isinstance(keep, list):
            raise PatchError(f"{path or '/'}: $retainKeys must be a list")
        original = {k: v for k, v in original.items() if k in keep}
    for key, value in patch.items():
        if key.startswith(_DELETE_FROM):
            name = key[len(_DELETE_FROM) :]
            if not isinstance(value, list):
                raise PatchError(f"{path}/{name}: {_DELETE_FROM}{name} must be a list")
            if isinstance(original.get(name), list):
                original[name] = [v for v in original[name] if v not in value]
    return original


def _merge_list(
    original: list[Any],
    patch: list[Any],
    schema: Schema,
    *,
    path: str,
    order: list[Any] | None = None,
) -> list[Any]:
    """A list under the patch: replaced whole, merged as a set, or merged by its key; merged
    lists are ordered as the API server orders them (see ``_ordered``)."""
    key = schema.merge_key
    if not schema.set and key is None:
        replaced: list[Any] = _clean(patch, schema, path=path)
        return replaced
    if schema.set:
        patched = [v for i, v in enumerate(patch) if v not in patch[:i]]
        merged = original + [v for v in patched if v not in original]
        return _ordered(merged, patched if order is None else order, original, ident=_itself)
    assert key is not None
    items = Schema(schema.fields)
    if any(isinstance(p, dict) and p.get(_DIRECTIVE) == "replace" for p in patch):
        return [
            _clean(p, items, path=path)
            for p in patch
            if not (isinstance(p, dict) and p.get(_DIRECTIVE) == "replace")
        ]
    merged = list(original)
    patched = []
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            raise PatchError(f"{path}: an item without its merge key {key!r}: {item!r}")
        same = [i for i, o in enumerate(merged) if isinstance(o, dict) and o.get(key) == item[key]]
        if item.get(_DIRECTIVE) == "delete":
            merged = [o for i, o in enumerate(merged) if i not in same]
            continue
        patched.append(item[key])
        where = f"{path}[{key}={item[key]}]"
        if same:
            merged[same[0]] = _merge_map(merged[same[0]], item, items, path=where)
        else:
            merged.append(_merge_map({}, item, items, path=where))

    def ident(item: Any) -> Any:
        return item.get(key) if isinstance(item, dict) else None

    wanted = patched if order is None else [ident(o) for o in order]
    return _ordered(merged, wanted, [ident(o) for o in original], ident=ident)


def _itself(item: Any) -> Any:
    return item


def _ordered(
    merged: list[Any], patch_order: list[Any], server_order: list[Any], *, ident: Any
) -> list[Any]:
    """Kubernetes' order of a merged list: the items the patch names in the patch's order
    (or ``$setElementOrder``'s), the others in their live order, interleaved so an item the
    patch names goes after the live items that came before it (a new item goes first)."""

    def rank(order: list[Any], item: Any) -> int:
        found = ident(item)
        return order.index(found) if found in order else -1

    named = sorted(
        (m for m in merged if ident(m) in patch_order),
        key=lambda m: rank(patch_order, m),
    )
    server_only = [m for m in merged if ident(m) not in patch_order]
    out: list[Any] = []
    while server_only or named:
        if not named:
            out.append(server_only.pop(0))
            continue
        if server_only:
            left, right = rank(server_order, server_only[0]), rank(server_order, named[0])
            if 0 <= left < right:
                out.append(server_only.pop(0))
                continue
        out.append(named.pop(0))
    return out


def _clean(value: Any, schema: Schema, *, path: str) -> Any:
    """A patch value set where nothing was: its nulls and directives applied to nothing."""
    if isinstance(value, dict):
        return _merge_map({}, value, schema, path=path)
    if isinstance(value, list) and schema.merge_key is not None:
        return _merge_list([], value, schema, path=path)
    return copy.deepcopy(value)
