"""Volume snapshot records: what a backup keeps about each volume's snapshot, in Velero's
``<name>-volumesnapshots.json.gz`` shape (ark's extra fields under ``ark``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SnapshotRecord:
    """One volume's snapshot: what the restore needs to bring the volume back."""

    persistent_volume: str
    location: str
    provider: str
    region: str
    volume_id: str
    snapshot_id: str
    phase: str = "InProgress"
    claim: str | None = None
    zone: str | None = None
    volume_type: str | None = None
    iops: int | None = None
    size_gib: int | None = None
    encrypted: bool = False
    started: float = 0.0
    message: str | None = None
    source: Mapping[str, str] = field(default_factory=dict)
    """What finds the snapshot beyond its id (``SnapshotStatus.source``; csi: driver and
    snapshotHandle); empty in records written before it existed."""

    def to_velero(self, backup_name: str) -> dict[str, Any]:
        """Velero's volumesnapshots.json entry, with ark's extra fields under ``ark``."""
        return {
            "spec": {
                "backupName": backup_name,
                "location": self.location,
                "persistentVolumeName": self.persistent_volume,
                "providerVolumeID": self.volume_id,
                "volumeType": self.volume_type or "",
                "volumeAZ": self.zone or "",
                "volumeIOPS": self.iops,
            },
            "status": {"providerSnapshotID": self.snapshot_id, "phase": self.phase},
            "ark": {
                "provider": self.provider,
                "region": self.region,
                "claim": self.claim,
                "sizeGiB": self.size_gib,
                "encrypted": self.encrypted,
                "message": self.message,
                **({"started": self.started} if self.started else {}),
                **({"source": dict(self.source)} if self.source else {}),
            },
        }

    @classmethod
    def from_velero(cls, entry: Mapping[str, Any]) -> SnapshotRecord:
        spec, status, extra = entry["spec"], entry["status"], entry.get("ark") or {}
        return cls(
            persistent_volume=spec["persistentVolumeName"],
            location=spec.get("location") or "",
            provider=extra.get("provider") or "",
            region=extra.get("region") or "",
            volume_id=spec.get("providerVolumeID") or "",
            snapshot_id=status.get("providerSnapshotID") or "",
            phase=status.get("phase") or "",
            claim=extra.get("claim"),
            zone=spec.get("volumeAZ") or None,
            volume_type=spec.get("volumeType") or None,
            iops=spec.get("volumeIOPS"),
            size_gib=extra.get("sizeGiB"),
            encrypted=bool(extra.get("encrypted")),
            started=_seconds(extra.get("started")),
            source={str(k): str(v) for k, v in (extra.get("source") or {}).items()},
        )


def _seconds(value: Any) -> float:
    """``started`` as stored (epoch seconds); 0.0 when absent or not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return float(value)
