"""Target namespaces: created before anything goes into them, waited for when terminating."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol

from ark.api.restore import RestoreSpec
from ark.kube import KubeClient
from ark.report import Issues, RunLog
from ark.restore.actions import RestoreContext, RestoreItemAction, apply_actions
from ark.restore.apply import Applied, Outcome, Writer
from ark.restore.plan import Planned

if TYPE_CHECKING:
    from ark.restore.source import OpenBackup


class _Run(Protocol):
    """What of a running restore the namespaces step uses (the engine's run state)."""

    client: KubeClient
    spec: RestoreSpec
    actions: list[RestoreItemAction]
    issues: Issues
    log: RunLog
    writer: Writer
    failed_namespaces: dict[str, str]

    def record(self, planned: Planned, applied: Applied) -> None: ...


def _phase(state: _Run, name: str) -> str | None:
    live = state.client.get_or_none(f"/api/v1/namespaces/{name}")
    if live is None:
        return None
    return str((live.get("status") or {}).get("phase") or "Active")


def _wait_terminated(state: _Run, name: str, *, timeout: float) -> str | None:
    """Wait out a Terminating namespace; return an error message when it outlives ``timeout``."""
    started = time.monotonic()
    logged = False
    while (phase := _phase(state, name)) == "Terminating":
        waited = time.monotonic() - started
        if waited > timeout:
            return f"namespace {name!r} is terminating (waited {timeout:.0f}s)"
        if not logged:
            state.log.info(f"namespace {name} is terminating; waiting up to {timeout:.0f}s")
            logged = True
        time.sleep(0.5)
    del phase
    return None


def ensure(
    state: _Run,
    opened: OpenBackup,
    ns_items: list[Planned],
    targets: list[str],
    context: RestoreContext,
    *,
    timeout: float,
    workers: int = 1,
) -> None:
    """Create every target namespace (from its backed-up object when there is one, mapped),
    after any Terminating namespace of that name is gone, ``workers`` at a time (each is a
    read and a create: a thousand namespaces one by one would hold up the restore for
    seconds). A namespace that cannot be had fails its items with the reason."""
    from_backup = {context.map_namespace(p.key[2]): p for p in ns_items}

    def one(target: str) -> None:
        _ensure_one(state, opened, target, from_backup.get(target), context, timeout=timeout)

    if workers <= 1 or len(targets) <= 1:
        for target in targets:
            one(target)
        return
    with ThreadPoolExecutor(max_workers=min(workers, len(targets))) as pool:
        for done in [pool.submit(one, target) for target in targets]:
            done.result()


def _ensure_one(
    state: _Run,
    opened: OpenBackup,
    target: str,
    planned: Planned | None,
    context: RestoreContext,
    *,
    timeout: float,
) -> None:
    if state.spec.dry_run:
        exists = _phase(state, target) is not None
        if planned is not None:
            outcome = Outcome.WOULD_SKIP_EXISTS if exists else Outcome.WOULD_CREATE
            state.record(planned, Applied(outcome))
        return
    problem = _wait_terminated(state, target, timeout=timeout)
    if problem is not None:
        state.failed_namespaces[target] = problem
        if planned is not None:
            state.record(planned, Applied(Outcome.FAILED, message=problem))
        return
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": target},
    }
    if planned is not None:
        item = opened.index.get("namespaces", None, planned.key[2])
        if item is not None:
            body = apply_actions(
                state.actions,
                opened.index.load(item),
                resource_dir="namespaces",
                context=context,
            )
    applied = state.writer.apply(
        body, resource_dir="namespaces", plural="namespaces", namespaced=False
    )
    if applied.outcome is Outcome.FAILED:
        state.failed_namespaces[target] = f"namespace {target!r}: {applied.message}"
    if planned is not None:
        state.record(planned, applied)
    elif applied.outcome is Outcome.FAILED:
        state.issues.error(f"cannot create: {applied.message}", resource="namespaces", name=target)
    else:
        state.log.info(f"namespace {target}: {applied.outcome.value} (not in the backup)")
