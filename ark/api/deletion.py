"""DeleteBackupRequest: ask the operator to delete a backup with its data and snapshots."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from ark.api.types import Condition, Model


class DeleteBackupRequestPhase(StrEnum):
    NEW = "New"
    IN_PROGRESS = "InProgress"
    PROCESSED = "Processed"


class DeleteBackupRequestSpec(Model):
    backup_name: str = Field(min_length=1, max_length=253, description="The backup to delete.")


class DeleteBackupRequestStatus(Model):
    phase: DeleteBackupRequestPhase | None = None
    errors: list[str] | None = Field(default=None, description="What could not be deleted.")
    conditions: list[Condition] | None = None
