"""What a backup or restore selects: namespace, resource and label filters, the kinds never
backed up or restored, and the labels that keep an object out. Pure; shared by both engines."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence

from ark.api.types import EXCLUDE_LABELS, LabelSelector, LabelSelectorOperator
from ark.kube.discovery import ApiResource

#: Never backed up: recreated by the cluster, meaningless elsewhere, or ark's own transient CRs.
NEVER_BACKED_UP = frozenset(
    {
        "events",
        "events.events.k8s.io",
        "nodes",
        "leases.coordination.k8s.io",
        "csinodes.storage.k8s.io",
        "volumeattachments.storage.k8s.io",
        "componentstatuses",
        "backups.ark.dev",
        "restores.ark.dev",
        "deletebackuprequests.ark.dev",
        "backups.velero.io",
        "restores.velero.io",
        "deletebackuprequests.velero.io",
        "podvolumebackups.velero.io",
        "podvolumerestores.velero.io",
        "datauploads.velero.io",
        "datadownloads.velero.io",
    }
)


class NamespaceFilter:
    """Included/excluded namespace globs (``*``, ``?``, ``[ab]``). Exclusion wins."""

    def __init__(self, included: Sequence[str] | None, excluded: Sequence[str] | None) -> None:
        self.included = [p for p in included or () if p] or ["*"]
        self.excluded = list(excluded or ())

    @property
    def everything(self) -> bool:
        return self.included == ["*"] and not self.excluded

    def matches(self, namespace: str) -> bool:
        if any(fnmatch.fnmatchcase(namespace, p) for p in self.excluded):
            return False
        return any(fnmatch.fnmatchcase(namespace, p) for p in self.included)

    def select(self, namespaces: Iterable[str]) -> list[str]:
        return sorted(ns for ns in namespaces if self.matches(ns))


class UnknownResource(ValueError):
    """A resource name in a filter matches nothing the server serves."""


def select_resources(
    available: Sequence[ApiResource],
    *,
    included: Sequence[str] | None,
    excluded: Sequence[str] | None,
    strict: bool = False,
) -> tuple[list[ApiResource], list[str]]:
    """The resources a backup or restore takes, and warnings about names that match nothing.

    ``included`` empty or containing ``*`` means all; names are kubectl spellings (plural,
    singular, kind, short name, ``plural.group``). With ``strict``, unknown names raise.
    """
    warnings: list[str] = []

    def resolve(names: Sequence[str]) -> set[str]:
        out: set[str] = set()
        for spelling in names:
            found = [r.qualified for r in available if r.matches(spelling)]
            if not found:
                message = f"resource {spelling!r} is not served by this cluster"
                if strict:
                    raise UnknownResource(message)
                warnings.append(message)
            out.update(found)
        return out

    names = [n for n in included or () if n]
    wanted = None if not names or "*" in names else resolve(names)
    unwanted = resolve([n for n in excluded or () if n])
    chosen = [
        r
        for r in available
        if (wanted is None or r.qualified in wanted) and r.qualified not in unwanted
    ]
    return chosen, warnings


def selector_string(selector: LabelSelector) -> str:
    """A LabelSelector as the ``labelSelector`` query parameter (``a=b,c in (x,y),!d``)."""
    parts = [f"{k}={v}" for k, v in sorted((selector.match_labels or {}).items())]
    for req in selector.match_expressions or ():
        op = LabelSelectorOperator(req.operator)
        values = ",".join(sorted(req.values or ()))
        if op is LabelSelectorOperator.IN:
            parts.append(f"{req.key} in ({values})")
        elif op is LabelSelectorOperator.NOT_IN:
            parts.append(f"{req.key} notin ({values})")
        elif op is LabelSelectorOperator.EXISTS:
            parts.append(req.key)
        else:
            parts.append(f"!{req.key}")
    return ",".join(parts)


def selector_matches(selector: LabelSelector, labels: dict[str, str]) -> bool:
    """Whether ``labels`` satisfy ``selector`` (client-side, for objects fetched by name)."""
    for k, v in (selector.match_labels or {}).items():
        if labels.get(k) != v:
            return False
    for req in selector.match_expressions or ():
        op = LabelSelectorOperator(req.operator)
        present = req.key in labels
        if op is LabelSelectorOperator.IN and labels.get(req.key) not in (req.values or ()):
            return False
        if op is LabelSelectorOperator.NOT_IN and present and labels[req.key] in (req.values or ()):
            return False
        if op is LabelSelectorOperator.EXISTS and not present:
            return False
        if op is LabelSelectorOperator.DOES_NOT_EXIST and present:
            return False
    return True


def excluded_by_label(labels: dict[str, str] | None) -> bool:
    if labels:  # a loop, not any(): this runs for every object listed
        for key in EXCLUDE_LABELS:
            if labels.get(key) == "true":
                return True
    return False
