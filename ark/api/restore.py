"""Restore: which backup, what to bring back, where to, and what happened to every item."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, ClassVar, Self

from pydantic import Field, StringConstraints, model_validator

from ark.api import limits
from ark.api.backup import ResourceFilter
from ark.api.types import CelRule, Condition, Duration, Model

_NAME = StringConstraints(min_length=1, max_length=253)
_NAMESPACE = StringConstraints(
    min_length=1, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
)
_CLUSTER_UID = StringConstraints(min_length=1, max_length=63, pattern=limits.CLUSTER_UID_PATTERN)


class RestorePhase(StrEnum):
    NEW = "New"
    FAILED_VALIDATION = "FailedValidation"
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    PARTIALLY_FAILED = "PartiallyFailed"
    FAILED = "Failed"


TERMINAL_RESTORE_PHASES = frozenset(
    {
        RestorePhase.FAILED_VALIDATION,
        RestorePhase.COMPLETED,
        RestorePhase.PARTIALLY_FAILED,
        RestorePhase.FAILED,
    }
)


class ExistingResourcePolicy(StrEnum):
    NONE = "none"
    UPDATE = "update"
    RECREATE = "recreate"


_DNS_LABEL = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


class ResourceModifierRef(Model):
    """A ConfigMap of resource modifier rules in the Restore's namespace (Velero's
    TypedLocalObjectReference: ``kind: ConfigMap``, ``name``)."""

    api_group: str | None = Field(
        default=None, max_length=0, description="Empty: a ConfigMap is in the core group."
    )
    kind: str = Field(
        default="ConfigMap",
        pattern="^[Cc][Oo][Nn][Ff][Ii][Gg][Mm][Aa][Pp]$",
        description="ConfigMap (the only kind; any case, as Velero accepts).",
    )
    name: Annotated[str, _NAME] = Field(description="The ConfigMap's name.")


class RestoreSpec(ResourceFilter):
    cel_rules: ClassVar[tuple[CelRule, ...]] = (
        CelRule(
            "has(self.backupName) != has(self.scheduleName)",
            "exactly one of backupName or scheduleName must be set",
            ".backupName",
        ),
        CelRule(
            "!has(self.namespaceMapping) || self.namespaceMapping.all(k,"
            f" size(k) <= 63 && k.matches('{_DNS_LABEL}'))",
            "namespaceMapping keys must be namespace names (DNS labels)",
            ".namespaceMapping",
        ),
        CelRule(
            "!has(self.namespaceMapping) || self.namespaceMapping.all(k,"
            " self.namespaceMapping.all(j, j == k ||"
            " self.namespaceMapping[j] != self.namespaceMapping[k]))",
            "namespaceMapping maps two namespaces onto one",
            ".namespaceMapping",
        ),
        CelRule(
            "!has(self.namespaceMapping) || !has(self.excludedNamespaces) ||"
            " self.namespaceMapping.all(k, !(k in self.excludedNamespaces))",
            "namespaceMapping maps a namespace that excludedNamespaces excludes",
            ".namespaceMapping",
        ),
        CelRule(
            "!has(self.pointInTimeCluster) || has(self.pointInTime)",
            "pointInTimeCluster goes with pointInTime",
            ".pointInTimeCluster",
        ),
        CelRule(
            "!has(self.pointInTime) || has(self.scheduleName)",
            "pointInTime needs scheduleName (the schedule whose change log reaches it), "
            "not backupName",
            ".pointInTime",
        ),
    )

    backup_name: Annotated[str, _NAME] | None = Field(
        default=None, description="The backup to restore. Exactly one of backupName/scheduleName."
    )
    schedule_name: Annotated[str, _NAME] | None = Field(
        default=None, description="Restore the newest completed backup of this schedule."
    )
    point_in_time: dt.datetime | None = Field(
        default=None,
        description=(
            "Restore the objects as they stood at this instant (RFC 3339): the schedule's "
            "newest Completed backup before it, with the schedule's change log replayed up "
            "to it. Needs scheduleName."
        ),
    )
    point_in_time_cluster: Annotated[str, _CLUSTER_UID] | None = Field(
        default=None,
        description=(
            "The cluster whose schedule and change log pointInTime restores (the uid of its "
            "kube-system namespace). Needed only when clusters sharing the bucket have "
            "schedules of this name; by default, the one cluster that wrote its backups."
        ),
    )
    namespace_mapping: dict[Annotated[str, _NAMESPACE], Annotated[str, _NAMESPACE]] | None = Field(
        default=None,
        max_length=limits.NAMESPACE_MAPPINGS_MAX,
        description="Restore namespace A as B (clone): {A: B}. Several mappings at once.",
    )
    restore_pvs: bool | None = Field(
        default=None,
        alias="restorePVs",
        description="Create volumes from the backup's snapshots (default: true).",
    )
    volume_snapshot_location: Annotated[str, _NAME] | None = Field(
        default=None,
        description=(
            "Create restored volumes in this VolumeSnapshotLocation's region; snapshots in "
            "another region are copied there first (cross-region clone)."
        ),
    )
    volume_zone: str | None = Field(
        default=None,
        max_length=253,
        description="Zone for restored volumes (default: the original's; needed across regions).",
    )
    existing_resource_policy: ExistingResourcePolicy = Field(
        default=ExistingResourcePolicy.NONE,
        description="none: keep live objects; update: patch them; recreate: delete and create.",
    )
    recreate_finalized: bool = Field(
        default=False,
        description=(
            "With existingResourcePolicy recreate, also recreate objects other controllers "
            "hold with finalizers (each waits for its controller to let the old one go); "
            "by default those are updated instead."
        ),
    )
    preserve_node_ports: bool | None = Field(
        default=None,
        description=(
            "Services' nodePorts. Unset: each is kept when it is free in the target cluster, "
            "else the API server assigns another and the restore names the change (and is "
            "PartiallyFailed). true: kept, and a Service whose port is taken fails. false: "
            "every nodePort is assigned anew (a clone beside its original)."
        ),
    )
    dry_run: bool = Field(default=False, description="Plan and diff only; write nothing.")
    item_operation_timeout: Duration = Field(
        default="4h", description="How long to wait for volumes and waits of one item."
    )
    storage_class_mapping: dict[str, str] | None = Field(
        default=None, description="Rewrite PVC/PV storageClassName: {old: new}."
    )
    image_registry_mapping: dict[str, str] | None = Field(
        default=None, description="Rewrite container image registries: {old: new}."
    )

    resource_modifier: ResourceModifierRef | None = Field(
        default=None,
        description=(
            "Patch restored objects by the rules in this ConfigMap (Velero's resource "
            "modifiers: JSON Patch, JSON merge patch or strategic merge patch, chosen by "
            "resource, namespace, name, labels and values), after ark's own rewrites."
        ),
    )

    @model_validator(mode="after")
    def _cross_field_rules(self) -> Self:
        if (self.backup_name is None) == (self.schedule_name is None):
            raise ValueError(RestoreSpec.cel_rules[0].message)
        if self.point_in_time_cluster is not None and self.point_in_time is None:
            raise ValueError(RestoreSpec.cel_rules[4].message)
        if self.point_in_time is not None and self.schedule_name is None:
            raise ValueError(RestoreSpec.cel_rules[5].message)
        if self.point_in_time is not None and self.point_in_time.tzinfo is None:
            raise ValueError("pointInTime needs a time zone (e.g. 2026-12-03T10:42:00Z)")
        excluded = set(self.excluded_namespaces or ())
        if excluded.intersection(self.namespace_mapping or {}):
            raise ValueError(RestoreSpec.cel_rules[3].message)
        onto: dict[str, list[str]] = {}
        for source, target in sorted((self.namespace_mapping or {}).items()):
            onto.setdefault(target, []).append(source)
        for target, sources in onto.items():
            if len(sources) > 1:
                raise ValueError(
                    f"namespaceMapping maps {' and '.join(sources)} onto one namespace, {target}"
                )
        return self


class RestoreProgress(Model):
    total_items: int = Field(default=0, ge=0)
    items_restored: int = Field(default=0, ge=0)
    current_wave: int | None = Field(default=None, ge=0)


class ItemResult(Model):
    """What happened to one item (the full list is in the results file in object storage)."""

    resource: str
    namespace: str | None = None
    name: str
    outcome: str = Field(
        description="failed, warning, or error (restored, but different from the backup)."
    )
    message: str | None = None


class RestoredVolume(Model):
    """Where one PersistentVolume's volume came from and where it went."""

    persistent_volume: str
    source: str = Field(description="provider region snapshot, as the backup recorded it")
    target: str = Field(description="provider region, where the new volume is")
    volume_id: str
    zone: str | None = None
    snapshot_id: str | None = Field(
        default=None,
        description="What the volume was made from there: the backup's snapshot, a copy of "
        "it in another region, or the snapshot (GCE: image) an import wrote.",
    )
    how: str = Field(
        description="snapshot (made from the backup's snapshot), copied (from a copy of it "
        "in the target region), imported (written from the backup's export), adopted (made "
        "by an interrupted attempt of this restore)"
    )
    location: str | None = Field(
        default=None, description="The VolumeSnapshotLocation the new volume is in."
    )


class RestoreStatus(Model):
    phase: RestorePhase | None = None
    validation_errors: list[str] | None = None
    failure_reason: str | None = None
    backup_name: str | None = Field(default=None, description="The backup actually restored.")
    start_timestamp: dt.datetime | None = None
    completion_timestamp: dt.datetime | None = None
    progress: RestoreProgress | None = None
    warnings: int = Field(default=0, ge=0)
    errors: int = Field(default=0, ge=0)
    results: list[ItemResult] | None = Field(
        default=None,
        max_length=200,
        description="Failed and warned items (first 200); all of them are in the results file.",
    )
    volumes: list[RestoredVolume] | None = Field(
        default=None,
        max_length=500,
        description="The volumes made for restored PersistentVolumes (first 500).",
    )
    attempt: int = Field(default=0, ge=0)
    conditions: list[Condition] | None = None
