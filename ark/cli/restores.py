"""``ark restore create|get|describe|logs|delete``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from ark import archive
from ark.api import kinds
from ark.api.restore import TERMINAL_RESTORE_PHASES, RestoreSpec
from ark.cli import backups, bucket, common, context, describing, output, progress
from ark.cli.context import CliError
from ark.cli.filters import FILTER_FLAGS, filter_options, filter_values

RESTORE = kinds.RESTORE
RESTORE_FLAGS = {
    **FILTER_FLAGS,
    "backupName": "--from-backup",
    "scheduleName": "--from-schedule",
    "pointInTime": "--at",
    "pointInTimeCluster": "--from-cluster",
    "namespaceMapping": "--namespace-mappings",
    "existingResourcePolicy": "--existing-resource-policy",
    "recreateFinalized": "--recreate-finalized",
    "restorePVs": "--restore-volumes",
    "preserveNodePorts": "--preserve-nodeports",
    "storageClassMapping": "--storage-class-mappings",
    "resourceModifier": "--resource-modifier-configmap",
    "itemOperationTimeout": "--item-operation-timeout",
    "dryRun": "--dry-run",
}


def tracked(name: str) -> progress.Tracked:
    def detail(obj: context.Obj) -> str:
        wave = ((obj.get("status") or {}).get("progress") or {}).get("currentWave")
        return "" if wave is None else f"wave {wave}"

    return progress.Tracked(
        kind=RESTORE,
        name=name,
        done_field="itemsRestored",
        detail=detail,
        terminal=frozenset(str(p) for p in TERMINAL_RESTORE_PHASES),
    )


@click.group("restore")
def group() -> None:
    """Restore backups: whole, filtered, or cloned under new namespace names."""


@group.command("create")
@click.argument("name", required=False)
@click.option("--from-backup", metavar="BACKUP", help="The backup to restore.")
@click.option(
    "--from-schedule", metavar="SCHEDULE", help="Restore the newest Completed backup of SCHEDULE."
)
@click.option(
    "--at",
    metavar="TIME",
    help="With --from-schedule: the objects as they stood at TIME (RFC 3339, e.g. "
    "2026-12-03T10:42:00Z), from the schedule's change log.",
)
@click.option(
    "--from-cluster",
    metavar="UID",
    help="With --at: the cluster whose schedule and change log to restore (the uid of its "
    "kube-system namespace), when clusters sharing the bucket have schedules of this name.",
)
@filter_options
@click.option(
    "--namespace-mappings",
    metavar="SRC:DST,...",
    help="Restore namespace SRC as DST (clone), e.g. shop:shop-staging,db:db-staging.",
)
@click.option(
    "--existing-resource-policy",
    metavar="none|update|recreate",
    help="What to do with objects that already exist: keep them (none, the default), patch "
    "them (update), or delete and create them (recreate).",
)
@click.option(
    "--recreate-finalized",
    is_flag=True,
    default=None,
    help="With recreate, also recreate objects other controllers hold with finalizers (by "
    "default those are updated).",
)
@click.option("--restore-volumes", metavar="true|false", help="Create volumes from snapshots.")
@click.option(
    "--preserve-nodeports/--no-preserve-nodeports",
    default=None,
    help="Services' nodePorts: kept, a taken one failing the Service (--preserve-nodeports), "
    "or all assigned anew (--no-…). Default: kept where free, a taken one reassigned and named.",
)
@click.option(
    "--storage-class-mappings", metavar="OLD:NEW,...", help="Rewrite storage class names."
)
@click.option(
    "--resource-modifier-configmap",
    metavar="CONFIGMAP",
    help="Patch restored objects by the resource modifier rules (Velero's format) in this "
    "ConfigMap of the restore's namespace.",
)
@click.option(
    "--item-operation-timeout", metavar="DURATION", help="Wait for one item at most this long."
)
@click.option(
    "--dry-run",
    is_flag=True,
    default=None,
    help="Plan only: the operator computes what would be created, updated or skipped (with "
    "diffs) and writes nothing; waits and shows the plan.",
)
@click.option("--wait", is_flag=True, help="Wait until the restore finishes, showing progress.")
@context.output_option
@context.connection_options
def create(*, name: str | None, wait: bool, **flags: Any) -> None:
    """Restore a backup (--from-backup) or a schedule's newest backup (--from-schedule), or
    with --at the objects as they stood at an instant (the schedule's change log).

    NAME defaults to BACKUP-<time> (or SCHEDULE-<time>). With -o yaml or -o json the Restore is
    printed and not created. Exit status with --wait or --dry-run: 0 when it Completed, else 1.
    """
    s = context.settings()
    values = filter_values(
        include_namespaces=flags.pop("include_namespaces"),
        exclude_namespaces=flags.pop("exclude_namespaces"),
        include_resources=flags.pop("include_resources"),
        exclude_resources=flags.pop("exclude_resources"),
        include_cluster_resources=flags.pop("include_cluster_resources"),
        selector=flags.pop("selector"),
        or_selectors=flags.pop("or_selectors"),
    )
    source = flags["from_backup"] or flags["from_schedule"]
    if flags["from_backup"] and flags["from_schedule"]:
        raise CliError("give --from-backup or --from-schedule, not both", code=2)
    if not source:
        raise CliError("missing --from-backup BACKUP (or --from-schedule SCHEDULE)", code=2)
    values.update(
        backupName=flags["from_backup"],
        scheduleName=flags["from_schedule"],
        pointInTime=flags["at"],
        pointInTimeCluster=flags["from_cluster"],
        namespaceMapping=common.key_values(
            flags["namespace_mappings"], flag="--namespace-mappings", sep=":"
        ),
        existingResourcePolicy=flags["existing_resource_policy"],
        recreateFinalized=flags["recreate_finalized"],
        restorePVs=common.bool_flag(flags["restore_volumes"], flag="--restore-volumes"),
        preserveNodePorts=flags["preserve_nodeports"],
        storageClassMapping=common.key_values(
            flags["storage_class_mappings"], flag="--storage-class-mappings", sep=":"
        ),
        resourceModifier={"kind": "ConfigMap", "name": flags["resource_modifier_configmap"]}
        if flags["resource_modifier_configmap"] is not None
        else None,
        itemOperationTimeout=common.duration(
            flags["item_operation_timeout"], flag="--item-operation-timeout"
        ),
        dryRun=flags["dry_run"],
    )
    obj = restore_object(values, name=name, source=source)
    name = obj["metadata"]["name"]
    if s.output != "table":
        output.print_objects([obj], kind=RESTORE, output=s.output, single=True)
        return
    submit(obj)
    dry_run = bool(obj["spec"].get("dryRun"))
    kind = "Dry-run restore" if dry_run else "Restore"
    output.echo(f'{kind} "{name}" submitted in namespace {s.namespace}.')
    if dry_run:
        final = progress.wait(tracked(name))
        output.echo(progress.summary(final, tracked(name)))
        for line in progress.problems(final):
            output.echo(f"  {line}")
        if (final.get("status") or {}).get("phase") in {"Completed", "PartiallyFailed"}:
            describing.restore_results(final, plan=True)
        if (final.get("status") or {}).get("phase") != "Completed":
            raise click.exceptions.Exit(1)
        return
    if not wait:
        output.echo(f"Follow it with: ark restore describe {name}  (or create it with --wait)")
        return
    backups.finish(tracked(name))


def restore_object(values: dict[str, Any], *, name: str | None, source: str) -> context.Obj:
    """A Restore as the API server takes it, from flag values (``RESTORE_FLAGS``' keys, None
    for a flag not given): its spec through the model, its name checked, by default
    SOURCE-<time>. ``ark dashboard``'s dry run makes its Restore here too."""
    spec = common.build(RestoreSpec, values, RESTORE_FLAGS)
    name = name or f"{source}-{dt.datetime.now(dt.UTC):%Y%m%d%H%M%S}"
    try:
        archive.restore_name(name)
    except archive.InvalidName as exc:
        raise context.BadFlag("NAME", str(exc)) from None
    return common.wire(RESTORE, name, spec)


def submit(obj: context.Obj) -> None:
    """Create the Restore, once its backup (when it names one) is found."""
    backup_name = obj["spec"].get("backupName")
    if backup_name:
        common.get(kinds.BACKUP, backup_name)
    common.create(RESTORE, obj)


@group.command("get")
@click.argument("names", nargs=-1, shell_complete=common.names_of(RESTORE))
@click.option("-l", "--selector", help="Only restores with these labels (k=v,...).")
@context.output_option
@context.connection_options
def get(*, names: tuple[str, ...], selector: str | None) -> None:
    """List restores, or show the ones named."""
    s = context.settings()
    objs = common.get_many(RESTORE, names, selector=selector)
    output.print_objects(objs, kind=RESTORE, output=s.output, single=len(names) == 1)


@group.command("describe")
@click.argument("names", nargs=-1, required=True, shell_complete=common.names_of(RESTORE))
@context.connection_options
def describe(*, names: tuple[str, ...]) -> None:
    """Spec, phase, timings and per-item outcomes (a dry run's plan with diffs).

    Outcomes come from the results file in the bucket, read with the storage location's
    credentials; without access to its Secret, the failed and warned items in status are shown.
    """
    describing.each(RESTORE, names, describing.restore)


@group.command("delete")
@click.argument("names", nargs=-1, required=True, shell_complete=common.names_of(RESTORE))
@click.option("--confirm", is_flag=True, help="Do not ask for confirmation.")
@context.connection_options
def delete(*, names: tuple[str, ...], confirm: bool) -> None:
    """Delete finished restores. What they restored stays in the cluster, and their log and
    results stay in the bucket (restores/NAME/), as another cluster may share it."""
    for name in names:
        phase = (common.get(RESTORE, name).get("status") or {}).get("phase")
        if phase not in TERMINAL_RESTORE_PHASES:
            raise CliError(f'restore "{name}" is {phase or "New"}: delete it once it finishes')
    common.confirm(f"Delete restore(s) {', '.join(names)}?", confirmed=confirm)
    for name in names:
        common.delete(RESTORE, name)
        output.echo(f'Restore "{name}" deleted.')


@group.command("logs")
@click.argument("name", shell_complete=common.names_of(RESTORE))
@context.connection_options
def logs(*, name: str) -> None:
    """Print the restore's log (from the bucket; needs read access to the credential Secret)."""
    obj = common.get(RESTORE, name)
    store = bucket.open_for(bucket.restore_location(obj))
    log = bucket.log_lines(lambda: store.restore_log(name), what=f'the log of restore "{name}"')
    for line in log:
        output.echo(line)
