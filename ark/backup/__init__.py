"""The backup engine, as a library: ``ark.backup.run(client, store, name=..., spec=...)``.

Works without the operator (tests, the CLI); the operator calls the same function off its
event loop and mirrors ``Progress`` into the Backup's status.
"""

from ark.backup.actions import ActionContext, BackupItemAction, ItemRef, load_actions
from ark.backup.engine import run
from ark.backup.plan import BackupPlan, ClusterScope, ListTask, plan_backup
from ark.backup.results import BackupResult, Progress, SnapshotOptions
from ark.backup.volume_export import export_volume
from ark.backup.volume_exports import ExportOutcome, export_snapshots
from ark.backup.volumes import SnapshotLocation

__all__ = [
    "ActionContext",
    "BackupItemAction",
    "BackupPlan",
    "BackupResult",
    "ClusterScope",
    "ExportOutcome",
    "ItemRef",
    "ListTask",
    "Progress",
    "SnapshotLocation",
    "SnapshotOptions",
    "export_snapshots",
    "export_volume",
    "load_actions",
    "plan_backup",
    "run",
]
