"""Planning a restore (pure): what to restore, under which namespace, in which wave.

Waves start from a priority list (CRDs, namespaces, cluster infrastructure, storage and
identity, claims and bindings and services, workloads and everything else, pods last) and are
refined by real references: an object always comes in a later wave than everything it refers to
(owner, claim, mounted Secret or ConfigMap, ServiceAccount, bound volume, role, CRD). Each wave
is created in parallel; the engine waits only where a dependency needs it.
"""

from __future__ import annotations

import bisect
import fnmatch
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import overload

from ark.api.backup import ResourceFilter
from ark.restore.refs import CRDS, ItemKey
from ark.selection import NEVER_BACKED_UP, selector_matches

NAMESPACES = "namespaces"
PERSISTENT_VOLUMES = "persistentvolumes"

#: Never restored: cluster-specific, recreated by the cluster, or the DR tools' own records —
#: the same set a backup never takes (a Velero backup may still hold some of them).
NEVER_RESTORED = NEVER_BACKED_UP

_PRIORITY: tuple[tuple[str, ...], ...] = (
    (CRDS,),
    (NAMESPACES,),
    (
        "storageclasses.storage.k8s.io",
        "priorityclasses.scheduling.k8s.io",
        "runtimeclasses.node.k8s.io",
        "volumesnapshotclasses.snapshot.storage.k8s.io",
        "clusterroles.rbac.authorization.k8s.io",
    ),
    (
        "persistentvolumes",
        "volumesnapshotcontents.snapshot.storage.k8s.io",
        "serviceaccounts",
        "secrets",
        "configmaps",
        "roles.rbac.authorization.k8s.io",
        "limitranges",
        "resourcequotas",
    ),
    (
        "persistentvolumeclaims",
        "volumesnapshots.snapshot.storage.k8s.io",
        "rolebindings.rbac.authorization.k8s.io",
        "clusterrolebindings.rbac.authorization.k8s.io",
        "services",
    ),
)
_REST = len(_PRIORITY)  # workloads, custom resources and everything else
_PODS = _REST + 1


def base_wave(resource_dir: str) -> int:
    for wave, group in enumerate(_PRIORITY):
        if resource_dir in group:
            return wave
    return _PODS if resource_dir == "pods" else _REST


@dataclass(frozen=True, slots=True)
class Candidate:
    """One item of the backup, as the planner sees it (no body)."""

    key: ItemKey
    kind: str
    labels: tuple[tuple[str, str], ...] = ()
    """(key, value) pairs, shared between items with the same labels (a dict each would cost
    about 180 bytes per item: 18 MB at 100,000)."""
    controller: ItemKey | None = None
    """The item's controller (controller ownerReference), resolved to a key."""
    owners: tuple[ItemKey, ...] = ()
    refs: tuple[ItemKey, ...] = ()
    skip: str | None = None
    """An intrinsic reason not to restore it (see refs.intrinsic_skip)."""


@dataclass(frozen=True, slots=True)
class Planned:
    key: ItemKey
    target_namespace: str | None
    wave: int


class Wave(Sequence[Planned]):
    """One wave's items in key order, kept as their names in runs of one resource dir and
    namespace: each is made a :class:`Planned` (its target namespace mapped) as it is read.
    100,000 Planned objects, or key tuples, held for the whole restore would cost 6 to 13 MB;
    the names are the index's own strings."""

    __slots__ = ("_mapping", "_names", "_runs", "_starts", "number")

    def __init__(self, keys: Iterable[ItemKey], number: int, mapping: Mapping[str, str]) -> None:
        self._names: list[str] = []
        self._runs: list[tuple[str, str]] = []  # (resource dir, namespace) of each run
        self._starts: list[int] = []  # where each run starts in _names
        for resource_dir, ns, name in keys:
            if not self._runs or self._runs[-1] != (resource_dir, ns):
                self._runs.append((resource_dir, ns))
                self._starts.append(len(self._names))
            self._names.append(name)
        self._mapping = mapping
        self.number = number

    def _planned(self, key: ItemKey) -> Planned:
        ns = key[1]
        return Planned(key, self._mapping.get(ns, ns) if ns else None, self.number)

    def __len__(self) -> int:
        return len(self._names)

    @overload
    def __getitem__(self, at: int) -> Planned: ...
    @overload
    def __getitem__(self, at: slice) -> list[Planned]: ...
    def __getitem__(self, at: int | slice) -> Planned | list[Planned]:
        if isinstance(at, slice):
            return [self[i] for i in range(*at.indices(len(self)))]
        at = range(len(self._names))[at]  # bounds, negative indices
        resource_dir, ns = self._runs[bisect.bisect_right(self._starts, at) - 1]
        return self._planned((resource_dir, ns, self._names[at]))

    def __iter__(self) -> Iterator[Planned]:
        return map(self._planned, self.item_keys())

    def item_keys(self) -> Iterator[ItemKey]:
        ends = [*self._starts[1:], len(self._names)] if self._starts else []
        for (resource_dir, ns), start, end in zip(self._runs, self._starts, ends, strict=True):
            for name in itertools.islice(self._names, start, end):
                yield (resource_dir, ns, name)

    def only(self, keep: Callable[[ItemKey], bool]) -> Wave:
        """The items whose keys ``keep`` takes, in the same order."""
        return Wave(filter(keep, self.item_keys()), self.number, self._mapping)


