"""Backup: what to capture, where to put it, and what happened."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, ClassVar, Self

from pydantic import Field, StringConstraints, model_validator

from ark.api import limits
from ark.api.types import CelRule, Condition, Duration, LabelSelector, Model

_NAME = StringConstraints(min_length=1, max_length=253)
#: Namespace names or globs ("*", "team-*", "app-[ab]").
NamespaceGlob = Annotated[
    str, StringConstraints(min_length=1, max_length=253, pattern=r"^[a-z0-9*?\[\]!.-]+$")
]
#: A resource as kubectl spells it: plural, "resource.group", a short name or "*".
ResourceName = Annotated[
    str, StringConstraints(min_length=1, max_length=253, pattern=r"^[a-zA-Z0-9*.-]+$")
]
DEFAULT_TTL = "720h"
DEFAULT_HOOK_TIMEOUT = "30s"


class BackupPhase(StrEnum):
    NEW = "New"
    FAILED_VALIDATION = "FailedValidation"
    IN_PROGRESS = "InProgress"
    WAITING_FOR_SNAPSHOTS = "WaitingForSnapshots"
    COMPLETED = "Completed"
    PARTIALLY_FAILED = "PartiallyFailed"
    FAILED = "Failed"
    DELETING = "Deleting"


TERMINAL_BACKUP_PHASES = frozenset(
    {
        BackupPhase.FAILED_VALIDATION,
        BackupPhase.COMPLETED,
        BackupPhase.PARTIALLY_FAILED,
        BackupPhase.FAILED,
    }
)


class ResourceFilter(Model):
    """Which objects to take, by namespace, resource type and labels (shared by Restore)."""

    cel_rules: ClassVar[tuple[CelRule, ...]] = (
        CelRule(
            "!(has(self.labelSelector) && has(self.orLabelSelectors))",
            "labelSelector and orLabelSelectors cannot both be set",
            ".orLabelSelectors",
        ),
    )

    included_namespaces: list[NamespaceGlob] | None = Field(
        default=None,
        max_length=limits.FILTER_ITEMS_MAX,
        description="Namespaces to include (globs allowed). Empty or absent means all.",
    )
    excluded_namespaces: list[NamespaceGlob] | None = Field(
        default=None,
        max_length=limits.FILTER_ITEMS_MAX,
        description="Namespaces to exclude (globs allowed).",
    )
    included_resources: list[ResourceName] | None = Field(
        default=None,
        max_length=limits.FILTER_ITEMS_MAX,
        description="Resources to include: plural, resource.group or short name. Absent = all.",
    )
    excluded_resources: list[ResourceName] | None = Field(
        default=None, max_length=limits.FILTER_ITEMS_MAX, description="Resources to exclude."
    )
    include_cluster_resources: bool | None = Field(
        default=None,
        description=(
            "true: all cluster-scoped resources; false: none; absent (auto): only those the "
            "included namespaced objects need (bound PVs, CRDs of included CRs, StorageClasses, "
            "ClusterRoles bound by included RoleBindings), or all of them for a whole-cluster "
            "backup."
        ),
    )
    label_selector: LabelSelector | None = Field(
        default=None, description="Only objects matching this selector."
    )
    or_label_selectors: list[LabelSelector] | None = Field(
        default=None,
        max_length=limits.SELECTORS_MAX,
        description="Objects matching any of these selectors (exclusive with labelSelector).",
    )

    @model_validator(mode="after")
    def _one_kind_of_selector(self) -> Self:
        if self.label_selector is not None and self.or_label_selectors is not None:
            raise ValueError(ResourceFilter.cel_rules[0].message)
        return self


class HookErrorMode(StrEnum):
    CONTINUE = "Continue"
    FAIL = "Fail"


class ExecHook(Model):
    """A command run in a container of a pod (not in a shell), as Velero's ``exec`` hook."""

    container: Annotated[str, StringConstraints(min_length=1, max_length=63)] | None = Field(
        default=None, description="Container to run the command in; absent: the pod's first."
    )
    command: list[Annotated[str, StringConstraints(max_length=4096)]] = Field(
        min_length=1,
        max_length=256,
        description="The command and its arguments, e.g. [fsfreeze, --freeze, /data].",
    )
    on_error: HookErrorMode = Field(
        default=HookErrorMode.FAIL,
        description="Fail: the backup ends PartiallyFailed; Continue: a warning, and on.",
    )
    timeout: Duration = Field(
        default=DEFAULT_HOOK_TIMEOUT,
        description="How long the command may take (Go duration); longer is a failure.",
    )


