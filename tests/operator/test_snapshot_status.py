"""What the operator writes about volume snapshots, and how it reads it back after a restart:
pure functions, no cluster."""

from __future__ import annotations

import pytest

from ark.operator import settings, snapshots
from ark.persistence import SnapshotRecord


def _record(pv: str, snapshot_id: str, *, phase: str = "Completed") -> SnapshotRecord:
    return SnapshotRecord(
        persistent_volume=pv,
        location="ebs",
        provider="aws",
        region="us-east-1",
        volume_id=f"vol-{pv}",
        snapshot_id=snapshot_id,
        phase=phase,
        claim=f"shop/{pv}",
    )


def test_started_snapshots_are_recorded_with_ids_before_any_completes() -> None:
    patch = snapshots.started_status([_record("a", "snap-1", phase="InProgress")])
    assert patch == {
        "volumeSnapshots": [
            {
                "persistentVolume": "a",
                "persistentVolumeClaim": "shop/a",
                "location": "ebs",
                "provider": "aws",
                "volumeId": "vol-a",
                "snapshotId": "snap-1",
                "phase": "InProgress",
            }
        ],
        "volumeSnapshotsAttempted": 1,
    }


def test_a_restarted_attempt_adopts_only_snapshots_that_have_ids() -> None:
    status = {
        "attempt": 1,
        "volumeSnapshots": [
            {"persistentVolume": "a", "snapshotId": "snap-1"},
            {"persistentVolume": "b", "snapshotId": "", "phase": "Failed"},
        ],
    }
    assert snapshots.adoptable(status) == {"a": "snap-1"}
    options = snapshots.backup_options(
        [object()],  # type: ignore[list-item]
        status=status,
        on_started=lambda _: None,
        timeout=5,
    )
    assert options is not None and dict(options.adopt) == {"a": "snap-1"}


def test_a_first_attempt_adopts_nothing_and_no_locations_means_no_snapshots() -> None:
    first = snapshots.backup_options(
        [object()],  # type: ignore[list-item]
        status={"volumeSnapshots": [{"persistentVolume": "a", "snapshotId": "snap-1"}]},
        on_started=lambda _: None,
        timeout=5,
    )
    assert first is not None and not first.adopt
    assert snapshots.backup_options([], status=None, on_started=lambda _: None, timeout=5) is None


def test_final_status_counts_and_keeps_snapshots_an_interrupted_attempt_left() -> None:
    records = [_record("a", "snap-1"), _record("b", "", phase="Failed")]
    earlier = [{"persistentVolume": "c", "snapshotId": "snap-9", "provider": "aws"}]
    out = snapshots.final_status(records, skew=0.01234, earlier=earlier)
    assert out["volumeSnapshotsAttempted"] == 2
    assert out["volumeSnapshotsCompleted"] == 1
    assert out["snapshotSkewSeconds"] == 0.012
    ids = [e["snapshotId"] for e in out["volumeSnapshots"]]
    assert ids == ["snap-1", "", "snap-9"]  # snap-9 stays listed, so deletion removes it
    assert "interrupted attempt" in out["volumeSnapshots"][2]["message"]


def test_no_snapshots_clears_the_list() -> None:
    out = snapshots.final_status([], skew=None)
    assert out == {
        "volumeSnapshotsAttempted": 0,
        "volumeSnapshotsCompleted": 0,
        "volumeSnapshots": None,
        "snapshotSkewSeconds": None,
    }


def test_default_locations_flag_is_provider_colon_name() -> None:
    assert settings.provider_locations("aws:ebs-east, gcp:pd") == {"aws": "ebs-east", "gcp": "pd"}
    assert settings.provider_locations("") == {}
    got = settings.from_args(["--default-volume-snapshot-locations", "aws:ebs"])
    assert got.default_volume_snapshot_locations == {"aws": "ebs"}


@pytest.mark.parametrize(
    ("value", "message"), [("aws", "not provider:name"), ("aws:a,aws:b", "twice")]
)
def test_default_locations_flag_refuses_what_it_cannot_read(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        settings.provider_locations(value)
