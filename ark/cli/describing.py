"""``describe`` pages of backups, restores, schedules and locations: the status in words, the
spec as flags would say it, and per-item results read from the bucket when the user may."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from ark.api.kinds import Kind
from ark.cli import bucket, common, output
from ark.cli.context import Obj
from ark.cli.filters import describe_selector

MAX_ITEMS = 50
"""Per-item lines shown per section; the rest are counted."""


def each(kind: Kind, names: Sequence[str], page: Callable[[Obj], None]) -> None:
    """``page`` for each named object in turn (read first: a missing one is an error), a rule
    between two pages."""
    for i, name in enumerate(names):
        if i:
            output.echo("-" * 60)
        page(common.get(kind, name))


def _meta(obj: Obj) -> list[tuple[str, Any]]:
    meta = obj["metadata"]
    return [
        ("Name", meta["name"]),
        ("Namespace", meta.get("namespace")),
        ("Labels", meta.get("labels")),
        ("Created", meta.get("creationTimestamp")),
    ]


def filter_rows(spec: Obj) -> list[tuple[str, Any]]:
    icr = spec.get("includeClusterResources")
    return [
        ("Included namespaces", spec.get("includedNamespaces") or "* (all)"),
        ("Excluded namespaces", spec.get("excludedNamespaces")),
        ("Included resources", spec.get("includedResources") or "* (all)"),
        ("Excluded resources", spec.get("excludedResources")),
        ("Cluster resources", "auto" if icr is None else icr),
        ("Label selector", describe_selector(spec.get("labelSelector"))),
        (
            "Or label selectors",
            " or ".join(describe_selector(s) for s in spec.get("orLabelSelectors") or []),
        ),
    ]


def _timings(status: Obj) -> list[tuple[str, Any]]:
    took = output.took(status.get("startTimestamp"), status.get("completionTimestamp"))
    return [
        ("Started", status.get("startTimestamp")),
        ("Completed", status.get("completionTimestamp")),
        ("Duration", took),
    ]


def _status_head(obj: Obj, done_field: str) -> None:
    status = obj.get("status") or {}
    progress = status.get("progress") or {}
    items = None
    if progress:
        items = f"{progress.get(done_field, 0)} of {progress.get('totalItems', 0)}"
    output.fields(
        [
            *_meta(obj),
            ("Phase", status.get("phase") or "New (the operator has not picked it up yet)"),
            ("Attempt", status.get("attempt")),
            ("Items", items),
            ("Warnings", status.get("warnings", 0)),
            ("Errors", status.get("errors", 0)),
            ("Failure reason", status.get("failureReason")),
        ]
    )
    for error in status.get("validationErrors") or []:
        output.echo(f"Validation error: {error}", style="red")


def backup(obj: Obj) -> None:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    _status_head(obj, "itemsBackedUp")
    output.heading("Spec")
    output.fields(
        [
            *filter_rows(spec),
            ("Storage location", spec.get("storageLocation") or "(default)"),
            ("Snapshot volumes", spec.get("snapshotVolumes")),
            ("Snapshot locations", spec.get("volumeSnapshotLocations")),
            ("Export volumes", spec.get("exportVolumes") or None),
            ("TTL", spec.get("ttl")),
        ],
        indent=2,
    )
    expiration = status.get("expiration")
    lock = status.get("objectLock") or {}
    output.section(
        "Status",
        [
            ("Storage location", status.get("storageLocation")),
            *_timings(status),
            ("Expires", f"{expiration} ({_until(expiration)})" if expiration else None),
            ("Object lock", _lock(lock) if lock else None),
            ("Manifest SHA-256", status.get("manifestDigest")),
            ("Verified", _verification(status.get("verification"))),
            (
                "Encryption",
                f"AES-256-GCM, key {key}" if (key := status.get("encryptionKey")) else None,
            ),
            ("Format version", status.get("formatVersion")),
        ],
    )
    for problem in ((status.get("verification") or {}).get("problems") or [])[:MAX_ITEMS]:
        output.echo(f"    {problem}", style="red")
    _volume_snapshots(status)
    _volume_exports(status)
    _hooks(status)
    if status.get("phase") in {"Completed", "PartiallyFailed", "Failed"}:
        _backup_results(obj)


def _volume_snapshots(status: Obj) -> None:
    """Velero's counters, the skew, and a block per volume; "none" for a backup without
    snapshots (or one written before ark recorded them)."""
    output.heading("Volume snapshots")
    snapshots = [s for s in status.get("volumeSnapshots") or [] if isinstance(s, dict)]
    attempted = status.get("volumeSnapshotsAttempted") or 0
    if not snapshots and not attempted:
        output.echo("  none")
        return
    skew = status.get("snapshotSkewSeconds")
    output.fields(
        [
            ("Attempted", attempted),
            ("Completed", status.get("volumeSnapshotsCompleted") or 0),
            ("Skew", None if skew is None else f"{skew:.3f}s (first to last snapshot start)"),
        ],
        indent=2,
    )
    for snap in snapshots[:MAX_ITEMS]:
        output.echo(f"  {snap.get('persistentVolume', '?')}:")
        phase = snap.get("phase") or "InProgress"
        output.fields(
            [
                ("Claim", snap.get("persistentVolumeClaim")),
                ("Snapshot ID", snap.get("snapshotId")),
                ("Volume ID", snap.get("volumeId")),
                ("Location", _where(snap.get("location"), snap.get("provider"))),
                ("Phase", phase),
                ("Message", snap.get("message")),
            ],
            indent=4,
        )
    if len(snapshots) > MAX_ITEMS:
        output.echo(f"  ... and {len(snapshots) - MAX_ITEMS} more")


def _volume_exports(status: Obj) -> None:
    """Each exported volume: its size, the bytes of its non-zero blocks, what its chunks take
    in the location and the dedup ratio (logical / stored); nothing when none was exported."""
    exports = [e for e in status.get("volumeExports") or [] if isinstance(e, dict)]
    if not exports:
        return
    output.heading("Volume exports")
    output.fields(
        [
            ("Attempted", status.get("volumeExportsAttempted") or len(exports)),
            ("Completed", status.get("volumeExportsCompleted") or 0),
        ],
        indent=2,
    )
    for entry in exports[:MAX_ITEMS]:
        output.echo(f"  {entry.get('persistentVolume', '?')}:")
        logical, stored = entry.get("logicalBytes") or 0, entry.get("storedBytes") or 0
        output.fields(
            [
                ("Snapshot ID", entry.get("snapshotId")),
                ("Phase", entry.get("phase")),
                ("Message", entry.get("message")),
                ("Size", _size(entry.get("sizeBytes"))),
                ("Data", _size(logical)),
                ("Stored", _size(stored)),
                ("Dedup ratio", f"{logical / stored:.2f}" if stored else None),
                ("New", _size(entry.get("newBytes"))),
            ],
            indent=4,
        )
    if len(exports) > MAX_ITEMS:
        output.echo(f"  ... and {len(exports) - MAX_ITEMS} more")


def _size(count: int | None) -> str | None:
    """``1.5 GiB (1610612736 bytes)``; None for no count."""
    if count is None:
        return None
    value, unit = float(count), "bytes"
    for bigger in ("KiB", "MiB", "GiB", "TiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{count} bytes" if unit == "bytes" else f"{value:.1f} {unit} ({count} bytes)"


def _where(location: str | None, provider: str | None) -> str | None:
    if location and provider:
        return f"{location} ({provider})"
    return location or (f"({provider})" if provider else None)


def _hooks(status: Obj) -> None:
    output.heading("Hooks")
    hooks = status.get("hookStatus") or {}
    attempted = hooks.get("hooksAttempted") or 0
    if not attempted:
        output.echo("  none")
        return
    output.fields([("Attempted", attempted), ("Failed", hooks.get("hooksFailed") or 0)], indent=2)


def _lock(lock: Obj) -> str:
    """The retention on every object of the backup: nothing of it can be deleted before."""
    until = str(lock.get("until") or "")
    ended = (output.parse_time(until) or dt.datetime.max.replace(tzinfo=dt.UTC)) <= dt.datetime.now(
        dt.UTC
    )
    return f"{lock.get('mode')} until {until} ({'ended' if ended else _until(until)})"


def _verification(found: Obj | None) -> str | None:
    """The last ``ark backup verify`` (or a Schedule's): when, what it read, and whether it
    passed; its problems are listed below it."""
    if not found:
        return None
    what = f"{found.get('items', 0)} items, {found.get('checksummed', 0)} checksummed"
    if found.get("deep"):
        what += f", {found.get('volumeSnapshots', 0)} volume snapshots"
    problems = len(found.get("problems") or [])
    verdict = "yes" if found.get("verified") else f"NO ({problems} problem{'s' * (problems != 1)})"
    return f"{verdict}, at {found.get('time')} ({what})"


def _until(value: str) -> str:
    when = output.parse_time(value)
    if when is None:
        return ""
    return output.human_delta(dt.datetime.now(dt.UTC) - when)


def _backup_results(obj: Obj) -> None:
    output.heading("Results")
    try:
        document = bucket.backup_results(obj)
    except bucket.Unreadable as exc:
        output.echo(f"  not shown: {exc}")
        return
    items = document.get("items") or {}
    for title, style in (("errors", "red"), ("warnings", "yellow")):
        entries = items.get(title) or []
        output.echo(f"  {title.capitalize()}: {len(entries)}")
        for entry in entries[:MAX_ITEMS]:
            output.echo(f"    {_issue(entry)}", style=style)
        if len(entries) > MAX_ITEMS:
            output.echo(f"    ... and {len(entries) - MAX_ITEMS} more")


def _issue(entry: Obj) -> str:
    resource, name = entry.get("resource"), entry.get("name")
    if resource and name:
        where = f"{entry['namespace']}/{name}" if entry.get("namespace") else name
        return f"{resource} {where}: {entry.get('message', '')}"
    if resource:
        return f"{resource}: {entry.get('message', '')}"
    return str(entry.get("message", ""))


def restore(obj: Obj) -> None:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    _status_head(obj, "itemsRestored")
    output.heading("Spec")
    output.fields(
        [
            ("Backup", spec.get("backupName")),
            ("Schedule", spec.get("scheduleName")),
            *filter_rows(spec),
            ("Namespace mappings", spec.get("namespaceMapping")),
            ("Existing resources", spec.get("existingResourcePolicy") or "none"),
            ("Restore volumes", spec.get("restorePVs")),
            ("Storage class mappings", spec.get("storageClassMapping")),
            ("Resource modifiers", (spec.get("resourceModifier") or {}).get("name")),
            ("Dry run", bool(spec.get("dryRun"))),
        ],
        indent=2,
    )
    output.section("Status", [("Backup restored", status.get("backupName")), *_timings(status)])
    if status.get("phase") in {"Completed", "PartiallyFailed", "Failed"}:
        restore_results(obj, plan=bool(spec.get("dryRun")))


VOLUME_ORIGINS = {
    "snapshot": "made from the backup's snapshot",
    "copied": "made from a copy of the snapshot in the target region",
    "imported": "imported from the backup's volume export",
    "adopted": "made by an interrupted attempt of this restore",
}
"""What a restored volume's ``how`` (status.volumes) means, for describe and the dashboard."""


def _volume_origins(volumes: list[Obj]) -> None:
    """Where each restored PersistentVolume's volume came from and went (status.volumes)."""
    for v in volumes[:MAX_ITEMS]:
        zone = f" in {v['zone']}" if v.get("zone") else ""
        how = VOLUME_ORIGINS.get(str(v.get("how")), str(v.get("how")))
        output.echo(
            f"  {v.get('persistentVolume')}: {v.get('source')} -> {v.get('target')} "
            f"{v.get('volumeId')}{zone}, {how} ({v.get('snapshotId')})"
        )


def restore_results(obj: Obj, *, plan: bool) -> None:
    """Per-item outcomes from the results file; for a dry run, the plan with diffs."""
    output.heading("Plan (dry run: nothing was written)" if plan else "Results")
    try:
        document = bucket.restore_results(obj)
    except bucket.Unreadable as exc:
        output.echo(f"  not shown from the bucket: {exc}")
        for r in (obj.get("status") or {}).get("results") or []:
            output.echo(f"    {r.get('outcome')}: {_issue(r)}")
        return
    summary = document.get("summary") or {}
    counts = summary.get("counts") or {}
    if counts:
        output.echo("  " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    outcomes = document.get("outcomes") or []
    shown = [
        o
        for o in outcomes
        if plan or o.get("outcome") == "failed" or o.get("message") or o.get("modifiedBy")
    ]
    for o in shown[: MAX_ITEMS if not plan else 500]:
        where = o.get("name", "")
        if o.get("namespace"):
            target = o.get("targetNamespace")
            where = f"{o['namespace']}/{where}" + (f" -> {target}" if target else "")
        message = f": {o['message']}" if o.get("message") else ""
        if o.get("modifiedBy"):
            message += f" (resource modifier rules {', '.join(map(str, o['modifiedBy']))})"
        style = "red" if o.get("outcome") == "failed" else None
        output.echo(
            f"  {o.get('outcome', ''):18} {o.get('resource', '')} {where}{message}", style=style
        )
        for line in o.get("diff") or []:
            output.echo(f"      {line}")
    if len(shown) > len(shown[: MAX_ITEMS if not plan else 500]):
        output.echo(f"  ... and more: {len(shown)} items in the results file")
    issues = document.get("items") or {}
    # An item's issue unless its failed outcome (shown above) says it already: the run's, and
    # an item restored but different from the backup.
    failed = {(o.get("resource"), o.get("name")) for o in outcomes if o.get("outcome") == "failed"}
    for title in ("errors", "warnings"):
        entries = [
            e
            for e in issues.get(title) or []
            if not e.get("name") or (e.get("resource"), e.get("name")) not in failed
        ]
        for entry in entries[:MAX_ITEMS]:
            output.echo(f"  {title[:-1]}: {_issue(entry)}")
    if not plan:
        _restored_volumes(outcomes, (obj.get("status") or {}).get("volumes") or [])


def _restored_volumes(outcomes: list[Obj], origins: list[Obj]) -> None:
    """What became of each PersistentVolume: created (from its snapshot when the backup took
    one and restorePVs held), provisioned anew by a CSI driver, kept, or failed and why; then
    where each new volume came from and went."""
    output.heading("Persistent volumes")
    _volume_origins(origins)
    pvs = [o for o in outcomes if o.get("resource") == "persistentvolumes"]
    if not pvs:
        if not origins:
            output.echo("  none")
        return
    for o in pvs[:MAX_ITEMS]:
        message = f": {o['message']}" if o.get("message") else ""
        style = "red" if o.get("outcome") == "failed" else None
        output.echo(f"  {o.get('name', '')}: {o.get('outcome', '')}{message}", style=style)
    if len(pvs) > MAX_ITEMS:
        output.echo(f"  ... and {len(pvs) - MAX_ITEMS} more")


def schedule(obj: Obj) -> None:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    template = spec.get("template") or {}
    output.fields(
        [
            *_meta(obj),
            ("Phase", status.get("phase") or "New"),
            ("Schedule", spec.get("schedule")),
            ("Paused", bool(spec.get("paused"))),
            ("Retention", spec.get("retention")),
            ("Owner references", spec.get("useOwnerReferencesInBackup")),
        ]
    )
    for error in status.get("validationErrors") or []:
        output.echo(f"Validation error: {error}", style="red")
    output.heading("Backup template")
    output.fields(
        [
            *filter_rows(template),
            ("Storage location", template.get("storageLocation") or "(default)"),
            ("Snapshot volumes", template.get("snapshotVolumes")),
            ("TTL", template.get("ttl")),
        ],
        indent=2,
    )
    output.section(
        "Status",
        [
            ("Last backup", status.get("lastBackupName")),
            ("Last run", status.get("lastBackup")),
            ("Last success", status.get("lastSuccessfulBackup")),
            ("Next run", status.get("nextRun")),
            ("Skipped ticks", status.get("skippedTicks")),
        ],
    )
    _change_log(spec.get("changeLog") or {}, status.get("changeLog") or {})
    _restore_test(spec.get("restoreTest") or {}, status.get("restoreTest") or {})


def _restore_test(spec: dict[str, Any], status: dict[str, Any]) -> None:
    """The newest restore test: its verdict, what it restored, how long it took, and whether
    it deleted everything it made (what it left behind listed under it, one a line)."""
    if not spec.get("enabled") and not status:
        return
    output.section(
        "Restore test",
        [
            ("Enabled", bool(spec.get("enabled"))),
            ("Keep failed", bool(spec.get("keepFailed")) if spec.get("enabled") else None),
            ("Volumes", spec.get("volumes", True) is not False if spec.get("enabled") else None),
            ("Phase", status.get("phase")),
            ("Backup", status.get("backup")),
            ("Restore", status.get("restore")),
            ("Started", status.get("started")),
            ("Completed", status.get("completed")),
            ("Items restored", status.get("itemsRestored")),
            ("Message", str(status.get("message") or "").split("; left behind: ", 1)[0]),
            ("Cleanup", _cleanup(status)),
        ],
    )
    for line in status.get("leftBehind") or ():
        output.echo(f"    - {line}")


def _cleanup(status: dict[str, Any]) -> str | None:
    """Whether the judged test deleted everything it made, else what is pending and when it
    was last tried (the list of what is left follows, under "Left behind")."""
    if status.get("phase") not in ("Passed", "Failed"):
        return None
    left, pending = status.get("leftBehind") or [], status.get("cleanup") or []
    if not left and not pending:
        return "done" if status.get("cleanupAttempted") else None
    volumes = ", ".join(
        str(c.get("persistentVolume"))
        + (f" ({c.get('provider')} {c['volumeId']})" if c.get("volumeId") else "")
        for c in pending
    )
    return (
        f"incomplete, retried at later looks (last tried {status.get('cleanupAttempted')})"
        + (f"; volumes still to delete: {volumes}" if volumes else "")
        + (f"; left behind ({len(left)}):" if left else "")
    )


def _change_log(spec: dict[str, Any], status: dict[str, Any]) -> None:
    """How far a point-in-time restore reaches: the recovery point, the span, its gaps."""
    if not spec.get("enabled") and not status:
        return
    through = status.get("storedThrough")
    since = status.get("since")
    output.section(
        "Change log",
        [
            ("Enabled", bool(spec.get("enabled"))),
            ("Flush seconds", spec.get("flushSeconds", 10) if spec.get("enabled") else None),
            (
                "Watching",
                f"true ({status.get('resources', 0)} resources)"
                if status.get("watching")
                else "false",
            ),
            (
                "Recovery point",
                f"{through} ({output.age(through)} ago)" if through else None,
            ),
            ("Newest change", status.get("newestChange")),
            ("Restorable", f"{since} → {through}" if since and through else None),
            ("Not recorded", status.get("message")),
        ],
    )
    for gap in status.get("gaps") or []:
        output.echo(
            f"  Gap: {gap.get('start')} → {gap.get('end')} {gap.get('resource')}: "
            f"{gap.get('reason')}",
            style="yellow",
        )


def backup_location(obj: Obj, *, backups: int) -> None:
    """A BackupStorageLocation: never a secret, only which Secret keys it names."""
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    storage = spec.get("objectStorage") or {}
    credential = spec.get("credential") or {}
    lock = spec.get("objectLock")
    encryption = spec.get("encryption") or {}
    output.fields(
        [
            *_meta(obj),
            ("Phase", status.get("phase") or "New (the operator has not checked it yet)"),
            ("Message", status.get("message")),
            ("Provider", spec.get("provider")),
            ("Bucket", storage.get("bucket")),
            ("Prefix", storage.get("prefix")),
            ("Config", spec.get("config")),
            ("Credential", _secret_key(credential)),
            ("Default", bool(spec.get("default"))),
            ("Access mode", spec.get("accessMode") or "ReadWrite"),
            ("Object lock", f"{lock['mode']}, {lock['days']} days" if lock else None),
            ("Encryption", _encryption(encryption)),
            ("Backups", backups),
        ]
    )
    output.section(
        "Status",
        [
            ("Last validated", status.get("lastValidationTime")),
            ("Validation frequency", spec.get("validationFrequency") or "1m (default)"),
            ("Last synced", status.get("lastSyncedTime")),
            ("Sync period", spec.get("backupSyncPeriod") or "1m (default)"),
        ],
    )


def _secret_key(ref: Obj) -> str | None:
    return f"Secret {ref['name']}, key {ref['key']}" if ref.get("name") else None


def _encryption(encryption: Obj) -> str | None:
    keys = encryption.get("keys") or []
    if not keys:
        return None
    listed = ", ".join(
        f"{k['id']} ({k.get('provider') or 'secret'})"
        + (" current" if k["id"] == encryption.get("current") else "")
        for k in keys
    )
    return f"keys {listed}"


def snapshot_location(obj: Obj) -> None:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    output.fields(
        [
            *_meta(obj),
            ("Phase", status.get("phase") or "New (the operator has not checked it yet)"),
            ("Message", status.get("message")),
            ("Provider", spec.get("provider")),
            ("Config", spec.get("config")),
            ("Credential", _secret_key(spec.get("credential") or {})),
        ]
    )
