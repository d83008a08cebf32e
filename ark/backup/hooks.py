"""Backup exec hooks: commands run in the backed-up pods around the volume snapshots.

The order is what makes a crash-consistent set of snapshots application-consistent:

1. pre-hooks of every selected pod (``fsfreeze --freeze``, ``FLUSH TABLES WITH READ LOCK``),
   pods in parallel, each pod's hooks in order;
2. the snapshots of every volume start (``ark.backup.volumes``);
3. post-hooks as soon as every snapshot has *started* — and also when starting failed, so a
   frozen app is always thawed;
4. the backup waits for the snapshots to complete.

Hooks come from Velero's pod annotations (``pre.hook.backup.velero.io/command``, ...; they take
precedence for that pod and phase, and the unprefixed ``hook.backup.velero.io/...`` of old
Velero still counts as pre) or from ``spec.hooks.resources`` (namespaces, resources and a label
selector choose the pods). Defaults are Velero's: the pod's first container, ``onError: Fail``,
a 30 s timeout.

A failure with ``onError: Fail`` is an error naming pod, container, command and cause (the
backup ends PartiallyFailed, as in Velero); the pod's remaining pre-hooks are skipped and its
volumes are not snapshotted (the app was not quiesced). ``Continue`` makes it a warning.
Post-hooks run in every pod that had hooks, whatever its pre-hooks did. Hook output is not
logged (it may hold data); a failure quotes the end of stderr as its cause.

The commands go through an ``ExecTransport`` (by default the API server's ``pods/exec``), so
the orchestration is tested without a kubelet.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import orjson

from ark.api.backup import (
    DEFAULT_HOOK_TIMEOUT,
    BackupHooks,
    BackupResourceHookSpec,
    HookErrorMode,
)
from ark.api.types import parse_duration
from ark.kube import ApiResource, KubeError
from ark.kube.podexec import ExecResult
from ark.report import Issues, RunLog
from ark.selection import NamespaceFilter, selector_matches

#: Hook name of a hook taken from pod annotations (Velero's spelling).
FROM_ANNOTATION = "<from-annotation>"
MAX_PARALLEL_PODS = 16
_CAUSE_LIMIT = 300
_PODS = ApiResource(
    group="", version="v1", plural="pods", kind="Pod", namespaced=True, short_names=("po",)
)


class HookPhase(StrEnum):
    PRE = "pre"
    POST = "post"


class ExecTransport(Protocol):
    """Runs one command in one container and waits for it (``ark.kube.podexec.PodExec``).

    Returns the exit code (non-zero is a failed hook, not an exception); raises ``KubeError``
    when the command could not run or did not finish in time.
    """

    def __call__(
        self,
        *,
        namespace: str,
        pod: str,
        container: str,
        command: Sequence[str],
        timeout: float,
    ) -> ExecResult: ...


@dataclass(frozen=True)
class PodTarget:
    """What hook selection needs of a backed-up pod (not the whole object)."""

    namespace: str
    name: str
    containers: tuple[str, ...]
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    claims: tuple[str, ...] = ()
    """Names of the PersistentVolumeClaims the pod mounts (in its namespace)."""

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> PodTarget:
        meta = item.get("metadata") or {}
        spec = item.get("spec") or {}
        return cls(
            namespace=meta.get("namespace") or "",
            name=meta.get("name") or "",
            containers=tuple(c.get("name") or "" for c in spec.get("containers") or ()),
            labels=dict(meta.get("labels") or {}),
            annotations={
                k: v for k, v in (meta.get("annotations") or {}).items() if "hook.backup." in k
            },
            claims=tuple(
                v["persistentVolumeClaim"]["claimName"]
                for v in spec.get("volumes") or ()
                if (v.get("persistentVolumeClaim") or {}).get("claimName")
            ),
        )

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Hook:
    """One exec hook resolved for one pod and phase."""

    name: str
    phase: HookPhase
    container: str
    command: tuple[str, ...]
    on_error: HookErrorMode = HookErrorMode.FAIL
    timeout: float = 30.0

    def describe(self, pod: PodTarget) -> str:
        command = orjson.dumps(list(self.command)).decode()
        return (
            f"{self.phase} hook {self.name} in pod {pod.ref} container {self.container} "
            f"command {command}"
        )


@dataclass(frozen=True)
class HookResult:
    pod: PodTarget
    hook: Hook
    ok: bool
    message: str
    seconds: float = 0.0


@dataclass
class HookPlan:
    """Per pod, the hooks of each phase; ``warnings`` about annotation values not usable."""

    pods: list[tuple[PodTarget, list[Hook], list[Hook]]] = field(default_factory=list)
    warnings: list[tuple[PodTarget, str]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.pods


# -- selection (pure) ---------------------------------------------------------------------------
def plan_hooks(pods: Iterable[PodTarget], spec: BackupHooks | None) -> HookPlan:
    """The hooks each backed-up pod gets: its annotations for a phase if it has them, else the
    ``spec.hooks.resources`` entries that select it, in the order they are written."""
    plan = HookPlan()
    resources = (spec.resources if spec is not None else None) or []
    for pod in pods:
        if not pod.containers:
            continue
        phases: list[list[Hook]] = []
        for phase in (HookPhase.PRE, HookPhase.POST):
            hooks = _from_annotations(pod, phase, plan.warnings)
            if hooks is None:
                hooks = [h for r in resources if applies(r, pod) for h in _from_spec(r, pod, phase)]
            phases.append(hooks)
        if phases[0] or phases[1]:
            plan.pods.append((pod, phases[0], phases[1]))
    return plan


def applies(resource_hook: BackupResourceHookSpec, pod: PodTarget) -> bool:
    """Velero's ``applicableTo``: namespace globs, resources naming pods, the label selector."""
    namespaces = NamespaceFilter(
        resource_hook.included_namespaces, resource_hook.excluded_namespaces
    )
    if not namespaces.matches(pod.namespace):
        return False
    included = [r for r in resource_hook.included_resources or () if r]
    if included and "*" not in included and not any(_PODS.matches(r) for r in included):
        return False
    if any(_PODS.matches(r) or r == "*" for r in resource_hook.excluded_resources or ()):
        return False
    selector = resource_hook.label_selector
    return selector is None or selector_matches(selector, dict(pod.labels))


