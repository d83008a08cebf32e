"""A restore's page: its state and spec, and per-item results — from the results file in the
bucket (``ark restore describe``'s source): each item's outcome, what came back different, the
run's warnings and errors; for a dry run, the plan with diffs. Without access to the bucket,
the failed and warned items the status keeps."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

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
    section,
    table,
    tag,
    when,
)
from ark.cli.dashboard.pages import (
    REFRESH_SECONDS,
    finished,
    issue_counts,
    name_of,
    progress,
    whole,
)
from ark.cli.describing import VOLUME_ORIGINS, filter_rows

MAX_OUTCOMES = 1000
"""Per-item rows shown; the rest are counted."""


@dataclass(frozen=True)
class Results:
    """The restore's results file, or why it could not be read."""

    document: Obj | None = None
    unreadable: str | None = None


def restore(obj: Obj, *, results: Results | None, now: dt.datetime) -> Page:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    dry_run = bool(spec.get("dryRun"))
    source = status.get("backupName") or spec.get("backupName")
    head = fields(
        [
            ("Phase", Markup(badge(status.get("phase")))),
            ("Dry run", "yes: a plan, nothing was written" if dry_run else None),
            ("Backup", Markup(link(href("backups", str(source)), source)) if source else None),
            ("Items", progress(status, "itemsRestored")),
            ("Issues", Markup(issue_counts(status))),
            ("Failure reason", status.get("failureReason")),
            ("Validation errors", status.get("validationErrors")),
            ("Started", Markup(when(status.get("startTimestamp"), now=now))),
            ("Completed", Markup(when(status.get("completionTimestamp"), now=now))),
            (
                "Duration",
                output.took(status.get("startTimestamp"), status.get("completionTimestamp")),
            ),
        ]
    )
    spec_rows = [
        ("Schedule", spec.get("scheduleName")),
        ("Point in time", spec.get("pointInTime")),
        *filter_rows(spec),
        ("Namespace mappings", spec.get("namespaceMapping")),
        ("Existing resources", spec.get("existingResourcePolicy") or "none"),
        ("Restore volumes", spec.get("restorePVs")),
        ("Storage class mappings", spec.get("storageClassMapping")),
    ]
    title = "Plan (dry run: nothing was written)" if dry_run else "Results"
    if finished(obj):
        outcome = _results(results or Results(), status)
    else:
        outcome = tag("p", e("Not finished yet: this page reloads itself."), cls="dim")
    body = join(
        [
            head,
            section(title, outcome),
            Html("")
            if dry_run
            else section("Restored volumes", _volumes(status.get("volumes") or [])),
            section("Spec", fields(spec_rows)),
            section("Conditions", conditions(status.get("conditions"), now=now)),
            whole(obj),
        ]
    )
    kind = "Dry-run restore" if dry_run else "Restore"
    refresh = None if finished(obj) else REFRESH_SECONDS
    return Page(f"{kind} {name_of(obj)}", body, refresh=refresh)


def _results(results: Results, status: Obj) -> Html:
    if results.document is None:
        kept = status.get("results") or []
        why = results.unreadable or "no results file"
        return join(
            [
                tag(
                    "p",
                    e(f"Not shown from the bucket: {why}. The status keeps these:"),
                    cls="error",
                ),
                _outcomes(kept),
            ]
        )
    document = results.document
    counts = (document.get("summary") or {}).get("counts") or {}
    summary = join(
        (
            join([badge(k, tone="bad" if k == "failed" else "busy"), e(f" {v}")])
            for k, v in sorted(counts.items())
        ),
        " &nbsp; ",
    )
    outcomes = [o for o in document.get("outcomes") or [] if isinstance(o, dict)]
    return join(
        [
            tag("p", Html(summary)) if counts else Html(""),
            _outcomes(outcomes),
            _issues(document, outcomes),
        ]
    )


def _where(item: Obj) -> str:
    namespace, target = item.get("namespace"), item.get("targetNamespace")
    if not namespace:
        return ""
    return f"{namespace} → {target}" if target else str(namespace)


def _outcomes(outcomes: Sequence[Obj]) -> Html:
    """One row per item: its outcome, where it came from and went, why, and the diff."""
    rows = []
    for o in outcomes[:MAX_OUTCOMES]:
        message = str(o.get("message") or "")
        if o.get("modifiedBy"):
            rules = ", ".join(str(i) for i in o["modifiedBy"])
            message += f" (resource modifier rules {rules})"
        diff = o.get("diff") or []
        outcome = str(o.get("outcome") or "")
        rows.append(
            [
                badge(outcome, tone="bad" if outcome == "failed" else "busy"),
                e(o.get("resource")),
                e(_where(o)),
                e(o.get("name")),
                e(message),
                tag("pre", e("\n".join(str(line) for line in diff))) if diff else Html(""),
            ]
        )
    shown = table(
        ["Outcome", "Resource", "Namespace", "Name", "Message", "Diff"], rows, empty="No items."
    )
    if len(outcomes) > MAX_OUTCOMES:
        more = tag("p", e(f"... and {len(outcomes) - MAX_OUTCOMES} more items"), cls="dim")
        return join([shown, more])
    return shown


def _issues(document: Obj, outcomes: Sequence[Obj]) -> Html:
    """The run's errors and warnings, but an item's only when its failed outcome does not
    already say it (as ``ark restore describe``)."""
    failed = {(o.get("resource"), o.get("name")) for o in outcomes if o.get("outcome") == "failed"}
    issues = document.get("items") or {}
    rows = [
        [
            badge(title[:-1], tone="bad" if title == "errors" else "busy"),
            e(entry.get("resource")),
            e(entry.get("namespace")),
            e(entry.get("name")),
            e(entry.get("message")),
        ]
        for title in ("errors", "warnings")
        for entry in issues.get(title) or []
        if isinstance(entry, dict)
        and (not entry.get("name") or (entry.get("resource"), entry.get("name")) not in failed)
    ]
    if not rows:
        return Html("")
    return section(
        "Warnings and errors",
        table(["", "Resource", "Namespace", "Name", "Message"], rows, empty=""),
    )


def _volumes(volumes: Sequence[Obj]) -> Html:
    rows = [
        [
            e(v.get("persistentVolume")),
            e(f"{v.get('source')} → {v.get('target')}"),
            e(v.get("volumeId")),
            e(v.get("zone")),
            e(VOLUME_ORIGINS.get(str(v.get("how")), v.get("how"))),
            e(v.get("snapshotId")),
        ]
        for v in volumes
        if isinstance(v, dict)
    ]
    headers = ["PersistentVolume", "From → to", "Volume", "Zone", "How", "Snapshot"]
    return table(headers, rows, empty="No volumes restored from snapshots.")
