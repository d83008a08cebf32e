"""The dashboard's pages: pure functions from the objects' dicts (as the API server sends them)
to HTML. Every value from the cluster goes through ``markup.e``; nothing here reads anything."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from ark import control
from ark.api.restore import TERMINAL_RESTORE_PHASES
from ark.cli import output
from ark.cli.context import Obj
from ark.cli.dashboard.markup import (
    Html,
    Markup,
    Page,
    badge,
    conditions,
    e,
    fields,
    href,
    join,
    link,
    pre,
    section,
    table,
    tag,
    when,
)
from ark.cli.describing import filter_rows

REFRESH_SECONDS = 2
"""How often a page of a run that has not finished reloads itself."""
LIST_REFRESH_SECONDS = 5
"""How often a list with a run that has not finished reloads itself."""
BACKUP_RUNNING = frozenset({"", "New", "InProgress", "WaitingForSnapshots", "Deleting"})


def name_of(obj: Obj) -> str:
    return str(obj["metadata"]["name"])


def condition(obj: Obj, type_: str) -> Obj | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == type_:
            return c
    return None


def progress(status: Obj, done_field: str) -> str:
    """``done/total`` items; empty before the run counted them."""
    counted = status.get("progress") or {}
    if not counted:
        return ""
    return f"{counted.get(done_field, 0)}/{counted.get('totalItems', 0)}"


def issue_counts(status: Obj) -> Html:
    warnings, errors = status.get("warnings") or 0, status.get("errors") or 0
    return join(
        [
            tag("span", e(f"{warnings} warnings"), cls="badge busy" if warnings else "dim nw"),
            tag("span", e(f"{errors} errors"), cls="badge bad" if errors else "dim nw"),
        ],
        " ",
    )


def verification(obj: Obj) -> Html:
    """The ``Verified`` condition (``ark backup verify``, a Schedule's verify), with what the
    check read; nothing when the backup was never verified."""
    found = condition(obj, "Verified")
    check = (obj.get("status") or {}).get("verification") or {}
    if found is None and not check:
        return Html("")
    if found is not None:
        passed = found.get("status") == "True"
        verdict = "Verified" if passed else str(found.get("reason") or "NotVerified")
    else:
        passed = bool(check.get("verified"))
        verdict = "Verified" if passed else "NotVerified"
    detail = f"{check.get('items', 0)} items, {check.get('checksummed', 0)} checksummed"
    shown = badge(verdict, tone="good" if passed else "bad")
    return join([shown, Html(" "), tag("span", e(detail), cls="dim nw")]) if check else shown


# -- backups ---------------------------------------------------------------------------------
def backups(objs: Sequence[Obj], *, now: dt.datetime) -> Page:
    rows = []
    for obj in objs:
        status = obj.get("status") or {}
        rows.append(
            [
                link(href("backups", name_of(obj)), name_of(obj)),
                badge(status.get("phase")),
                e((obj["metadata"].get("labels") or {}).get(control.SCHEDULE_LABEL)),
                e(status.get("storageLocation") or (obj.get("spec") or {}).get("storageLocation")),
                when(status.get("startTimestamp"), now=now),
                when(status.get("completionTimestamp"), now=now),
                e(progress(status, "itemsBackedUp")),
                issue_counts(status),
                when(status.get("expiration"), now=now),
                verification(obj),
            ]
        )
    headers = ["Name", "Phase", "Schedule", "Location", "Started", "Completed", "Items", "Issues"]
    running = any((o.get("status") or {}).get("phase", "") in BACKUP_RUNNING for o in objs)
    return Page(
        "Backups",
        table([*headers, "Expires", "Verified"], rows, empty="No backups in this namespace."),
        refresh=LIST_REFRESH_SECONDS if running else None,
    )


def backup(obj: Obj, *, restores: Sequence[Obj], csrf: str, now: dt.datetime) -> Page:
    """A backup: its state, spec, status, conditions, the restores made from it, and the form
    that starts a dry-run restore of it."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    name = name_of(obj)
    head = fields(
        [
            ("Phase", Markup(badge(status.get("phase")))),
            ("Items", progress(status, "itemsBackedUp")),
            ("Warnings", status.get("warnings", 0)),
            ("Errors", status.get("errors", 0)),
            ("Failure reason", status.get("failureReason")),
            ("Validation errors", status.get("validationErrors")),
            ("Verified", Markup(verification(obj))),
        ]
    )
    problems = ((status.get("verification") or {}).get("problems")) or []
    spec_rows = [
        *filter_rows(spec),
        ("Storage location", spec.get("storageLocation") or "(default)"),
        ("Snapshot volumes", spec.get("snapshotVolumes")),
        ("Snapshot locations", spec.get("volumeSnapshotLocations")),
        ("TTL", spec.get("ttl")),
    ]
    status_rows = [
        ("Storage location", status.get("storageLocation")),
        ("Started", Markup(when(status.get("startTimestamp"), now=now))),
        ("Completed", Markup(when(status.get("completionTimestamp"), now=now))),
        ("Duration", output.took(status.get("startTimestamp"), status.get("completionTimestamp"))),
        ("Expires", Markup(when(status.get("expiration"), now=now))),
        ("Manifest SHA-256", status.get("manifestDigest")),
        ("Volume snapshots", _of(status, "volumeSnapshotsCompleted", "volumeSnapshotsAttempted")),
        ("Volume exports", _of(status, "volumeExportsCompleted", "volumeExportsAttempted")),
        ("Encryption key", status.get("encryptionKey")),
        ("Format version", status.get("formatVersion")),
    ]
    body = join(
        [
            head,
            tag("ul", *(tag("li", e(p), cls="bad") for p in problems)) if problems else Html(""),
            section("Dry-run restore", _dry_run_form(name, csrf, status.get("phase"))),
            section("Spec", fields(spec_rows)),
            section("Status", fields(status_rows)),
            section("Conditions", conditions(status.get("conditions"), now=now)),
            section("Restores of this backup", restore_table(restores, now=now)),
            whole(obj),
        ]
    )
    running = status.get("phase", "") in BACKUP_RUNNING
    return Page(f"Backup {name}", body, refresh=REFRESH_SECONDS if running else None)


def whole(obj: Obj) -> Html:
    """The object as YAML (as ``-o yaml`` prints it), folded away."""
    text = pre(output.to_yaml(output.clean(obj)))
    return Html(f"<details><summary>The whole object (YAML)</summary>{text}</details>")


def _of(status: Obj, done: str, attempted: str) -> str | None:
    if not status.get(attempted):
        return None
    return f"{status.get(done) or 0} of {status[attempted]}"


def _dry_run_form(name: str, csrf: str, phase: Any) -> Html:
    if phase not in {"Completed", "PartiallyFailed"}:
        return tag("p", e("A dry run needs a Completed (or PartiallyFailed) backup."), cls="dim")
    explain = tag(
        "p",
        e(
            "Plans a restore of this backup: what would be created, updated or skipped, with "
            "diffs against the objects in the cluster. Nothing is written but the Restore."
        ),
        cls="dim",
    )
    return join(
        [
            explain,
            Html(
                f'<form method="post" action="{e(href("backups", name, "dry-run"))}">'
                f'<input type="hidden" name="csrf" value="{e(csrf)}">'
                '<label>Namespace mappings <input type="text" name="namespaceMappings" '
                'placeholder="shop:shop-copy,db:db-copy"></label>'
                '<button type="submit">Dry-run restore</button></form>'
            ),
        ]
    )


# -- restores --------------------------------------------------------------------------------
def restore_table(objs: Sequence[Obj], *, now: dt.datetime) -> Html:
    rows = []
    for obj in objs:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        source = status.get("backupName") or spec.get("backupName")
        rows.append(
            [
                link(href("restores", name_of(obj)), name_of(obj)),
                link(href("backups", str(source)), source)
                if source
                else e(spec.get("scheduleName")),
                badge(status.get("phase")),
                e(_purpose(obj)),
                when(status.get("startTimestamp"), now=now),
                when(status.get("completionTimestamp"), now=now),
                e(progress(status, "itemsRestored")),
                issue_counts(status),
            ]
        )
    headers = ["Name", "Backup", "Phase", "Kind", "Started", "Completed", "Items", "Issues"]
    return table(headers, rows, empty="No restores.")


RESTORE_TEST_LABEL = "ark.dev/restore-test"
"""On a Restore a schedule's restore test made: the schedule's name (the operator sets it)."""


def _purpose(obj: Obj) -> str:
    """What a restore is for: a dry run, a schedule's restore test, or (empty) a restore."""
    if (obj.get("spec") or {}).get("dryRun"):
        return "dry run"
    tested = (obj["metadata"].get("labels") or {}).get(RESTORE_TEST_LABEL)
    return f"restore test of {tested}" if tested else ""


def restores(objs: Sequence[Obj], *, now: dt.datetime) -> Page:
    running = any(not finished(o) for o in objs)
    return Page(
        "Restores", restore_table(objs, now=now), refresh=LIST_REFRESH_SECONDS if running else None
    )


def finished(restore_obj: Obj) -> bool:
    return (restore_obj.get("status") or {}).get("phase") in TERMINAL_RESTORE_PHASES
