"""A restore test's verdict on volumes, as a pure function: each claim and PersistentVolume the
backup held in a tested namespace must have been made by the scratch restore."""

from __future__ import annotations

from ark.operator.restore_verdict import Held, held, missing

MAPPING = {"shop": "rt-abc123-shop"}
LIST = {
    "v1/Namespace": ["shop"],
    "v1/PersistentVolumeClaim": ["shop/data-0", "shop/data-1"],
    "v1/PersistentVolume": ["pv-0", "pv-1"],
}
HELD = held(LIST, {"pv-0": "shop/data-0", "pv-1": "shop/data-1"})


def test_every_claim_restored_is_nothing_missing() -> None:
    restored = {"rt-abc123-shop/data-0": "pv-0-1a2b3c4d", "rt-abc123-shop/data-1": "pvc-9"}
    assert missing(HELD, MAPPING, restored) == []


def test_no_claim_restored_names_each_claim_and_its_volume() -> None:
    assert missing(HELD, MAPPING, {}) == [
        "persistentvolumeclaims shop/data-0: in the backup, not restored (rt-abc123-shop/data-0)",
        "persistentvolumeclaims shop/data-1: in the backup, not restored (rt-abc123-shop/data-1)",
        "persistentvolumes pv-0: in the backup (claim shop/data-0), no volume restored for it "
        "(rt-abc123-shop/data-0 not restored)",
        "persistentvolumes pv-1: in the backup (claim shop/data-1), no volume restored for it "
        "(rt-abc123-shop/data-1 not restored)",
    ]


def test_one_claim_missing_is_named_alone() -> None:
    found = missing(HELD, MAPPING, {"rt-abc123-shop/data-0": "pv-0-1a2b3c4d"})
    assert [line.split(":", 1)[0] for line in found] == [
        "persistentvolumeclaims shop/data-1",
        "persistentvolumes pv-1",
    ]


def test_a_claim_not_bound_yet_is_not_missing() -> None:
    """Restored but Pending: the verdict names it as unbound, not as missing."""
    restored: dict[str, str | None] = {"rt-abc123-shop/data-0": None, "rt-abc123-shop/data-1": None}
    assert missing(HELD, MAPPING, restored) == []


def test_a_volume_of_no_tested_claim_is_not_judged() -> None:
    """Cluster resources included: volumes of other namespaces' claims, or whose claim is not
    known, are no part of the test."""
    other = held(
        {"v1/PersistentVolume": ["pv-other", "pv-loose"]},
        {"pv-other": "billing/data"},
    )
    assert other.volumes == {"pv-other": "billing/data", "pv-loose": None}
    assert missing(other, MAPPING, {}) == []


def test_a_backup_without_claims_needs_none() -> None:
    assert missing(Held(), MAPPING, {}) == []
    assert held({"v1/Namespace": ["shop"]}, {}) == Held()
