"""The restore engine, as a library:
``ark.restore.run(client, store, name=..., backup_name=..., spec=RestoreSpec(...))``.

Reads a backup (ark's or Velero's) from object storage, checks all of it, plans waves, and
recreates the objects in the target cluster — the same one, or another (pass its client).
"""

from ark.restore.actions import RestoreContext, RestoreItemAction, load_actions
from ark.restore.apply import Outcome
from ark.restore.engine import run
from ark.restore.modifiers import InvalidModifiers, Modifiers
from ark.restore.plan import Candidate, Planned, RestorePlan, plan_restore
from ark.restore.pointintime import (
    PointInTime,
    PointInTimeUnavailable,
    base_backup,
)
from ark.restore.results import ItemOutcome, Outcomes, RestoreProgress, RestoreResult
from ark.restore.source import BackupUnavailable
from ark.restore.volume_import import ImportedVolume, import_volume
from ark.restore.volumes import VolumeOptions

__all__ = [
    "BackupUnavailable",
    "Candidate",
    "ImportedVolume",
    "InvalidModifiers",
    "ItemOutcome",
    "Modifiers",
    "Outcome",
    "Outcomes",
    "Planned",
    "PointInTime",
    "PointInTimeUnavailable",
    "RestoreContext",
    "RestoreItemAction",
    "RestorePlan",
    "RestoreProgress",
    "RestoreResult",
    "VolumeOptions",
    "base_backup",
    "import_volume",
    "load_actions",
    "plan_restore",
    "run",
]