def _from_spec(
    resource_hook: BackupResourceHookSpec, pod: PodTarget, phase: HookPhase
) -> list[Hook]:
    entries = resource_hook.pre if phase is HookPhase.PRE else resource_hook.post
    return [
        Hook(
            name=resource_hook.name,
            phase=phase,
            container=entry.exec.container or pod.containers[0],
            command=tuple(entry.exec.command),
            on_error=HookErrorMode(entry.exec.on_error),
            timeout=_timeout(entry.exec.timeout),
        )
        for entry in entries or ()
    ]


def _from_annotations(
    pod: PodTarget, phase: HookPhase, warnings: list[tuple[PodTarget, str]]
) -> list[Hook] | None:
    """The hook Velero's annotations give for ``phase``, or None when they give none."""
    prefixes = [f"{phase}.hook.backup.velero.io/"]
    if phase is HookPhase.PRE:
        prefixes.append("hook.backup.velero.io/")  # Velero's legacy, unphased spelling
    for prefix in prefixes:
        command = pod.annotations.get(prefix + "command") or ""
        if not command:
            continue
        on_error = pod.annotations.get(prefix + "on-error") or ""
        if on_error and on_error not in {m.value for m in HookErrorMode}:
            warnings.append(
                (pod, f"annotation {prefix}on-error {on_error!r} is not Fail or Continue: Fail")
            )
        timeout_text = pod.annotations.get(prefix + "timeout") or ""
        timeout = _timeout(DEFAULT_HOOK_TIMEOUT)
        if timeout_text:
            try:
                timeout = _timeout(timeout_text)
            except ValueError:
                warnings.append(
                    (
                        pod,
                        f"annotation {prefix}timeout {timeout_text!r} is not a duration "
                        f"(e.g. 90s, 5m): {DEFAULT_HOOK_TIMEOUT} used",
                    )
                )
        return [
            Hook(
                name=FROM_ANNOTATION,
                phase=phase,
                container=pod.annotations.get(prefix + "container") or pod.containers[0],
                command=parse_command(command),
                on_error=HookErrorMode.CONTINUE
                if on_error == HookErrorMode.CONTINUE
                else HookErrorMode.FAIL,
                timeout=timeout,
            )
        ]
    return None


def _timeout(value: str) -> float:
    """Seconds of a Go duration; 0 means the default, as in Velero."""
    seconds = parse_duration(value).total_seconds()
    return seconds or parse_duration(DEFAULT_HOOK_TIMEOUT).total_seconds()


