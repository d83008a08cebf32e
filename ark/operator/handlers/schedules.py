"""Schedule timer: one look per ``--schedule-interval``; cron decides whether it is a tick."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import kopf

from ark import control
from ark.operator import runtime, scheduling


async def tick(body: kopf.Body, name: str, **_: Any) -> None:
    """Timer: a Schedule's due backup, if its cron time has come, and its status."""
    rt = runtime.current()
    obj = await rt.get(control.SCHEDULE, name)
    if obj is None or obj["metadata"].get("deletionTimestamp"):
        return
    outcome = await asyncio.to_thread(
        scheduling.tick,
        rt.client,
        rt.namespace,
        obj,
        now=dt.datetime.now(dt.UTC),
        cron_seconds=rt.settings.cron_seconds,
    )
    current = obj.get("status") or {}
    changed = {k: v for k, v in outcome.status.items() if current.get(k) != v}
    if changed:
        await rt.patch_status(control.SCHEDULE, name, changed)
    if outcome.invalid and current.get("phase") != "FailedValidation":
        kopf.warn(body, reason="FailedValidation", message="; ".join(outcome.invalid))
    if outcome.created:
        kopf.info(body, reason="BackupCreated", message=f"created backup {outcome.created}")
    if outcome.skipped:
        kopf.info(
            body,
            reason="TickSkipped",
            message=f"tick skipped: the previous backup {outcome.skipped} still runs",
        )
