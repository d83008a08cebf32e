"""What each page shows, read with the user's own kubeconfig through the CLI's lower layers
(``common`` for ark's objects, ``bucket`` for results files), then rendered by ``pages``.

Every function runs inside a click context whose object is the command's ``Settings`` (the
server enters one per request), as the CLI's commands do; a failure is a ``CliError`` saying
what went wrong in one line.
"""

from __future__ import annotations

import datetime as dt

from ark import control
from ark.api.kinds import Kind
from ark.cli import bucket, common
from ark.cli import restores as restore_command
from ark.cli.context import CliError, Obj
from ark.cli.dashboard import health, pages, results
from ark.cli.dashboard.markup import Page


class NotFound(CliError):
    """The page's object does not exist (HTTP 404)."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _newest_first(objs: list[Obj]) -> list[Obj]:
    return sorted(
        objs, key=lambda o: str(o["metadata"].get("creationTimestamp") or ""), reverse=True
    )


def _find(kind: Kind, name: str) -> Obj:
    found = common.find(kind, name)
    if found is None:
        raise NotFound(f'{common.label(kind)} "{name}" not found')
    return found


def backups() -> Page:
    return pages.backups(_newest_first(common.list_all(control.BACKUP)), now=_now())


def backup(name: str, *, csrf: str) -> Page:
    obj = _find(control.BACKUP, name)
    made = [
        r
        for r in common.list_all(control.RESTORE)
        if name
        in {(r.get("spec") or {}).get("backupName"), (r.get("status") or {}).get("backupName")}
    ]
    return pages.backup(obj, restores=_newest_first(made), csrf=csrf, now=_now())


def restores() -> Page:
    return pages.restores(_newest_first(common.list_all(control.RESTORE)), now=_now())


def restore(name: str) -> Page:
    obj = _find(control.RESTORE, name)
    read = None
    if pages.finished(obj):
        try:
            read = results.Results(document=bucket.restore_results(obj))
        except bucket.Unreadable as exc:
            read = results.Results(unreadable=str(exc))
    return results.restore(obj, results=read, now=_now())


def schedules() -> Page:
    newest: dict[str, Obj] = {}
    for backup_obj in _newest_first(
        common.list_all(control.BACKUP, selector=control.SCHEDULE_LABEL)
    ):
        newest.setdefault(backup_obj["metadata"]["labels"][control.SCHEDULE_LABEL], backup_obj)
    return health.schedules(common.list_all(control.SCHEDULE), newest=newest, now=_now())


def locations() -> Page:
    return health.locations(common.list_all(control.BSL), common.list_all(control.VSL), now=_now())


def dry_run(backup_name: str, *, namespace_mappings: str) -> str:
    """Create a dry-run Restore of the backup (as ``ark restore create --dry-run``), the
    namespace mappings as ``--namespace-mappings`` takes them; its name."""
    mappings = namespace_mappings.strip() or None
    obj = restore_command.restore_object(
        {
            "backupName": backup_name,
            "namespaceMapping": common.key_values(mappings, flag="--namespace-mappings", sep=":"),
            "dryRun": True,
        },
        name=None,
        source=f"{backup_name}-dry-run",
    )
    restore_command.submit(obj)
    return str(obj["metadata"]["name"])
