"""A Service's nodePorts across clusters: kept where free, reassigned (and named) where taken.

A nodePort is one per cluster: a Service restored beside its original (a clone), or into a
cluster where another Service holds the port, cannot have it. With ``preserveNodePorts``
unset the restore asks for the backed-up ports; for those the API server says are taken it
asks again without them, and the restored Service then names each port it got instead
(clients and load balancers that point at the old port break, so the restore says so and is
PartiallyFailed). ``true`` fails such a Service; ``false`` never asks for the old ports.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from ark.kube import KubeApiError, KubeClient
from ark.restore.apply import Applied, Outcome

_TAKEN = re.compile(
    r"spec\.(?:ports\[(\d+)\]\.nodePort|healthCheckNodePort): Invalid value: (\d+): "
    r"provided port is already allocated"
)


def taken_ports(message: str) -> dict[int | None, int]:
    """Port index (None for healthCheckNodePort) -> the nodePort the API server said is taken."""
    return {
        (int(index) if index else None): int(port) for index, port in _TAKEN.findall(message or "")
    }


def without(obj: dict[str, Any], taken: dict[int | None, int]) -> dict[str, Any]:
    """A copy of the Service asking for none of the taken ports."""
    out = copy.deepcopy(obj)
    spec = out.get("spec") or {}
    for index in taken:
        if index is None:
            spec.pop("healthCheckNodePort", None)
        elif index < len(spec.get("ports") or []):
            spec["ports"][index].pop("nodePort", None)
    return out


def apply_keeping_free_ports(
    client: KubeClient,
    obj: dict[str, Any],
    apply: Callable[[dict[str, Any]], Applied],
    *,
    path: str,
) -> Applied:
    """Apply the Service; when some of its nodePorts are taken, apply it without those and
    name, as differences, the ports it got instead."""
    applied = apply(obj)
    taken: dict[int | None, int] = {}
    # The API server allocates the ports one by one and names the first taken one only.
    for _ in range(len((obj.get("spec") or {}).get("ports") or []) + 1):
        found = taken_ports(applied.message or "") if applied.outcome is Outcome.FAILED else {}
        if not found or found.keys() <= taken.keys():
            break
        taken.update(found)
        applied = apply(without(obj, taken))
    if not taken or applied.outcome is Outcome.FAILED:
        return applied
    try:
        live = client.get(path)
    except KubeApiError:
        live = {}
    spec = live.get("spec") or {}
    ports = spec.get("ports") or []
    for index, old in sorted(taken.items(), key=lambda kv: (kv[0] is not None, kv[0] or 0)):
        if index is None:
            new = spec.get("healthCheckNodePort")
            what = "healthCheckNodePort"
        else:
            new = ports[index].get("nodePort") if index < len(ports) else None
            name = (obj["spec"]["ports"][index].get("name") or "") if index < len(ports) else ""
            what = f"port {name or index} nodePort"
        applied.differences.append(
            f"{what} {old} is taken in this cluster; the API server assigned {new} "
            "(preserveNodePorts: false reassigns without this error, true fails instead)"
        )
    return applied
