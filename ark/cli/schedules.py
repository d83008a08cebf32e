"""``ark schedule create|get|describe|pause|unpause|delete``."""

from __future__ import annotations

from typing import Any

import click
from pydantic.alias_generators import to_camel

from ark.api import kinds
from ark.api.schedule import ScheduleSpec, validate_cron
from ark.cli import backups, common, context, describing, output
from ark.cli.context import BadFlag

SCHEDULE = kinds.SCHEDULE
SCHEDULE_FLAGS = {
    "schedule": "--schedule",
    "paused": "--paused",
    "keepLast": "--keep-last",
    "keepHourly": "--keep-hourly",
    "keepDaily": "--keep-daily",
    "keepWeekly": "--keep-weekly",
    "keepMonthly": "--keep-monthly",
    "useOwnerReferencesInBackup": "--use-owner-references-in-backup",
    "flushSeconds": "--change-log-flush-seconds",
    **backups.BACKUP_FLAGS,
}
_KEEP = ("keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly")


@click.group("schedule")
def group() -> None:
    """Back up on a cron schedule, with retention."""


@group.command("create")
@click.argument("name")
@click.option(
    "--schedule",
    "cron",
    required=True,
    metavar="CRON",
    help="Cron expression (5 fields, UTC), e.g. '0 3 * * *', or a macro such as @daily.",
)
@backups.backup_spec_options
@click.option("--paused", is_flag=True, default=None, help="Create the schedule paused.")
@click.option("--keep-last", type=int, metavar="N", help="Keep the newest N successful backups.")
@click.option("--keep-hourly", type=int, metavar="N", help="Keep the newest per hour, N hours.")
@click.option("--keep-daily", type=int, metavar="N", help="Keep the newest per day, N days.")
@click.option("--keep-weekly", type=int, metavar="N", help="Keep the newest per week, N weeks.")
@click.option("--keep-monthly", type=int, metavar="N", help="Keep the newest per month.")
@click.option(
    "--use-owner-references-in-backup",
    is_flag=True,
    default=None,
    help="Make the schedule the owner of its backups (deleting it deletes them).",
)
@click.option(
    "--change-log",
    is_flag=True,
    default=None,
    help="Record every change between backups, so a restore can reach any instant "
    "(ark restore create --from-schedule NAME --at TIME).",
)
@click.option(
    "--change-log-flush-seconds",
    type=int,
    metavar="N",
    help="With --change-log: store the changes at most N seconds after they happen (10).",
)
@click.option(
    "--restore-test",
    is_flag=True,
    default=None,
    help="Test each Completed backup: restore it into scratch namespaces of this cluster, "
    "judge it (condition RestoreTested), delete them.",
)
@click.option(
    "--restore-test-keep-failed",
    is_flag=True,
    default=None,
    help="With --restore-test: keep a failed test's scratch namespaces (and the volumes "
    "restored into them) to look at.",
)
@click.option(
    "--restore-test-no-volumes",
    is_flag=True,
    default=None,
    help="With --restore-test: leave claims and volumes out of the test (by default they "
    "are restored as new volumes from the backup's snapshots, checked bound, then deleted).",
)
@context.output_option
@context.connection_options
def create(
    *,
    name: str,
    cron: str,
    paused: bool | None,
    use_owner_references_in_backup: bool | None,
    change_log: bool | None,
    change_log_flush_seconds: int | None,
    restore_test: bool | None,
    restore_test_keep_failed: bool | None,
    restore_test_no_volumes: bool | None,
    **flags: Any,
) -> None:
    """Create a schedule of backups. With -o yaml or -o json it is printed, not created."""
    s = context.settings()
    try:
        validate_cron(cron)
    except ValueError as exc:
        raise BadFlag("--schedule", str(exc)) from None
    keep = {k: flags.pop(k) for k in _KEEP}
    template = backups.spec_from_flags(flags)
    retention = {to_camel(k): v for k, v in keep.items() if v is not None}
    values = {
        "schedule": cron,
        "template": template.model_dump(by_alias=True, exclude_unset=True, exclude_none=True),
        "paused": paused,
        "retention": retention or None,
        "useOwnerReferencesInBackup": use_owner_references_in_backup,
        "changeLog": _change_log(change_log, change_log_flush_seconds),
        "restoreTest": _restore_test(
            restore_test, keep_failed=restore_test_keep_failed, no_volumes=restore_test_no_volumes
        ),
    }
    spec = common.build(ScheduleSpec, values, SCHEDULE_FLAGS)
    obj = common.wire(SCHEDULE, name, spec)
    if s.output != "table":
        output.print_objects([obj], kind=SCHEDULE, output=s.output, single=True)
        return
    common.create(SCHEDULE, obj)
    output.echo(
        f'Schedule "{name}" created in namespace {s.namespace}{" (paused)" if paused else ""}.'
    )


