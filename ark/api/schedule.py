"""Schedule: a cron string and a Backup template, with retention."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from croniter import croniter
from pydantic import Field, field_validator

from ark.api import limits
from ark.api.backup import BackupSpec
from ark.api.types import Condition, Model

_MACROS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
# One cron field: *, numbers or names, ranges, steps and lists ("*/15", "1-5", "MON,WED").
_FIELD = (
    r"(\*|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?(,(\*|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?)*"
)
CRON_PATTERN = (
    rf"^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|{_FIELD}( +{_FIELD}){{4}})$"
)


def validate_cron(expression: str) -> str:
    """A standard 5-field cron string or a macro (@daily, …), as croniter understands it."""
    expr = expression.strip()
    if expr in _MACROS:
        return expr
    if len(expr.split()) != 5 or not croniter.is_valid(expr):
        raise ValueError(f"invalid cron schedule {expression!r}: want 5 fields, e.g. '0 3 * * *'")
    return expr


class SchedulePhase(StrEnum):
    NEW = "New"
    ENABLED = "Enabled"
    FAILED_VALIDATION = "FailedValidation"


class RetentionPolicy(Model):
    """Which of the schedule's successful backups to keep; the others are deleted.

    A backup is kept if any rule keeps it; with no rule set, backups expire only by their ttl.
    """

    keep_last: int | None = Field(default=None, ge=1, le=10000, description="The newest N.")
    keep_hourly: int | None = Field(default=None, ge=1, le=10000, description="Newest per hour.")
    keep_daily: int | None = Field(default=None, ge=1, le=10000, description="Newest per day.")
    keep_weekly: int | None = Field(default=None, ge=1, le=10000, description="Newest per week.")
    keep_monthly: int | None = Field(default=None, ge=1, le=10000, description="Newest per month.")


class ChangeLogSpec(Model):
    """The schedule's change log: every change to the objects its backups include, between
    them, so a restore can reach any instant (``Restore.spec.pointInTime``)."""

    enabled: bool = Field(default=False, description="Record the change log.")
    flush_seconds: int = Field(
        default=10,
        ge=1,
        le=3600,
        description="A segment with changes is stored this long after it opened: the most a "
        "restore can lag the cluster.",
    )


class RestoreTestSpec(Model):
    """Restore each Completed backup into scratch namespaces of this cluster and judge it."""

    enabled: bool = Field(
        default=False,
        description="Test each Completed backup by restoring it (condition RestoreTested).",
    )
    keep_failed: bool = Field(
        default=False,
        description="Keep the scratch namespaces (and the volumes restored into them) of a "
        "failed test, to look at (delete them yourself).",
    )
    volumes: bool = Field(
        default=True,
        description="Restore the claims and their volumes too: new volumes from the backup's "
        "snapshots, each checked bound, then deleted with the scratch namespaces. False leaves "
        "claims and volumes out of the test.",
    )


class ScheduleSpec(Model):
    schedule: str = Field(
        min_length=1,
        max_length=256,
        pattern=CRON_PATTERN,
        description="Cron expression (5 fields, UTC) or a macro such as @daily.",
    )
    template: BackupSpec = Field(description="The spec of each Backup the schedule creates.")
    paused: bool = Field(default=False, description="Create no backups while true.")
    retention: RetentionPolicy | None = Field(
        default=None, description="Delete older successful backups beyond these counts."
    )
    use_owner_references_in_backup: bool = Field(
        default=False, description="Make the schedule the owner of its backups."
    )
    verify: bool = Field(
        default=False,
        description=(
            "Verify each backup once it finishes (as ark backup verify): every item's "
            "checksum, the manifest against the record; the result goes into the Backup's "
            "status (condition Verified) and a metric."
        ),
    )

    change_log: ChangeLogSpec | None = Field(
        default=None,
        description="Record every change between backups, for point-in-time restores; "
        "watched while the schedule is not paused.",
    )
    restore_test: RestoreTestSpec | None = Field(
        default=None,
        description="Restore each Completed backup into scratch namespaces (rt-<hash>-<ns>), "
        "namespaced objects and their PersistentVolumes (new volumes from the backup's "
        "snapshots); passed when the restore Completed (exact) and every restored claim is "
        "bound, then the scratch namespaces and the volumes the test made are deleted.",
    )

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        return validate_cron(value)


class ChangeLogGap(Model):
    resource: str
    start: dt.datetime
    end: dt.datetime
    reason: str


class ChangeLogStatus(Model):
    """How far the change log reaches, for ``ark schedule describe`` and the metrics."""

    watching: bool = Field(default=False, description="Whether the operator records it now.")
    since: dt.datetime | None = Field(
        default=None, description="The oldest stored segment's start."
    )
    stored_through: dt.datetime | None = Field(
        default=None, description="The end of the newest stored segment: restores reach this far."
    )
    newest_change: dt.datetime | None = Field(
        default=None, description="When the newest recorded change was observed."
    )
    resources: int = Field(default=0, ge=0, description="Resources watched.")
    gaps: list[ChangeLogGap] | None = Field(
        default=None, max_length=20, description="Spans no restore can reach (newest 20)."
    )
    message: str | None = Field(default=None, description="Why it is not recorded, if so.")


MAX_SCRATCH_VOLUMES = 500


class ScratchVolume(Model):
    """A PersistentVolume a restore test made, and the volume behind it it deletes."""

    persistent_volume: str
    volume_id: str | None = Field(
        default=None,
        description="The cloud volume (csi: the volume handle); none: the "
        "PersistentVolume object only (Retain, its storage not the test's).",
    )
    provider: str | None = None
    location: str | None = Field(
        default=None, description="The VolumeSnapshotLocation the volume is in."
    )


class RestoreTestStatus(Model):
    """The newest restore test: InProgress, Passed or Failed."""

    backup: str | None = None
    restore: str | None = None
    phase: str | None = Field(default=None, description="InProgress, Passed or Failed.")
    started: dt.datetime | None = None
    completed: dt.datetime | None = None
    items_restored: int | None = Field(default=None, ge=0)
    scratch_namespaces: list[str] | None = Field(
        default=None, max_length=limits.NAMESPACE_MAPPINGS_MAX
    )
    message: str | None = None
    restore_uid: str | None = Field(
        default=None, description="The test Restore's uid: the tag on the volumes it made."
    )
    cleanup: list[ScratchVolume] | None = Field(
        default=None,
        max_length=MAX_SCRATCH_VOLUMES,
        description="The PersistentVolumes (and cloud volumes) the test made and has not "
        "deleted yet: retried at each look.",
    )
    left_behind: list[str] | None = Field(
        default=None,
        max_length=MAX_SCRATCH_VOLUMES + limits.NAMESPACE_MAPPINGS_MAX,
        description="What the test made and could not delete yet, each named with why.",
    )
    cleanup_attempted: dt.datetime | None = Field(
        default=None, description="When the test last tried to delete what it made."
    )


class ScheduleStatus(Model):
    phase: SchedulePhase | None = None
    validation_errors: list[str] | None = None
    last_backup: dt.datetime | None = Field(default=None, description="When it last ran.")
    last_backup_name: str | None = None
    last_successful_backup: dt.datetime | None = None
    next_run: dt.datetime | None = None
    skipped_ticks: int = Field(default=0, ge=0, description="Ticks skipped (previous running).")
    change_log: ChangeLogStatus | None = None
    restore_test: RestoreTestStatus | None = None
    conditions: list[Condition] | None = None