class BackupResourceHook(Model):
    exec: ExecHook = Field(description="The command to run.")


class BackupResourceHookSpec(Model):
    """Hooks for the backed-up pods that match the namespaces, resources and labels given."""

    name: Annotated[str, _NAME] = Field(description="Names the hook in logs and results.")
    included_namespaces: list[NamespaceGlob] | None = Field(
        default=None,
        max_length=limits.FILTER_ITEMS_MAX,
        description="Namespaces (globs); absent means all.",
    )
    excluded_namespaces: list[NamespaceGlob] | None = Field(
        default=None, max_length=limits.FILTER_ITEMS_MAX
    )
    included_resources: list[ResourceName] | None = Field(
        default=None,
        max_length=limits.FILTER_ITEMS_MAX,
        description="Hooks run in pods only: absent, '*' or pods applies them.",
    )
    excluded_resources: list[ResourceName] | None = Field(
        default=None, max_length=limits.FILTER_ITEMS_MAX
    )
    label_selector: LabelSelector | None = Field(
        default=None, description="Only pods matching this selector."
    )
    pre: list[BackupResourceHook] | None = Field(
        default=None,
        max_length=limits.HOOKS_MAX,
        description="Run before the volume snapshots start.",
    )
    post: list[BackupResourceHook] | None = Field(
        default=None,
        max_length=limits.HOOKS_MAX,
        description="Run once every snapshot has started (not completed), whatever happened.",
    )


class BackupHooks(Model):
    resources: list[BackupResourceHookSpec] | None = Field(
        default=None, max_length=limits.HOOK_SPECS_MAX
    )


class BackupSpec(ResourceFilter):
    storage_location: Annotated[str, _NAME] | None = Field(
        default=None,
        description="BackupStorageLocation to write to; absent means the default location.",
    )
    volume_snapshot_locations: list[Annotated[str, _NAME]] | None = Field(
        default=None,
        max_length=limits.HOOK_SPECS_MAX,
        description="VolumeSnapshotLocations to snapshot volumes in.",
    )
    snapshot_volumes: bool | None = Field(
        default=None, description="Take snapshots of the PersistentVolumes backed up."
    )
    ttl: Duration = Field(
        default=DEFAULT_TTL,
        description="How long to keep the backup (Go duration, e.g. 720h); 0 keeps it forever.",
    )
    include_objects_being_deleted: bool = Field(
        default=False, description="Also back up objects that carry a deletionTimestamp."
    )
    export_volumes: bool = Field(
        default=False,
        description=(
            "Copy each volume snapshot's blocks into the storage location once it completes "
            "(content-addressed chunks, shared by all backups), so a restore can bring the "
            "volume to another region or cloud. Needs snapshot locations whose snapshots can "
            "be read block by block (aws: EBS direct APIs; not gcp, azure or csi)."
        ),
    )
    hooks: BackupHooks | None = Field(
        default=None,
        description=(
            "Exec hooks in the backed-up pods around the volume snapshots (pod annotations "
            "pre.hook.backup.velero.io/command, ... take precedence)."
        ),
    )


class BackupProgress(Model):
    total_items: int = Field(
        default=0, ge=0, description="Items expected: each resource counted before its items."
    )
    items_backed_up: int = Field(default=0, ge=0, description="Items written to the archive.")
    current_resource: str | None = Field(default=None, description="The resource being listed.")
    current_volume_export: str | None = Field(
        default=None,
        description="The volume being exported (spec.exportVolumes) and how far: blocks and "
        "bytes read so far, and which of the backup's volumes it is.",
    )


class VolumeSnapshotStatus(Model):
    """One volume snapshot; recorded before waiting so a restarted operator adopts it."""

    persistent_volume: str = Field(description="Name of the PersistentVolume.")
    persistent_volume_claim: str | None = Field(default=None, description="namespace/name.")
    location: str | None = Field(default=None, description="VolumeSnapshotLocation used.")
    provider: str
    volume_id: str
    snapshot_id: str
    phase: str = Field(default="InProgress", description="InProgress, Completed or Failed.")
    message: str | None = None


