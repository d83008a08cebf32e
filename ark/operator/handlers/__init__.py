"""kopf handlers, registered on a registry with the intervals the settings name.

Every handler is thin: it reads the object fresh, hands the work to an engine, a module of
``ark.operator`` or ``ark.control`` in a thread (``asyncio.to_thread``: nothing blocks the event
loop), writes status, and posts Events.
"""

from __future__ import annotations

from typing import Any

import kopf

from ark.api.types import GROUP, VERSION
from ark.operator.handlers import backups, deletion, locations, restores, schedules
from ark.operator.settings import Settings

BACKOFF = 5.0


def _on(plural: str) -> tuple[str, str, str]:
    return (GROUP, VERSION, plural)


def register(registry: kopf.OperatorRegistry, settings: Settings) -> None:
    common: dict[str, Any] = {"registry": registry, "backoff": BACKOFF}

    def changes(plural: str, fn: Any, *, update: bool = False) -> None:
        kopf.on.create(*_on(plural), id="reconcile", **common)(fn)
        kopf.on.resume(*_on(plural), id="resume", **common)(fn)
        if update:
            kopf.on.update(*_on(plural), id="update", **common)(fn)

    changes("backups", backups.reconcile)
    # No deletion handler: deleting a Backup (or the CRDs, or ark's namespace) deletes no data.
    kopf.timer(*_on("backups"), id="expire", interval=settings.gc_interval, **common)(
        backups.collect_garbage
    )
    kopf.timer(*_on("schedules"), id="tick", interval=settings.schedule_interval, **common)(
        schedules.tick
    )
    # No finalizer: a deleted Schedule's watcher stops on its DELETED event.
    kopf.on.event(*_on("schedules"), id="changelog", registry=registry)(schedules.forget)
    changes("backupstoragelocations", locations.reconcile_bsl, update=True)
    kopf.timer(
        *_on("backupstoragelocations"), id="check", interval=settings.location_interval, **common
    )(locations.reconcile_bsl)
    changes("volumesnapshotlocations", locations.reconcile_vsl, update=True)
    kopf.timer(
        *_on("volumesnapshotlocations"), id="check", interval=settings.location_interval, **common
    )(locations.reconcile_vsl)
    changes("deletebackuprequests", deletion.process)
    changes("restores", restores.reconcile)
