"""What every handler shares: the settings, one cluster client, and the concurrency limits.

Set once at startup (``start``); handlers read it with ``current()``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ark import control
from ark.api.kinds import Kind
from ark.kube import KubeClient
from ark.kube.ratelimit import TokenBucket
from ark.operator.changelogs import Watchers
from ark.operator.settings import Settings

EVERYTHING = "*"
SHORT_CALL_THREADS = 16
"""Threads for the handlers' short blocking calls (GETs, status patches, deletions, location
checks), on top of one for each backup and restore allowed to run at once."""


class NamespaceLocks:
    """Restores that write to the same namespaces run one after the other; others run together.
    ``*`` (a restore of every namespace) conflicts with all."""

    def __init__(self) -> None:
        self._busy: list[frozenset[str]] = []
        self._changed = asyncio.Condition()

    def _conflicts(self, wanted: frozenset[str]) -> bool:
        for held in self._busy:
            if EVERYTHING in held or EVERYTHING in wanted or held & wanted:
                return True
        return False

    @contextlib.asynccontextmanager
    async def hold(self, namespaces: Collection[str]) -> AsyncIterator[None]:
        wanted = frozenset(namespaces) or frozenset({EVERYTHING})
        async with self._changed:
            await self._changed.wait_for(lambda: not self._conflicts(wanted))
            self._busy.append(wanted)
        try:
            yield
        finally:
            async with self._changed:
                self._busy.remove(wanted)
                self._changed.notify_all()


@dataclass
class Runtime:
    settings: Settings
    client: KubeClient
    backups: asyncio.Semaphore
    restores: asyncio.Semaphore
    changelogs: Watchers
    """The schedules' change log watchers."""
    restore_targets: NamespaceLocks = field(default_factory=NamespaceLocks)

    @property
    def namespace(self) -> str:
        return self.settings.namespace

    async def get(self, kind: Kind, name: str) -> control.Obj | None:
        """One of ark's objects in the operator's namespace (off the event loop)."""
        return await asyncio.to_thread(control.get, self.client, kind, self.namespace, name)

    async def patch_status(self, kind: Kind, name: str, patch: control.Obj) -> None:
        """A merge patch of its status (off the event loop)."""
        await asyncio.to_thread(
            control.patch_status, self.client, kind, self.namespace, name, patch
        )


_current: Runtime | None = None


def start(settings: Settings) -> Runtime:
    """Create the shared state (inside the operator's event loop).

    The loop's default executor (``asyncio.to_thread``) gets a thread for every engine allowed
    to run at once and ``SHORT_CALL_THREADS`` more: asyncio's own default has ``cpus + 4``, so on
    a small node the running backups and restores could take every thread and leave status
    patches, deletions and expirations waiting for one of them to finish."""
    global _current  # noqa: PLW0603 - one operator per process
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(
            max_workers=settings.max_concurrent_backups
            + settings.max_concurrent_restores
            + SHORT_CALL_THREADS,
            thread_name_prefix="ark-operator",
        )
    )
    pool = max(
        64,
        settings.backup_workers * settings.max_concurrent_backups + 16,
        settings.restore_workers * settings.max_concurrent_restores + 16,
    )
    client = KubeClient.load(
        kubeconfig=settings.kubeconfig,
        pool_size=pool,
        rate_limit=(
            TokenBucket(qps=settings.client_qps, burst=settings.client_burst)
            if settings.client_qps
            else None
        ),
    )
    _current = Runtime(
        settings=settings,
        client=client,
        changelogs=Watchers(
            client,
            settings.namespace,
            connect=lambda: KubeClient.load(kubeconfig=settings.kubeconfig, pool_size=128),
        ),
        backups=asyncio.Semaphore(settings.max_concurrent_backups),
        restores=asyncio.Semaphore(settings.max_concurrent_restores),
    )
    return _current


def current() -> Runtime:
    if _current is None:
        raise RuntimeError("the operator has not started")
    return _current