@dataclass
class RestorePlan:
    waves: list[Wave]
    skipped: dict[ItemKey, str]
    target_namespaces: list[str]
    """Namespaces the restore writes into (after mapping), to create and wait for."""
    warnings: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(len(w) for w in self.waves)

    def planned(self) -> Iterable[Planned]:
        for wave in self.waves:
            yield from wave

    def restored_volumes(self) -> frozenset[str]:
        """Names of the PersistentVolumes the restore writes."""
        return frozenset(
            k[2] for wave in self.waves for k in wave.item_keys() if k[0] == PERSISTENT_VOLUMES
        )

    def stages(self) -> Iterator[Stage]:
        """The waves as the restore applies them: a wave of CRDs alone is waited for (until
        its resources serve) before the next; the first wave that writes into namespaces
        has the target namespaces made before its items."""
        ensured = False
        for wave in self.waves:
            number = wave.number if wave else None
            if wave and all(k[0] == CRDS for k in wave.item_keys()):
                yield Stage(number, wave, crds=True)
            elif not ensured and any(k[0] == NAMESPACES or k[1] for k in wave.item_keys()):
                ensured = True
                yield Stage(
                    number,
                    wave.only(lambda k: k[0] != NAMESPACES),
                    namespaces=list(wave.only(lambda k: k[0] == NAMESPACES)),
                )
            else:
                yield Stage(number, wave)


@dataclass(frozen=True)
class Stage:
    wave: int | None
    items: Sequence[Planned]
    crds: bool = False
    """CRDs only: wait until they serve before the next stage."""
    namespaces: list[Planned] | None = None
    """On the first stage that writes into namespaces: its Namespace items (maybe none); the
    target namespaces are made first, also when the backup holds no Namespace objects."""


def _matches_filter(
    spec: ResourceFilter,
    c: Candidate,
    *,
    resources: AbstractSet[str] | None,
    namespace_wanted: Callable[[str], bool],
) -> str | None:
    """Why the spec's filters leave this item out, or None."""
    resource_dir, ns, _ = c.key
    if resources is not None and resource_dir not in resources:
        return "not in includedResources"
    if ns and not namespace_wanted(ns):
        return f"namespace {ns} not included"
    if spec.label_selector is None and not spec.or_label_selectors:
        return None
    labels = dict(c.labels)
    if spec.label_selector is not None and not selector_matches(spec.label_selector, labels):
        return "labels do not match labelSelector"
    if spec.or_label_selectors and not any(
        selector_matches(s, labels) for s in spec.or_label_selectors
    ):
        return "labels match none of orLabelSelectors"
    return None


def _namespace_filter(spec: ResourceFilter) -> Callable[[str], bool]:
    """Whether the spec's namespace patterns take a namespace, each namespace matched once
    (a backup's items share a few namespaces)."""
    excluded = list(spec.excluded_namespaces or ())
    included = [p for p in spec.included_namespaces or () if p] or ["*"]
    known: dict[str, bool] = {}

    def wanted(ns: str) -> bool:
        found = known.get(ns)
        if found is None:
            found = known[ns] = not any(fnmatch.fnmatchcase(ns, p) for p in excluded) and any(
                fnmatch.fnmatchcase(ns, p) for p in included
            )
        return found

    return wanted


def plan_restore(
    candidates: Iterable[Candidate],
    spec: ResourceFilter,
    *,
    namespace_mapping: Mapping[str, str] | None = None,
    included_resources: AbstractSet[str] | None = None,
    excluded_resources: AbstractSet[str] = frozenset(),
    max_passes: int = 16,
) -> RestorePlan:
    """Decide for every candidate: restore (in which wave, into which namespace) or skip (why).

    ``included_resources``/``excluded_resources`` are resource dirs the caller resolved from the
    spec's spellings (None: all). Cluster-scoped items follow ``includeClusterResources``: true
    all, false none, absent (auto) all for a whole-backup restore, else only those the restored
    namespaced items refer to (transitively: PVC -> PV -> StorageClass).
    """
    mapping = dict(namespace_mapping or {})
    selection = _select(candidates, spec, included=included_resources, excluded=excluded_resources)
    items, chosen, pending, skipped = (
        selection.linked,
        selection.chosen,
        selection.pending,
        selection.skipped,
    )
    _add_needed(items, chosen, pending)
    for key in pending:
        skipped[key] = "cluster-scoped and not needed by the restored namespaces"
    _leave_to_controllers(items, chosen, skipped, kinds=selection.kinds)
    _assign_waves(items, chosen, max_passes=max_passes)
    target_namespaces = sorted(
        {mapping.get(k[1], k[1]) for k in chosen if k[1]}
        | {mapping.get(k[2], k[2]) for k in chosen if k[0] == NAMESPACES}
    )
    by_wave: dict[int, list[ItemKey]] = {}
    for key, wave_no in chosen.items():
        by_wave.setdefault(wave_no, []).append(key)
    del chosen, selection, items
    planned_waves = [
        Wave(sorted(by_wave.pop(wave_no)), index, mapping)
        for index, wave_no in enumerate(sorted(by_wave))
    ]  # each wave's key tuples freed as it is made
    return RestorePlan(waves=planned_waves, skipped=skipped, target_namespaces=target_namespaces)


