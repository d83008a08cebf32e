"""What the API server serves: every group's preferred version and its listable resources."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property

from ark.kube.client import KubeClient, object_path
from ark.kube.errors import KubeError


@dataclass(frozen=True)
class ApiResource:
    """One resource type as discovery describes it (at the group's preferred version)."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    verbs: frozenset[str] = frozenset()
    short_names: tuple[str, ...] = ()
    singular: str = ""

    @cached_property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @cached_property
    def qualified(self) -> str:
        """``plural.group`` as kubectl and Velero's archive name it (core: just ``plural``)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def group_resource(self) -> str:
        return self.qualified

    def path(self, *, namespace: str | None = None, name: str | None = None) -> str:
        return object_path(
            group=self.group,
            version=self.version,
            plural=self.plural,
            namespace=namespace if self.namespaced else None,
            name=name,
        )

    def matches(self, spelling: str) -> bool:
        """Whether a user's spelling (plural, singular, kind, short name, plural.group) is this."""
        s = spelling.lower()
        if "." in s:
            name, _, group = s.partition(".")
            return group == self.group and self._names_match(name)
        return self._names_match(s)

    def _names_match(self, s: str) -> bool:
        return s in {self.plural, self.singular, self.kind.lower(), *self.short_names}


@dataclass
class Discovery:
    """The result of one discovery pass; groups that failed to answer are in ``failures``."""

    resources: list[ApiResource]
    failures: dict[str, str] = field(default_factory=dict)

    def find(self, spelling: str) -> list[ApiResource]:
        return [r for r in self.resources if r.matches(spelling)]

    def by_group_kind(self, group: str, kind: str) -> ApiResource | None:
        for r in self.resources:
            if r.group == group and r.kind == kind:
                return r
        return None

    def by_qualified(self, qualified: str) -> ApiResource | None:
        for r in self.resources:
            if r.qualified == qualified:
                return r
        return None


def _resources_of(client: KubeClient, group: str, version: str) -> list[ApiResource]:
    path = f"/api/{version}" if not group else f"/apis/{group}/{version}"
    data = client.get(path)
    out = []
    for item in data.get("resources", []):
        if "/" in item["name"]:  # subresources (pods/log, deployments/scale)
            continue
        out.append(
            ApiResource(
                group=group,
                version=version,
                plural=item["name"],
                kind=item["kind"],
                namespaced=bool(item.get("namespaced")),
                verbs=frozenset(item.get("verbs") or ()),
                short_names=tuple(item.get("shortNames") or ()),
                singular=item.get("singularName") or item["kind"].lower(),
            )
        )
    return out


def discover(client: KubeClient, *, workers: int = 8) -> Discovery:
    """Every served resource at its group's preferred version.

    Aggregated APIs that do not answer (a metrics-server that is down, say) do not fail the
    discovery: they are listed in ``failures`` with the reason, for the caller to warn about.
    """
    targets: list[tuple[str, str]] = [("", v) for v in client.get("/api").get("versions", ["v1"])]
    targets = targets[:1]  # the core group has a single version, v1
    for g in client.get("/apis").get("groups", []):
        preferred = (g.get("preferredVersion") or g["versions"][0])["version"]
        targets.append((g["name"], preferred))
    resources: list[ApiResource] = []
    failures: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {gv: pool.submit(_resources_of, client, *gv) for gv in targets}
        for (group, version), future in futures.items():
            try:
                resources.extend(future.result())
            except KubeError as exc:
                failures[f"{group}/{version}" if group else version] = str(exc)
    return Discovery(resources=resources, failures=failures)
