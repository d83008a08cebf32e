"""What each phase of ark's resources means as kstatus conditions.

Every kind carries ``Ready`` (True once it is what it was asked to be: a backup or restore
Completed, a schedule Enabled, a location Available, a deletion request Processed without
errors), so ``kubectl wait --for=condition=Ready`` and GitOps tools see its health. While it
works, ``Reconciling`` is True; when it ended short of Ready and will not get there by itself,
``Stalled`` is True (kstatus reads these two as InProgress and Failed).
"""

from __future__ import annotations

from dataclasses import dataclass

READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"


@dataclass(frozen=True, slots=True)
class Readiness:
    """The conditions one phase sets: Ready's status, and which of the others is True."""

    ready: bool
    reconciling: bool = False
    stalled: bool = False


_DONE = Readiness(ready=True)
_WORKING = Readiness(ready=False, reconciling=True)
_FAILED = Readiness(ready=False, stalled=True)

_BY_PHASE: dict[str, dict[str, Readiness]] = {
    "Backup": {
        "New": _WORKING,
        "InProgress": _WORKING,
        "WaitingForSnapshots": _WORKING,
        "Deleting": _WORKING,
        "Completed": _DONE,
        "PartiallyFailed": _FAILED,
        "Failed": _FAILED,
        "FailedValidation": _FAILED,
    },
    "Restore": {
        "New": _WORKING,
        "InProgress": _WORKING,
        "Completed": _DONE,
        "PartiallyFailed": _FAILED,
        "Failed": _FAILED,
        "FailedValidation": _FAILED,
    },
    "Schedule": {"New": _WORKING, "Enabled": _DONE, "FailedValidation": _FAILED},
    "BackupStorageLocation": {"Available": _DONE, "Unavailable": Readiness(ready=False)},
    "VolumeSnapshotLocation": {"Available": _DONE, "Unavailable": Readiness(ready=False)},
    "DeleteBackupRequest": {"New": _WORKING, "InProgress": _WORKING, "Processed": _DONE},
}


def readiness(kind: str, phase: str, *, errors: bool = False) -> Readiness | None:
    """The conditions ``phase`` of ``kind`` stands for; None for a phase ark does not know.
    ``errors``: a DeleteBackupRequest Processed with errors listed (not all deleted)."""
    found = _BY_PHASE.get(kind, {}).get(phase)
    if found is _DONE and errors:
        return _FAILED
    return found
