"""Pages of what keeps backups coming: schedules (the recovery point now, the last success, the
next run, the last restore test) and locations (their phase, conditions, last validation)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from ark.cli.context import Obj
from ark.cli.dashboard.markup import (
    Html,
    Page,
    badge,
    conditions,
    e,
    href,
    join,
    link,
    section,
    table,
    tag,
    when,
)
from ark.cli.dashboard.pages import condition, name_of

RESTORE_TESTED = "RestoreTested"


def recovery_point(status: Obj) -> str | None:
    """The newest instant a restore reaches now: the change log's end when it records one
    (point-in-time restores), else the last successful backup."""
    through = (status.get("changeLog") or {}).get("storedThrough")
    return str(through) if through else status.get("lastSuccessfulBackup")


def _restore_test(obj: Obj) -> Html:
    """The ``RestoreTested`` condition, else the newest test's phase; nothing when none ran."""
    test = (obj.get("status") or {}).get("restoreTest") or {}
    found = condition(obj, RESTORE_TESTED)
    if found is None and not test:
        return Html("")
    if found is not None:
        passed = found.get("status") == "True"
        text = str(found.get("reason") or ("Passed" if passed else "Failed"))
        tone = "good" if passed else "bad"
        if not passed and test.get("phase") == "InProgress":
            tone = "busy"
    else:
        text, tone = str(test.get("phase") or "InProgress"), None
    detail = ""
    if test.get("backup"):
        detail = f" {test['backup']}"
        if test.get("itemsRestored") is not None:
            detail += f", {test['itemsRestored']} items"
    message = (found or {}).get("message") or test.get("message")
    return join(
        [
            badge(text, tone=tone),
            e(detail),
            tag("div", e(message), cls="dim") if message else Html(""),
        ]
    )


def _last_backup(name: str | None, phase: str | None) -> Html:
    if not name:
        return Html("")
    shown = link(href("backups", name), name)
    return join([shown, Html(" "), badge(phase)]) if phase else shown


def schedules(
    objs: Sequence[Obj], *, newest: Mapping[str, Obj] | None = None, now: dt.datetime
) -> Page:
    """Each schedule; ``newest``: by schedule, its newest Backup (labelled with its name)."""
    rows = []
    for obj in objs:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        made = (newest or {}).get(name_of(obj))
        last = status.get("lastBackupName") or (name_of(made) if made else None)
        phase = (made.get("status") or {}).get("phase") if made and name_of(made) == last else None
        rows.append(
            [
                e(name_of(obj)),
                badge(status.get("phase")),
                tag("code", e(spec.get("schedule"))),
                badge("paused", tone="bad") if spec.get("paused") else e("no"),
                when(recovery_point(status), now=now),
                when(status.get("lastSuccessfulBackup"), now=now),
                _last_backup(last, phase),
                when(status.get("nextRun"), now=now),
                _restore_test(obj),
            ]
        )
    headers = [
        "Name",
        "Phase",
        "Cron",
        "Paused",
        "Recovery point now",
        "Last success",
        "Last backup",
        "Next run",
        "Restore test",
    ]
    explain = tag(
        "p",
        e(
            "Recovery point now: the newest instant a restore reaches — the change log's end "
            "where the schedule records one, else its last successful backup."
        ),
        cls="dim",
    )
    body = join([table(headers, rows, empty="No schedules in this namespace."), explain])
    return Page("Schedules", body)


def locations(bsls: Sequence[Obj], vsls: Sequence[Obj], *, now: dt.datetime) -> Page:
    bsl_rows = []
    for obj in bsls:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        storage = spec.get("objectStorage") or {}
        where = "/".join(p for p in (storage.get("bucket"), storage.get("prefix")) if p)
        bsl_rows.append(
            [
                e(name_of(obj)),
                badge(status.get("phase")),
                _ready(obj),
                e(spec.get("provider")),
                e(where),
                e("yes" if spec.get("default") else ""),
                e(spec.get("accessMode") or "ReadWrite"),
                when(status.get("lastValidationTime"), now=now),
                when(status.get("lastSyncedTime"), now=now),
                e(status.get("message")),
            ]
        )
    vsl_rows = [
        [
            e(name_of(obj)),
            badge((obj.get("status") or {}).get("phase")),
            _ready(obj),
            e((obj.get("spec") or {}).get("provider")),
            e((obj.get("spec") or {}).get("config")),
            e((obj.get("status") or {}).get("message")),
        ]
        for obj in vsls
    ]
    headers = ["Name", "Phase", "Ready", "Provider", "Bucket/prefix", "Default", "Access"]
    body = join(
        [
            section(
                "Backup storage locations",
                table(
                    [*headers, "Last validated", "Last synced", "Message"],
                    bsl_rows,
                    empty="No backup storage locations.",
                ),
            ),
            section(
                "Volume snapshot locations",
                table(
                    ["Name", "Phase", "Ready", "Provider", "Config", "Message"],
                    vsl_rows,
                    empty="No volume snapshot locations.",
                ),
            ),
            *(_conditions_of(obj, now=now) for obj in [*bsls, *vsls]),
        ]
    )
    return Page("Locations", body)


def _ready(obj: Obj) -> Html:
    found = condition(obj, "Ready")
    if found is None:
        return Html("")
    return badge(found.get("status"))


def _conditions_of(obj: Obj, *, now: dt.datetime) -> Html:
    found = (obj.get("status") or {}).get("conditions")
    if not found:
        return Html("")
    return section(f"{obj.get('kind', '')} {name_of(obj)}: conditions", conditions(found, now=now))
