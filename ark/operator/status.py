"""Status writes while an engine runs: the engine reports progress from its threads as often as
it likes; at most one status patch per interval reaches the API server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

from ark import control
from ark.api.kinds import Kind
from ark.kube import KubeClient, KubeError

_log = logging.getLogger("ark.operator")


def internal_error(exc: Exception) -> dict[str, Any]:
    """The status of a run whose engine raised: a bug, reported rather than retried forever."""
    return {
        "phase": "Failed",
        "failureReason": f"internal error: {exc}",
        "completionTimestamp": control.timestamp(),
    }


def interrupted_too_often(obj: dict[str, Any], *, limit: int) -> dict[str, Any] | None:
    """The Failed status of a run found InProgress after ``limit`` attempts: each was cut short
    with the operator (killed for memory, say, by what this run reads); running it again
    would only do that again. None while attempts remain."""
    st = obj.get("status") or {}
    attempts = int(st.get("attempt") or 0)
    if st.get("phase") != "InProgress" or attempts < limit:
        return None
    return {
        "phase": "Failed",
        "failureReason": (
            f"interrupted {attempts} times: the operator stopped while it ran, each time "
            "(see its restarts and their reason, e.g. OOMKilled); not tried again"
        ),
        "completionTimestamp": control.timestamp(),
    }


class ProgressReporter:
    """Collects the latest progress (thread-safe) and patches it into status every
    ``interval`` seconds while ``running()`` is active."""

    def __init__(
        self,
        client: KubeClient,
        kind: Kind,
        namespace: str,
        name: str,
        *,
        render: Callable[[Any], dict[str, Any]],
        interval: float,
    ) -> None:
        self._client = client
        self._kind = kind
        self._namespace = namespace
        self._name = name
        self._render = render
        self._interval = interval
        self._lock = threading.Lock()
        self._latest: dict[str, Any] | None = None
        self._sent: dict[str, Any] | None = None

    def update(self, progress: Any) -> None:
        """Called by the engine, from any thread."""
        rendered = self._render(progress)
        with self._lock:
            self._latest = rendered

    async def _flush(self) -> None:
        with self._lock:
            latest = self._latest
        if latest is None or latest == self._sent:
            return
        try:
            await asyncio.to_thread(
                control.patch_status,
                self._client,
                self._kind,
                self._namespace,
                self._name,
                {"progress": latest},
            )
            self._sent = latest
        except KubeError as exc:  # progress is best effort; the final status is not
            _log.warning(
                "%s %s/%s: cannot write progress: %s",
                self._kind.kind,
                self._namespace,
                self._name,
                exc,
            )

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self._flush()

    async def run_while(self, work: Callable[[], Any]) -> Any:
        """Run blocking ``work`` in a thread, reporting progress until it returns."""
        ticker = asyncio.create_task(self._loop())
        try:
            return await asyncio.to_thread(work)
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