def _change_log(enabled: bool | None, flush_seconds: int | None) -> dict[str, Any] | None:
    if flush_seconds is not None and not enabled:
        raise BadFlag("--change-log-flush-seconds", "needs --change-log")
    if not enabled:
        return None
    return {"enabled": True} | ({} if flush_seconds is None else {"flushSeconds": flush_seconds})


def _restore_test(
    enabled: bool | None, *, keep_failed: bool | None, no_volumes: bool | None
) -> dict[str, Any] | None:
    if keep_failed and not enabled:
        raise BadFlag("--restore-test-keep-failed", "needs --restore-test")
    if no_volumes and not enabled:
        raise BadFlag("--restore-test-no-volumes", "needs --restore-test")
    if not enabled:
        return None
    return (
        {"enabled": True}
        | ({"keepFailed": True} if keep_failed else {})
        | ({"volumes": False} if no_volumes else {})
    )


@group.command("get")
@click.argument("names", nargs=-1, shell_complete=common.names_of(SCHEDULE))
@context.output_option
@context.connection_options
def get(*, names: tuple[str, ...]) -> None:
    """List schedules, or show the ones named."""
    s = context.settings()
    objs = common.get_many(SCHEDULE, names)
    output.print_objects(objs, kind=SCHEDULE, output=s.output, single=len(names) == 1)


@group.command("describe")
@click.argument("names", nargs=-1, required=True, shell_complete=common.names_of(SCHEDULE))
@context.connection_options
def describe(*, names: tuple[str, ...]) -> None:
    """The cron schedule, backup template, retention and last runs."""
    describing.each(SCHEDULE, names, describing.schedule)


def _set_paused(names: tuple[str, ...], paused: bool) -> None:
    for name in names:
        common.get(SCHEDULE, name)
    for name in names:
        common.patch(SCHEDULE, name, {"spec": {"paused": paused}})
        output.echo(f'Schedule "{name}" {"paused" if paused else "unpaused"}.')


@group.command("pause")
@click.argument("names", nargs=-1, required=True, shell_complete=common.names_of(SCHEDULE))
@context.connection_options
def pause(*, names: tuple[str, ...]) -> None:
    """Stop creating backups (until unpause)."""
    _set_paused(names, paused=True)


@group.command("unpause")
@click.argument("names", nargs=-1, required=True, shell_complete=common.names_of(SCHEDULE))
@context.connection_options
def unpause(*, names: tuple[str, ...]) -> None:
    """Resume creating backups."""
    _set_paused(names, paused=False)


@group.command("delete")
@click.argument("names", nargs=-1, required=True, shell_complete=common.names_of(SCHEDULE))
@click.option("--confirm", is_flag=True, help="Do not ask for confirmation.")
@context.connection_options
def delete(*, names: tuple[str, ...], confirm: bool) -> None:
    """Delete schedules; their backups stay (unless the schedule owns them)."""
    for name in names:
        common.get(SCHEDULE, name)
    common.confirm(f"Delete schedule(s) {', '.join(names)}?", confirmed=confirm)
    for name in names:
        common.delete(SCHEDULE, name)
        output.echo(f'Schedule "{name}" deleted.')