@dataclass
class _Selection:
    chosen: dict[ItemKey, int] = field(default_factory=dict)
    """The items restored, each with its wave (its kind's base wave until references and
    owners move it later)."""
    pending: set[ItemKey] = field(default_factory=set)
    """Cluster-scoped items restored only when a restored item needs them."""
    skipped: dict[ItemKey, str] = field(default_factory=dict)
    linked: dict[ItemKey, Candidate] = field(default_factory=dict)
    """The candidates with references, owners or a controller: the others are dropped as
    soon as they are chosen or skipped (at 100,000 items, most of them; a Candidate each
    would cost more than the plan)."""
    kinds: dict[str, str] = field(default_factory=dict)
    """Each resource dir's kind (for what a skip says)."""


def _select(
    candidates: Iterable[Candidate],
    spec: ResourceFilter,
    *,
    included: AbstractSet[str] | None,
    excluded: AbstractSet[str],
) -> _Selection:
    """Each candidate chosen, pending on need (cluster-scoped), or skipped with a reason."""
    out = _Selection()
    whole = not spec.included_namespaces and not spec.excluded_namespaces
    mode = spec.include_cluster_resources
    namespace_wanted = _namespace_filter(spec)
    for c in candidates:
        key = c.key
        resource_dir, ns, name = key
        if resource_dir not in out.kinds:
            out.kinds[resource_dir] = c.kind
        if c.refs or c.owners or c.controller is not None:
            out.linked[key] = c
        reason: str | None
        if resource_dir in NEVER_RESTORED:
            reason = "never restored"
        elif resource_dir in excluded:
            reason = "in excludedResources"
        elif c.skip:
            reason = c.skip
        elif resource_dir == NAMESPACES:
            reason = None if namespace_wanted(name) else f"namespace {name} not included"
        elif ns or mode is True or (mode is None and whole):
            reason = _matches_filter(spec, c, resources=included, namespace_wanted=namespace_wanted)
        elif mode is False:
            reason = "cluster-scoped and includeClusterResources is false"
        else:
            out.pending.add(key)  # auto: only what restored items need
            continue
        if reason is None:
            out.chosen[key] = base_wave(resource_dir)
        else:
            out.skipped[key] = reason
    return out


def _add_needed(
    items: Mapping[ItemKey, Candidate], chosen: dict[ItemKey, int], pending: set[ItemKey]
) -> None:
    frontier = [key for key in items if key in chosen]
    while frontier:
        found = [
            ref
            for key in frontier
            if (c := items.get(key)) is not None
            for ref in c.refs
            if ref in pending
        ]
        for ref in found:
            pending.discard(ref)
            chosen[ref] = base_wave(ref[0])
        frontier = found


def _leave_to_controllers(
    items: Mapping[ItemKey, Candidate],
    chosen: dict[ItemKey, int],
    skipped: dict[ItemKey, str],
    *,
    kinds: Mapping[str, str],
) -> None:
    """Objects whose controller is restored are left to it (no duplicate Pods, ReplicaSets,
    Jobs), transitively (a Pod of a ReplicaSet of a restored Deployment)."""
    controlled = [(key, c.controller) for key, c in items.items() if c.controller is not None]
    left: set[ItemKey] = set()
    changed = True
    while changed:
        changed = False
        for key, ctrl in controlled:
            if key in chosen and (ctrl in chosen or ctrl in left):
                del chosen[key]
                left.add(key)
                kind = kinds.get(ctrl[0], ctrl[0])
                skipped[key] = f"left to its restored controller {kind} {ctrl[2]}"
                changed = True


def _assign_waves(
    items: Mapping[ItemKey, Candidate], chosen: dict[ItemKey, int], *, max_passes: int
) -> None:
    """Later than every restored thing an item refers to or is owned by (``chosen`` holds
    each item's base wave; only items with references or owners move)."""
    linked = [(key, c) for key, c in items.items() if key in chosen and (c.refs or c.owners)]
    for _ in range(max_passes):
        changed = False
        for key, c in linked:
            for dep in (*c.refs, *c.owners):
                if dep in chosen and dep != key and chosen[dep] >= chosen[key]:
                    chosen[key] = chosen[dep] + 1
                    changed = True
        if not changed:
            break
