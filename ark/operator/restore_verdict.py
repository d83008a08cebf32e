"""Whether a restore test's scratch restore made the claims and volumes its backup held: pure,
from what the backup recorded (its resource list, and which claim each volume was bound to)
and the claims the scratch namespaces hold once the Restore finished.

A Restore that Completed but made no claim where the backup held one is not a passed test: a
backup whose volumes cannot come back must not look tested. Each claim of a tested namespace
must be in its scratch namespace, and each PersistentVolume bound to such a claim must have a
volume behind the restored claim (a new one: from the backup's snapshot, or provisioned from
it by a CSI driver). A volume the test cannot attribute to a tested claim (its claim unknown,
or in a namespace the test did not restore) is not judged here.

Beside that verdict, the pure readings a judgement's message is made of: the scratch claims
bound and not bound, and what the Restore's status says (items restored, volumes made from
snapshots, why it did not complete).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

CLAIMS = "v1/PersistentVolumeClaim"
VOLUMES = "v1/PersistentVolume"


@dataclass(frozen=True)
class Held:
    """What the backup held: its claims (``ns/name``), and its PersistentVolumes each with
    the claim it was bound to (``ns/name``; None when not known)."""

    claims: frozenset[str] = frozenset()
    volumes: Mapping[str, str | None] = field(default_factory=dict)


def held(resource_list: Mapping[str, list[str]], claim_of: Mapping[str, str]) -> Held:
    """From the backup's resource list (``apiVersion/Kind`` -> names) and, per volume, the
    claim it was bound to (the backup's snapshot records, else the PersistentVolume's
    ``claimRef``)."""
    return Held(
        claims=frozenset(resource_list.get(CLAIMS) or ()),
        volumes={pv: claim_of.get(pv) for pv in resource_list.get(VOLUMES) or ()},
    )


def claim_of(
    pvs: Iterable[Mapping[str, Any]], snapshots: Iterable[Mapping[str, Any]]
) -> dict[str, str]:
    """Each PersistentVolume's claim (``ns/name``): the backup's snapshot record
    (``status.volumeSnapshots``), else the PersistentVolume's ``claimRef`` (``pvs``: the
    live PersistentVolume objects)."""
    out: dict[str, str] = {}
    for pv in pvs:
        ref = (pv.get("spec") or {}).get("claimRef") or {}
        if ref.get("namespace") and ref.get("name"):
            out[pv["metadata"]["name"]] = f"{ref['namespace']}/{ref['name']}"
    for record in snapshots:
        if record.get("persistentVolume") and record.get("persistentVolumeClaim"):
            out[str(record["persistentVolume"])] = str(record["persistentVolumeClaim"])
    return out


def missing(
    held: Held, mapping: Mapping[str, str], restored: Mapping[str, str | None]
) -> list[str]:
    """Each claim and PersistentVolume ``held`` that the scratch restore did not make, named
    with why. ``mapping``: each tested namespace to its scratch namespace; ``restored``: each
    claim in the scratch namespaces (``ns/name``) to the volume it is bound to (None: not bound
    yet, which the verdict names apart)."""
    out: list[str] = []
    for claim in sorted(held.claims):
        target = _target(claim, mapping)
        if target is not None and target not in restored:
            out.append(f"persistentvolumeclaims {claim}: in the backup, not restored ({target})")
    for pv, bound_to in sorted(held.volumes.items()):
        at = _target(bound_to, mapping) if bound_to else None
        if at is None:
            continue  # not a tested claim's volume
        if at not in restored:
            out.append(
                f"persistentvolumes {pv}: in the backup (claim {bound_to}), no volume restored "
                f"for it ({at} not restored)"
            )
    return out


def _target(claim: str, mapping: Mapping[str, str]) -> str | None:
    """``ns/name`` -> ``scratch-ns/name``; None for a namespace the test did not restore."""
    namespace, _, name = claim.partition("/")
    target = mapping.get(namespace)
    return f"{target}/{name}" if target is not None and name else None


def claim_phase(claim: Mapping[str, Any]) -> str:
    return str((claim.get("status") or {}).get("phase") or "Pending")


def _key(claim: Mapping[str, Any]) -> str:
    return f"{claim['metadata']['namespace']}/{claim['metadata']['name']}"


def restored(claims: Iterable[Mapping[str, Any]]) -> dict[str, str | None]:
    """Each scratch claim (``ns/name``) to the volume it is bound to (None: not bound)."""
    return {
        _key(c): (c["spec"].get("volumeName") if claim_phase(c) == "Bound" else None)
        for c in claims
    }


def bound(claims: Iterable[Mapping[str, Any]]) -> list[str]:
    """``ns/name -> volume`` for each Bound claim."""
    return [
        f"{_key(c)} -> {c['spec'].get('volumeName')}" for c in claims if claim_phase(c) == "Bound"
    ]


def unbound(claims: Iterable[Mapping[str, Any]], *, timeout: float) -> list[str]:
    return [
        f"persistentvolumeclaims {_key(c)} {claim_phase(c)} after {timeout:.0f}s"
        for c in claims
        if claim_phase(c) != "Bound"
    ]


def volumes_said(status: Mapping[str, Any]) -> str:
    """``; volumes from snapshots: pv-1 (vol-1), ...`` as the Restore recorded them."""
    made = [
        f"{v.get('persistentVolume')} ({v.get('volumeId')})" for v in status.get("volumes") or ()
    ]
    return f"; volumes from snapshots: {', '.join(made)}" if made else ""


def items(status: Mapping[str, Any]) -> int:
    """The items the Restore restored."""
    return int((status.get("progress") or {}).get("itemsRestored") or 0)


def why(status: Mapping[str, Any], name: str) -> str:
    """The Restore's reason, or its first items' problems."""
    reason = status.get("failureReason") or "; ".join(status.get("validationErrors") or ())
    if reason:
        return str(reason)
    problems = [
        f"{r.get('resource')} {'/'.join(x for x in (r.get('namespace'), r.get('name')) if x)}: "
        f"{r.get('message')}"
        for r in (status.get("results") or ())[:3]
    ]
    errors = int(status.get("errors") or 0)
    return ("; ".join(problems) or f"{errors} errors") + f" (ark restore describe {name})"