def parse_command(value: str) -> tuple[str, ...]:
    """Velero's command annotation: a JSON array of strings, else the whole value as one."""
    if value.startswith("["):
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            return (value,)
        if isinstance(parsed, list) and parsed and all(isinstance(p, str) for p in parsed):
            return tuple(parsed)
    return (value,)


# -- running ------------------------------------------------------------------------------------
class HookRun:
    """Runs a backup's hook plan: ``pre()`` once, then ``post()`` (idempotent: the first call
    runs the post-hooks, later calls do nothing, so it can sit in a ``finally``)."""

    def __init__(
        self,
        plan: HookPlan,
        transport: ExecTransport,
        *,
        issues: Issues,
        log: RunLog,
    ) -> None:
        self.plan = plan
        self.transport = transport
        self.issues = issues
        self.log = log
        self.results: list[HookResult] = []
        self.failed_pods: set[tuple[str, str]] = set()
        """(namespace, name) of pods whose pre-hooks failed with onError Fail."""
        self._lock = threading.Lock()
        self._post_done = False
        for pod, message in plan.warnings:
            issues.warn(message, resource="pods", namespace=pod.namespace, name=pod.name)

    @property
    def attempted(self) -> int:
        return len(self.results)

    @property
    def failed(self) -> int:
        return sum(1 for r in self.results if not r.ok)

    def blocked_claims(self) -> dict[tuple[str, str], PodTarget]:
        """(namespace, claim) of volumes not to snapshot: their pod's pre-hooks failed."""
        return {
            (pod.namespace, claim): pod
            for pod, _, _ in self.plan.pods
            if (pod.namespace, pod.name) in self.failed_pods
            for claim in pod.claims
        }

    def pre(self) -> None:
        self._phase(HookPhase.PRE)

    def post(self) -> None:
        with self._lock:
            if self._post_done:
                return
            self._post_done = True
        self._phase(HookPhase.POST)

    def _phase(self, phase: HookPhase) -> None:
        work = [
            (pod, pre if phase is HookPhase.PRE else post)
            for pod, pre, post in self.plan.pods
            if (pre if phase is HookPhase.PRE else post)
        ]
        if not work:
            return
        self.log.info(f"{phase} hooks: {sum(len(h) for _, h in work)} in {len(work)} pods")
        with ThreadPoolExecutor(max_workers=min(len(work), MAX_PARALLEL_PODS)) as pool:
            for _ in pool.map(lambda job: self._pod(*job), work):
                pass

    def _pod(self, pod: PodTarget, hooks: Sequence[Hook]) -> None:
        for index, hook in enumerate(hooks):
            result = self._one(pod, hook)
            with self._lock:
                self.results.append(result)
            if result.ok:
                self.log.info(f"{hook.describe(pod)}: done in {result.seconds:.2f}s")
                continue
            message = f"{hook.describe(pod)} failed: {result.message}"
            where = {"resource": "pods", "namespace": pod.namespace, "name": pod.name}
            if hook.on_error is HookErrorMode.CONTINUE:
                self.log.warning(f"{message} (onError Continue)")
                self.issues.warn(f"{message} (onError Continue)", **where)
                continue
            self.log.error(message)
            if hook.phase is HookPhase.PRE:
                skipped = len(hooks) - index - 1
                if skipped:
                    message += f"; its {skipped} later pre hooks not run"
                with self._lock:
                    self.failed_pods.add((pod.namespace, pod.name))
                self.issues.error(message, **where)
                return
            self.issues.error(message, **where)

    def _one(self, pod: PodTarget, hook: Hook) -> HookResult:
        try:
            outcome = self.transport(
                namespace=pod.namespace,
                pod=pod.name,
                container=hook.container,
                command=hook.command,
                timeout=hook.timeout,
            )
        except KubeError as exc:
            return HookResult(pod, hook, ok=False, message=str(exc))
        if outcome.exit_code == 0:
            return HookResult(pod, hook, ok=True, message="", seconds=outcome.seconds)
        cause = outcome.stderr.strip()[-_CAUSE_LIMIT:]
        message = f"exited {outcome.exit_code}" + (f": {cause}" if cause else "")
        return HookResult(pod, hook, ok=False, message=message, seconds=outcome.seconds)