class VolumeExportStatus(Model):
    """One volume snapshot's export into the storage location (``spec.exportVolumes``)."""

    persistent_volume: str = Field(description="Name of the PersistentVolume.")
    snapshot_id: str = Field(description="The snapshot whose blocks were read.")
    phase: str = Field(description="Completed or Failed.")
    message: str | None = Field(default=None, description="Why it failed.")
    size_bytes: int = Field(default=0, ge=0, description="The volume's size.")
    logical_bytes: int = Field(default=0, ge=0, description="Bytes of its non-zero blocks.")
    stored_bytes: int = Field(
        default=0, ge=0, description="Bytes its chunks take in the location (compressed)."
    )
    new_bytes: int = Field(
        default=0, ge=0, description="Bytes this export stored: chunks not there before."
    )


class HookStatus(Model):
    hooks_attempted: int = Field(default=0, ge=0, description="Hook commands run.")
    hooks_failed: int = Field(default=0, ge=0, description="Hook commands that failed.")


class BackupVerification(Model):
    """The last check of the stored backup (``ark backup verify``, or a Schedule's verify)."""

    time: dt.datetime = Field(description="When the check finished.")
    verified: bool = Field(description="Whether every check passed.")
    deep: bool = Field(default=False, description="Whether volume snapshots were asked about.")
    items: int = Field(default=0, ge=0, description="Items read from the archive and parsed.")
    checksummed: int = Field(
        default=0, ge=0, description="Items checked against ark's manifest (0 for Velero's)."
    )
    volume_snapshots: int = Field(
        default=0, ge=0, description="Volume snapshots found complete (deep checks only)."
    )
    problems: list[Annotated[str, StringConstraints(max_length=4096)]] | None = Field(
        default=None, max_length=64, description="What failed, each with its reason first."
    )


class BackupLock(Model):
    """The retention ark set on every object of the backup."""

    mode: str = Field(description="Governance or Compliance.")
    until: dt.datetime = Field(description="No object of the backup can be deleted before.")


class BackupStatus(Model):
    phase: BackupPhase | None = Field(default=None, description="Where the backup stands.")
    validation_errors: list[str] | None = Field(
        default=None, description="Why the spec was refused (phase FailedValidation)."
    )
    failure_reason: str | None = Field(default=None, description="Why the backup failed.")
    format_version: str | None = Field(default=None, description="Archive format version.")
    storage_location: str | None = Field(default=None, description="The location written to.")
    start_timestamp: dt.datetime | None = None
    completion_timestamp: dt.datetime | None = None
    expiration: dt.datetime | None = Field(
        default=None, description="When the backup is garbage-collected (from ttl)."
    )
    progress: BackupProgress | None = None
    warnings: int = Field(default=0, ge=0)
    errors: int = Field(default=0, ge=0)
    volume_snapshots_attempted: int = Field(default=0, ge=0)
    volume_snapshots_completed: int = Field(default=0, ge=0)
    volume_snapshots: list[VolumeSnapshotStatus] | None = None
    snapshot_skew_seconds: float | None = Field(
        default=None, description="Time between the first and the last snapshot start."
    )
    hook_status: HookStatus | None = None
    volume_exports_attempted: int = Field(default=0, ge=0)
    volume_exports_completed: int = Field(default=0, ge=0)
    volume_exports: list[VolumeExportStatus] | None = Field(
        default=None, description="Each volume snapshot exported (spec.exportVolumes)."
    )
    manifest_digest: str | None = Field(
        default=None,
        description=(
            "SHA-256 of ark's manifest file as stored (the record keeps it too): a restore "
            "refuses a backup whose manifest is missing, another backup's, or altered."
        ),
    )
    encryption_key: str | None = Field(
        default=None,
        description=(
            "The id of the key (its location's spec.encryption) that wraps the backup's data "
            "key; none for a backup stored unencrypted. It restores while that key is listed."
        ),
    )
    verification: BackupVerification | None = Field(
        default=None, description="The last verification of the stored backup."
    )
    object_lock: BackupLock | None = Field(
        default=None, description="The lock on the backup's objects (its location's objectLock)."
    )
    attempt: int = Field(
        default=0, ge=0, description="How many times the operator started this backup."
    )
    conditions: list[Condition] | None = None
