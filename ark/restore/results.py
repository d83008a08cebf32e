"""What a restore produces: its progress while it runs, and its result with an outcome per
item (what the Restore's status and results file say)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ark.api.restore import RestorePhase
from ark.report import Issues
from ark.restore.plan import RestorePlan


@dataclass
class RestoreProgress:
    total_items: int = 0
    items_restored: int = 0
    current_wave: int | None = None


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    resource: str
    namespace: str | None
    name: str
    target_namespace: str | None
    outcome: str
    message: str | None = None
    diff: tuple[str, ...] = ()
    modified_by: tuple[int, ...] = ()
    """The resource modifier rules (their indexes) that changed the object."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "resource": self.resource,
            "name": self.name,
            "outcome": self.outcome,
        }
        if self.namespace:
            out["namespace"] = self.namespace
        if self.target_namespace and self.target_namespace != self.namespace:
            out["targetNamespace"] = self.target_namespace
        if self.message:
            out["message"] = self.message
        if self.diff:
            out["diff"] = list(self.diff)
        if self.modified_by:
            out["modifiedBy"] = list(self.modified_by)
        return out


@dataclass(frozen=True)
class VolumeOutcome:
    """Where a restored PersistentVolume's volume came from and went (``RestoredVolume``)."""

    persistent_volume: str
    source: str
    target: str
    volume_id: str
    zone: str | None
    snapshot_id: str
    how: str
    location: str | None = None
    """The VolumeSnapshotLocation the new volume is in (the restore's target location, else the
    one the snapshot is in): where a restore test's cleanup deletes it."""

    def status(self) -> dict[str, Any]:
        out = {
            "persistentVolume": self.persistent_volume,
            "source": self.source,
            "target": self.target,
            "volumeId": self.volume_id,
            "zone": self.zone,
            "snapshotId": self.snapshot_id,
            "how": self.how,
            "location": self.location,
        }
        return {k: v for k, v in out.items() if v is not None}

    def __str__(self) -> str:
        where = f" in {self.zone}" if self.zone else ""
        return (
            f"{self.persistent_volume}: {self.source} -> {self.target} volume "
            f"{self.volume_id}{where} ({self.how}, from {self.snapshot_id})"
        )


@dataclass
class RestoreResult:
    name: str
    backup_name: str
    phase: RestorePhase
    started: dt.datetime
    completed: dt.datetime
    progress: RestoreProgress
    issues: Issues
    failure_reason: str | None = None
    outcomes: list[ItemOutcome] = field(default_factory=list)
    plan: RestorePlan | None = None
    volumes: list[VolumeOutcome] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(o.outcome for o in self.outcomes))

    @property
    def warnings(self) -> int:
        return len(self.issues.warnings)

    @property
    def errors(self) -> int:
        return len(self.issues.errors)


ProgressCallback = Callable[[RestoreProgress], None]
