"""Whether a restore test's scratch restore made the claims and volumes its backup held: pure,
from what the backup recorded (its resource list, and which claim each volume was bound to)
and the claims the scratch namespaces hold once the Restore finished.

A Restore that Completed but made no claim where the backup held one is not a passed test: a
backup whose volumes cannot come back must not look tested. Each claim of a tested namespace
must be in its scratch namespace, and each PersistentVolume bound to such a claim must have a
volume behind the restored claim (a new one: from the backup's snapshot, or provisioned from
it by a CSI driver). A volume the test cannot attribute to a tested claim (its claim unknown,
or in a namespace the test did not restore) is not judged here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

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
