"""Reading and rewriting PersistentVolumes (plain API-server JSON): which volume, which zone.

Pure functions: no cloud calls, so every PV shape is tested without a cluster or a cloud.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ark.snapshot import errors
from ark.snapshot.interface import MULTI_ZONE_DELIMITER, PersistentVolume

ZONE_LABEL = "topology.kubernetes.io/zone"
REGION_LABEL = "topology.kubernetes.io/region"
LEGACY_ZONE_LABEL = "failure-domain.beta.kubernetes.io/zone"
LEGACY_REGION_LABEL = "failure-domain.beta.kubernetes.io/region"

ZONE_KEYS = frozenset(
    {
        ZONE_LABEL,
        LEGACY_ZONE_LABEL,
        "topology.ebs.csi.aws.com/zone",
        "topology.disk.csi.azure.com/zone",
        "topology.gke.io/zone",
    }
)
REGION_KEYS = frozenset({REGION_LABEL, LEGACY_REGION_LABEL})


def name_of(pv: PersistentVolume) -> str:
    return str((pv.get("metadata") or {}).get("name") or "<unnamed>")


def in_tree_source(pv: PersistentVolume, kind: str) -> Mapping[str, Any] | None:
    """``spec.<kind>`` (e.g. ``awsElasticBlockStore``) when the PV uses that in-tree plugin."""
    source = (pv.get("spec") or {}).get(kind)
    return source if isinstance(source, Mapping) else None


def csi_handle(pv: PersistentVolume, driver: str) -> str | None:
    """The CSI ``volumeHandle`` when the PV is provisioned by ``driver``."""
    csi = (pv.get("spec") or {}).get("csi")
    if not isinstance(csi, Mapping) or csi.get("driver") != driver:
        return None
    handle = csi.get("volumeHandle")
    if not handle:
        raise errors.InvalidVolume(name_of(pv), f"CSI driver {driver} but no volumeHandle")
    return str(handle)


def required_field(pv: PersistentVolume, source: Mapping[str, Any], key: str, kind: str) -> str:
    value = source.get(key)
    if not value:
        raise errors.InvalidVolume(name_of(pv), f"spec.{kind}.{key} is empty")
    return str(value)


def zones_of(pv: PersistentVolume) -> list[str]:
    """Zones the PV is pinned to: from its zone labels, else from its node affinity."""
    labels = (pv.get("metadata") or {}).get("labels") or {}
    for key in (ZONE_LABEL, LEGACY_ZONE_LABEL):
        if labels.get(key):
            return [z for z in str(labels[key]).split(MULTI_ZONE_DELIMITER) if z]
    found: list[str] = []
    for term in _terms(pv):
        for expr in term.get("matchExpressions") or []:
            if expr.get("key") in ZONE_KEYS and expr.get("operator", "In") == "In":
                found.extend(str(v) for v in expr.get("values") or [] if str(v) not in found)
    return found


def _terms(pv: PersistentVolume) -> list[dict[str, Any]]:
    affinity = (pv.get("spec") or {}).get("nodeAffinity") or {}
    return list((affinity.get("required") or {}).get("nodeSelectorTerms") or [])


VOLUME_SOURCES = ("awsElasticBlockStore", "azureDisk", "gcePersistentDisk", "csi")
"""The PV volume sources a block volume of a cloud can have (one at a time)."""
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
MIGRATED_TO = "pv.kubernetes.io/migrated-to"


def rewritten(
    pv: PersistentVolume,
    *,
    in_tree_kind: str,
    in_tree_fields: Mapping[str, Any],
    csi_driver: str,
    csi_handle_value: str,
    csi_zone_key: str,
    zone: str | None,
    region: str,
) -> dict[str, Any]:
    """A deep copy of ``pv`` pointing at another volume in ``zone``.

    The in-tree source (``spec.<in_tree_kind>``) gets ``in_tree_fields``, a ``csi_driver``
    source gets ``csi_handle_value`` as its volumeHandle. A PV of another provider (a volume
    moved to another cloud) becomes a ``csi_driver`` PV: its source is replaced (``fsType``
    kept, the other driver's attributes dropped), the annotations naming the other driver
    name this one, and its zone expressions use ``csi_zone_key``. Zone and region labels are
    set (in-tree PVs) or updated (where present); node-affinity zone expressions get the new
    zones, and a PV with none gets one (``csi_zone_key`` for CSI PVs, the well-known zone
    label for in-tree ones).
    """
    out: dict[str, Any] = copy.deepcopy(dict(pv))
    spec = out.setdefault("spec", {})
    csi = spec.get("csi")
    moved = False
    if isinstance(csi, Mapping) and csi.get("driver") == csi_driver:
        spec["csi"]["volumeHandle"] = csi_handle_value
    elif isinstance(spec.get(in_tree_kind), Mapping):
        spec[in_tree_kind].update(in_tree_fields)
    elif any(isinstance(spec.get(kind), Mapping) for kind in VOLUME_SOURCES):
        _move(out, driver=csi_driver, handle=csi_handle_value)
        moved = True
    else:
        raise errors.InvalidVolume(
            name_of(pv), f"no volume source to rewrite (spec.csi or spec.{in_tree_kind})"
        )
    is_csi = isinstance(spec.get("csi"), Mapping)
    zones = zone.split(MULTI_ZONE_DELIMITER) if zone else []
    _relabel(out, zone=zone, region=region, always=not is_csi)
    _reaffine(
        spec,
        zones=zones,
        region=region,
        key=csi_zone_key if is_csi else ZONE_LABEL,
        rekey=moved,
    )
    return out


def _move(pv: dict[str, Any], *, driver: str, handle: str) -> None:
    """Make ``pv`` a ``driver`` CSI PV of volume ``handle`` (its source was another cloud's)."""
    spec = pv["spec"]
    fs_type = None
    for kind in VOLUME_SOURCES:
        old = spec.pop(kind, None)
        if isinstance(old, Mapping) and old.get("fsType"):
            fs_type = str(old["fsType"])
    csi: dict[str, Any] = {"driver": driver, "volumeHandle": handle}
    if fs_type:
        csi["fsType"] = fs_type
    spec["csi"] = csi
    annotations = (pv.get("metadata") or {}).get("annotations")
    if isinstance(annotations, dict):
        if PROVISIONED_BY in annotations:
            annotations[PROVISIONED_BY] = driver
        annotations.pop(MIGRATED_TO, None)


def _relabel(pv: dict[str, Any], *, zone: str | None, region: str, always: bool) -> None:
    metadata = pv.setdefault("metadata", {})
    labels: dict[str, str] = dict(metadata.get("labels") or {})
    if zone:
        for key in (ZONE_LABEL, LEGACY_ZONE_LABEL):
            if key in labels or (always and key == ZONE_LABEL):
                labels[key] = zone
        for key in (REGION_LABEL, LEGACY_REGION_LABEL):
            if key in labels or (always and key == REGION_LABEL):
                labels[key] = region
    else:
        for key in (ZONE_LABEL, LEGACY_ZONE_LABEL):
            labels.pop(key, None)
    if labels:
        metadata["labels"] = labels
    else:
        metadata.pop("labels", None)


def _reaffine(
    spec: dict[str, Any], *, zones: list[str], region: str, key: str, rekey: bool = False
) -> None:
    """Zone and region expressions of the node affinity set to ``zones`` and ``region``
    (``rekey``: zone expressions also take ``key``, the PV having moved to another cloud)."""
    affinity = spec.get("nodeAffinity") or {}
    terms: list[dict[str, Any]] = list(
        (affinity.get("required") or {}).get("nodeSelectorTerms") or []
    )
    kept: list[dict[str, Any]] = []
    for term in terms:
        exprs: list[dict[str, Any]] = []
        has_zone = False
        for expr in term.get("matchExpressions") or []:
            if expr.get("key") in ZONE_KEYS:
                if zones:
                    kept_key = key if rekey else expr["key"]
                    exprs.append({**expr, "key": kept_key, "operator": "In", "values": zones})
                    has_zone = True
            elif expr.get("key") in REGION_KEYS:
                exprs.append({**expr, "operator": "In", "values": [region]})
            else:
                exprs.append(expr)
        if zones and not has_zone:
            exprs.append({"key": key, "operator": "In", "values": list(zones)})
        rest = {k: v for k, v in term.items() if k != "matchExpressions"}
        if exprs:
            rest["matchExpressions"] = exprs
        if rest:
            kept.append(rest)
    if not terms and zones:
        kept = [{"matchExpressions": [{"key": key, "operator": "In", "values": list(zones)}]}]
    if kept:
        spec["nodeAffinity"] = {
            **affinity,
            "required": {**(affinity.get("required") or {}), "nodeSelectorTerms": kept},
        }
    else:
        spec.pop("nodeAffinity", None)
