"""Volume snapshots through the operator: which VolumeSnapshotLocations a Backup snapshots in,
what its status records while and after they are taken, and how a Restore reads them back.

Which locations, as Velero chooses them: those the Backup names (each must exist and not be
Unavailable), and for every provider it names none of, the provider's default location
(``--default-volume-snapshot-locations aws:ebs-east``) or, when the provider has exactly one,
that one. A provider with several and no default is a validation error, as in Velero.

Restart safety: the snapshot ids are patched into ``status.volumeSnapshots`` as soon as every
snapshot has started; a restarted attempt adopts them (``adopt``) instead of taking new ones.
One started before that patch is found by its tags (the Backup's uid, which the handler hands
the engine) and adopted as well.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ark import control, persistence
from ark.api.locations import LocationPhase
from ark.api.restore import RestoreSpec
from ark.api.types import parse_duration
from ark.backup import SnapshotLocation, SnapshotOptions
from ark.kube import KubeClient, KubeError
from ark.persistence import SnapshotRecord
from ark.restore.volumes import VolumeOptions
from ark.snapshot.blocks import BlockTarget
from ark.snapshot.interface import VolumeSnapshotter
from ark.storage import StoreError

_log = logging.getLogger("ark.operator")

STATUS_RETRIES = 3


@dataclass
class Resolved:
    """Snapshot locations opened for a backup, or why they cannot be."""

    locations: list[SnapshotLocation] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _unavailable(obj: Mapping[str, Any], *, why: str = "") -> str | None:
    """Why a VolumeSnapshotLocation its validation found Unavailable cannot be used, or None."""
    st = obj.get("status") or {}
    if st.get("phase") != LocationPhase.UNAVAILABLE:
        return None
    reason = f": {st['message']}" if st.get("message") else ""
    return f"VolumeSnapshotLocation {obj['metadata']['name']}{why} is Unavailable{reason}"


def _open(
    client: KubeClient,
    namespace: str,
    obj: dict[str, Any],
    out: Resolved,
    *,
    why: str = "",
    export: bool = False,
) -> None:
    """Open the location into ``out``; with ``export`` (spec.exportVolumes) its block access
    too, a location whose snapshots cannot be read block by block being an error."""
    problem = _unavailable(obj, why=why)
    if problem is not None:
        out.errors.append(problem)
        return
    try:
        snapshotter = control.open_vsl(client, namespace, obj)
    except control.LocationError as exc:
        out.errors.append(str(exc))
        return
    blocks = None
    if export:
        try:
            blocks = control.open_vsl_blocks(client, namespace, obj)
        except control.LocationError as exc:
            out.errors.append(f"exportVolumes: {exc}")
            return
    out.locations.append(SnapshotLocation(obj["metadata"]["name"], snapshotter, blocks))


def resolve(
    client: KubeClient,
    namespace: str,
    names: Sequence[str] | None,
    *,
    defaults: Mapping[str, str],
    export: bool = False,
) -> Resolved:
    """The VolumeSnapshotLocations a backup snapshots in (``names`` as its spec lists them;
    ``defaults`` maps a provider to its default location's name), with their block access
    when the backup ``export``s its volumes."""
    out = Resolved()
    every = control.list_objects(client, control.VSL, namespace)
    by_name = {o["metadata"]["name"]: o for o in every}
    covered: set[str] = set()
    for name in dict.fromkeys(names or ()):
        obj = by_name.get(name)
        if obj is None:
            out.errors.append(f"VolumeSnapshotLocation {namespace}/{name} not found")
            continue
        covered.add(str((obj.get("spec") or {}).get("provider")))
        _open(client, namespace, obj, out, export=export)
    by_provider: dict[str, list[dict[str, Any]]] = {}
    for obj in every:
        provider = str((obj.get("spec") or {}).get("provider"))
        by_provider.setdefault(provider, []).append(obj)
    for provider, objs in sorted(by_provider.items()):
        if provider in covered:
            continue
        default = defaults.get(provider)
        if default is not None:
            chosen = by_name.get(default)
            if chosen is None or (chosen.get("spec") or {}).get("provider") != provider:
                out.errors.append(
                    f"default VolumeSnapshotLocation {namespace}/{default} of provider "
                    f"{provider} not found"
                )
                continue
            _open(
                client,
                namespace,
                chosen,
                out,
                why=f" (the default for {provider})",
                export=export,
            )
        elif len(objs) == 1:
            _open(
                client,
                namespace,
                objs[0],
                out,
                why=f" (the only one for {provider})",
                export=export,
            )
        else:
            found = ", ".join(sorted(o["metadata"]["name"] for o in objs))
            out.errors.append(
                f"provider {provider} has several VolumeSnapshotLocations ({found}): name one "
                "in volumeSnapshotLocations or make one the default "
                "(--default-volume-snapshot-locations)"
            )
    return out


def recorded(status: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    return [s for s in (status or {}).get("volumeSnapshots") or [] if isinstance(s, dict)]


def adoptable(status: Mapping[str, Any] | None) -> dict[str, str]:
    """PV name -> snapshot id an interrupted attempt started (from the status it recorded)."""
    return {
        str(s["persistentVolume"]): str(s["snapshotId"])
        for s in recorded(status)
        if s.get("persistentVolume") and s.get("snapshotId")
    }


def render(record: SnapshotRecord) -> dict[str, Any]:
    """One ``status.volumeSnapshots`` entry (VolumeSnapshotStatus)."""
    out: dict[str, Any] = {
        "persistentVolume": record.persistent_volume,
        "persistentVolumeClaim": record.claim,
        "location": record.location,
        "provider": record.provider,
        "volumeId": record.volume_id,
        "snapshotId": record.snapshot_id,
        "phase": record.phase,
        "message": record.message,
    }
    return {k: v for k, v in out.items() if v is not None}


def started_status(records: Sequence[SnapshotRecord]) -> dict[str, Any]:
    return {
        "volumeSnapshots": [render(r) for r in records],
        "volumeSnapshotsAttempted": len(records),
    }


def final_status(
    records: Sequence[SnapshotRecord],
    *,
    skew: float | None,
    earlier: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """Velero's counters, the records, and the skew. Snapshots an interrupted attempt started
    that this one did not adopt stay listed, so deleting the backup deletes them too."""
    entries = [render(r) for r in records]
    ids = {r.snapshot_id for r in records if r.snapshot_id}
    for old in earlier:
        if old.get("snapshotId") and old["snapshotId"] not in ids:
            entries.append(
                {
                    **old,
                    "message": "started by an interrupted attempt; not part of this backup",
                }
            )
    return {
        "volumeSnapshotsAttempted": len(records),
        "volumeSnapshotsCompleted": sum(1 for r in records if r.phase == "Completed"),
        "volumeSnapshots": entries or None,
        "snapshotSkewSeconds": round(skew, 3) if skew is not None else None,
    }


def status_recorder(
    client: KubeClient, namespace: str, name: str
) -> Callable[[list[SnapshotRecord]], None]:
    """``on_started``: patch the snapshot ids into the Backup's status (from the engine's
    thread), retried a little: without the record a restarted attempt would snapshot again."""

    def record(records: list[SnapshotRecord]) -> None:
        patch = started_status(records)
        for attempt in range(1, STATUS_RETRIES + 1):
            try:
                control.patch_status(client, control.BACKUP, namespace, name, patch)
                return
            except KubeError as exc:
                if attempt == STATUS_RETRIES:
                    _log.warning(
                        "backup %s: cannot record its %d snapshot ids in status: %s",
                        name,
                        len(records),
                        exc,
                    )
                    return
                time.sleep(0.5 * attempt)

    return record


def backup_options(
    resolved: Sequence[SnapshotLocation],
    *,
    status: Mapping[str, Any] | None,
    on_started: Callable[[list[SnapshotRecord]], None],
    timeout: float,
) -> SnapshotOptions | None:
    if not resolved:
        return None
    return SnapshotOptions(
        locations=list(resolved),
        adopt=adoptable(status) if int((status or {}).get("attempt") or 0) > 0 else {},
        on_started=on_started,
        timeout=timeout,
    )


# -- restore ---------------------------------------------------------------------------------
@dataclass
class RestoreVolumes:
    options: VolumeOptions | None = None
    errors: list[str] = field(default_factory=list)


def _target(
    client: KubeClient, namespace: str, name: str
) -> tuple[VolumeSnapshotter, BlockTarget | None]:
    """The target location's snapshotter, and its block access when it has one (a volume the
    backup exported is imported through it)."""
    obj = control.get_vsl(client, namespace, name)
    problem = _unavailable(obj)
    if problem is not None:
        raise control.LocationError(problem)
    snapshotter = control.open_vsl(client, namespace, obj)
    try:
        return snapshotter, control.open_vsl_block_target(client, namespace, obj)
    except control.LocationError:
        return snapshotter, None  # no import: snapshots are copied (same cloud) or fail


def restore_volumes(
    client: KubeClient,
    namespace: str,
    spec: RestoreSpec,
    *,
    store: persistence.BackupStore,
    backup_name: str,
) -> RestoreVolumes:
    """restorePVs: snapshotters for the locations the backup's snapshots are in (and the
    target location of a cross-region restore). Absent restorePVs means yes when the backup
    has snapshots; then a location that is gone fails only the volumes it holds, while an
    explicit ``restorePVs: true`` refuses the restore up front."""
    out = RestoreVolumes()
    if spec.restore_pvs is False or spec.dry_run:
        return out
    target: VolumeSnapshotter | None = None
    blocks: BlockTarget | None = None
    if spec.volume_snapshot_location:
        try:
            target, blocks = _target(client, namespace, spec.volume_snapshot_location)
        except control.LocationError as exc:
            out.errors.append(f"volumeSnapshotLocation: {exc}")
    try:
        records = store.snapshots(backup_name)
    except (StoreError, ValueError) as exc:
        out.errors.append(f"backup {backup_name}: cannot read its volume snapshots: {exc}")
        return out
    if not records:
        return out
    snapshotters: dict[str, VolumeSnapshotter] = {}
    for where in sorted({r.location for r in records if r.location}):
        try:
            snapshotters[where] = control.open_vsl_snapshotter(client, namespace, where)
        except control.LocationError as exc:
            if spec.restore_pvs:
                out.errors.append(f"backup {backup_name}'s snapshots: {exc}")
    if out.errors:
        return out
    out.options = VolumeOptions(
        snapshotters=snapshotters,
        target=target,
        target_blocks=blocks,
        zone=spec.volume_zone or None,
        timeout=parse_duration(spec.item_operation_timeout).total_seconds(),
    )
    return out
