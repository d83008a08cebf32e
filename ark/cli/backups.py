"""``ark backup create|get|describe|logs|download|verify|export-volumes|delete``."""

from __future__ import annotations

import datetime as dt
import secrets
import sys
from pathlib import Path
from typing import Any

import click

from ark import archive, control
from ark.api import kinds
from ark.api.backup import TERMINAL_BACKUP_PHASES, BackupSpec
from ark.archive import checkpool
from ark.cli import bucket, common, context, describing, exporting, output, progress, verifying
from ark.cli.context import CliError
from ark.cli.filters import FILTER_FLAGS, filter_options, filter_values
from ark.storage import ObjectNotFound, StoreError

BACKUP = kinds.BACKUP
BACKUP_FLAGS = {
    **FILTER_FLAGS,
    "storageLocation": "--storage-location",
    "volumeSnapshotLocations": "--volume-snapshot-locations",
    "snapshotVolumes": "--snapshot-volumes",
    "exportVolumes": "--export-volumes",
    "ttl": "--ttl",
}


def _detail(obj: dict[str, Any]) -> str:
    """The volume being exported, else the resource being listed."""
    now = (obj.get("status") or {}).get("progress") or {}
    return str(now.get("currentVolumeExport") or now.get("currentResource") or "")


def tracked(name: str) -> progress.Tracked:
    return progress.Tracked(
        kind=BACKUP,
        name=name,
        done_field="itemsBackedUp",
        detail=_detail,
        terminal=frozenset(str(p) for p in TERMINAL_BACKUP_PHASES),
    )


def backup_spec_options(command: Any) -> Any:
    """The Backup spec's flags (shared with ``ark schedule create``)."""
    command = filter_options(command)
    for option in reversed(
        [
            click.option(
                "--snapshot-volumes",
                metavar="true|false",
                help="Take snapshots of the PersistentVolumes backed up.",
            ),
            click.option(
                "--export-volumes",
                is_flag=True,
                default=None,
                help="Copy each volume snapshot's blocks into the storage location, so a "
                "restore can bring the volume to another region or cloud (aws snapshots).",
            ),
            click.option(
                "--ttl",
                metavar="DURATION",
                help="How long to keep the backup, e.g. 720h (the default) or 24h30m; 0 keeps it.",
            ),
            click.option(
                "--storage-location",
                metavar="NAME",
                help="BackupStorageLocation to write to (default: the default location).",
            ),
            click.option(
                "--volume-snapshot-locations",
                metavar="NAME,...",
                help="VolumeSnapshotLocations to snapshot volumes in.",
            ),
        ]
    ):
        command = option(command)
    return command


def spec_from_flags(flags: dict[str, Any]) -> BackupSpec:
    values = filter_values(
        include_namespaces=flags.pop("include_namespaces"),
        exclude_namespaces=flags.pop("exclude_namespaces"),
        include_resources=flags.pop("include_resources"),
        exclude_resources=flags.pop("exclude_resources"),
        include_cluster_resources=flags.pop("include_cluster_resources"),
        selector=flags.pop("selector"),
        or_selectors=flags.pop("or_selectors"),
    )
    values.update(
        snapshotVolumes=common.bool_flag(flags.pop("snapshot_volumes"), flag="--snapshot-volumes"),
        exportVolumes=flags.pop("export_volumes") or None,
        ttl=common.duration(flags.pop("ttl"), flag="--ttl"),
        storageLocation=flags.pop("storage_location"),
        volumeSnapshotLocations=common.csv(flags.pop("volume_snapshot_locations")),
    )
    return common.build(BackupSpec, values, BACKUP_FLAGS)


def check_name(name: str, *, flag: str = "NAME") -> str:
    try:
        return archive.backup_name(name)
    except archive.InvalidName as exc:
        raise context.BadFlag(flag, str(exc)) from None


@click.group("backup")
def group() -> None:
    """Create, inspect, download and delete backups."""


@group.command("create")
@click.argument("name", required=False)
@backup_spec_options
@click.option(
    "--from-schedule",
    metavar="SCHEDULE",
    help="Take the backup from this schedule's template (NAME defaults to SCHEDULE-<time>); "
    "the other spec flags are not allowed with it.",
)
@click.option("--wait", is_flag=True, help="Wait until the backup finishes, showing progress.")
@click.option("--label", "labels", metavar="KEY=VALUE,...", help="Labels of the Backup object.")
@context.output_option
@context.connection_options
def create(
    *, name: str | None, from_schedule: str | None, wait: bool, labels: str | None, **flags: Any
) -> None:
    """Back up the cluster, or the part of it the flags select.

    With -o yaml or -o json the Backup is printed and not created. Exit status with --wait:
    0 when the backup Completed, 1 otherwise.
    """
    s = context.settings()
    meta_labels = common.key_values(labels, flag="--label") or {}
    if from_schedule:
        given = [BACKUP_FLAGS[k] for k, v in _spec_dict(flags).items() if v not in (None, ())]
        if given:
            raise CliError(
                f"--from-schedule takes the spec from the schedule; drop {given[0]}", code=2
            )
        schedule = common.get(kinds.SCHEDULE, from_schedule)
        spec = BackupSpec.model_validate((schedule.get("spec") or {}).get("template") or {})
        meta_labels[control.SCHEDULE_LABEL] = from_schedule
        name = name or f"{from_schedule}-{dt.datetime.now(dt.UTC):%Y%m%d%H%M%S}"
    else:
        if not name:
            raise CliError("a backup NAME is required (or --from-schedule)", code=2)
        spec = spec_from_flags(flags)
    obj = common.wire(BACKUP, check_name(name), spec, labels=meta_labels)
    if s.output != "table":
        output.print_objects([obj], kind=BACKUP, output=s.output, single=True)
        return
    common.create(BACKUP, obj)
    output.echo(f'Backup "{name}" submitted in namespace {s.namespace}.')
    if not wait:
        output.echo(f"Follow it with: ark backup describe {name}  (or create it with --wait)")
        return
    finish(tracked(name))


def _spec_dict(flags: dict[str, Any]) -> dict[str, Any]:
    names = {
        "include_namespaces": "includedNamespaces",
        "exclude_namespaces": "excludedNamespaces",
        "include_resources": "includedResources",
        "exclude_resources": "excludedResources",
        "include_cluster_resources": "includeClusterResources",
        "selector": "labelSelector",
        "or_selectors": "orLabelSelectors",
        "snapshot_volumes": "snapshotVolumes",
        "ttl": "ttl",
        "storage_location": "storageLocation",
        "volume_snapshot_locations": "volumeSnapshotLocations",
    }
    return {names[k]: v for k, v in flags.items() if k in names}


def finish(what: progress.Tracked) -> None:
    """Wait, print the summary, and exit 1 unless the run Completed."""
    final = progress.wait(what)
    phase = (final.get("status") or {}).get("phase")
    output.echo(progress.summary(final, what), style="green" if phase == "Completed" else "red")
    for line in progress.problems(final):
        output.echo(f"  {line}")
    if phase != "Completed":
        noun = common.label(what.kind)
        output.echo(f"See: ark {noun} describe {what.name}   ark {noun} logs {what.name}")
        raise click.exceptions.Exit(1)


@group.command("get")
@click.argument("names", nargs=-1, shell_complete=common.names_of(BACKUP))
@click.option("-l", "--selector", help="Only backups with these labels (k=v,...).")
@context.output_option
@context.connection_options
def get(*, names: tuple[str, ...], selector: str | None) -> None:
    """List backups, or show the ones named."""
    s = context.settings()
    objs = common.get_many(BACKUP, names, selector=selector)
    output.print_objects(objs, kind=BACKUP, output=s.output, single=len(names) == 1)


@group.command("describe")
@click.argument("names", nargs=-1, required=True, shell_complete=common.names_of(BACKUP))
@context.connection_options
def describe(*, names: tuple[str, ...]) -> None:
    """Spec, phase, timings, per-item warnings and errors, and volume snapshots.

    Per-item results are read from the bucket with the storage location's credentials; when
    you may not read its Secret, describe says so and shows the counts only.
    """
    describing.each(BACKUP, names, describing.backup)


@group.command("logs")
@click.argument("name", shell_complete=common.names_of(BACKUP))
@context.connection_options
def logs(*, name: str) -> None:
    """Print the backup's log (from the bucket; needs read access to the credential Secret)."""
    obj = common.get(BACKUP, name)
    store = bucket.open_for(bucket.location_name(obj))
    log = bucket.log_lines(lambda: store.backup_log(name), what=f'the log of backup "{name}"')
    for line in log:
        output.echo(line)


@group.command("download")
@click.argument("name", shell_complete=common.names_of(BACKUP))
@click.option(
    "-o",
    "--output",
    "target",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (default: NAME-data.tar.gz here); '-' writes to stdout.",
)
@click.option("--force", is_flag=True, help="Overwrite the file if it exists.")
@context.connection_options
def download(*, name: str, target: Path | None, force: bool) -> None:
    """Download the backup's archive (the tar.gz of its items)."""
    obj = common.get(BACKUP, name)
    store = bucket.open_for(bucket.location_name(obj))
    path = target or Path(f"{name}-data.tar.gz")
    to_stdout = str(path) == "-"
    if not to_stdout and path.exists() and not force:
        raise CliError(f"{path} exists; use --force to overwrite it")
    written = 0
    try:
        with store.open_archive(name) as src:
            out = sys.stdout.buffer if to_stdout else path.open("wb")
            try:
                while chunk := src.read(1 << 20):
                    written += out.write(chunk)
            finally:
                if not to_stdout:
                    out.close()
    except ObjectNotFound as exc:
        raise CliError(f'backup "{name}" has no archive in the bucket ({exc.key})') from None
    except StoreError as exc:
        raise CliError(f'cannot download backup "{name}": {exc}') from None
    if not to_stdout:
        output.err_console().print(
            f"Backup {name} downloaded to {path} ({written} bytes).", markup=False
        )


@group.command("verify")
@click.argument("name", shell_complete=common.names_of(BACKUP))
@click.option(
    "--deep",
    is_flag=True,
    help="Also ask each volume snapshot's provider (cloud, or the CSI objects) whether it "
    "exists and is complete (needs the VolumeSnapshotLocations' credentials).",
)
@click.option(
    "--processes",
    type=click.IntRange(1, checkpool.MAX_PROCESSES),
    default=checkpool.DEFAULT_PROCESSES,
    show_default=True,
    help="Processes that check the archive's parts at once (never more than this machine's "
    "CPUs); each one more is about 25 MiB of memory.",
)
@context.connection_options
def verify(*, name: str, deep: bool, processes: int) -> None:
    """Check the stored backup without restoring it.

    \b
    Reads the backup from the bucket (streaming; nothing is written to disk):
      - the record is there and finished; ark's manifest is the one the record names
        (not missing, not another backup's, not altered);
      - every item's SHA-256 against the manifest, every object parsed and checked as a
        restore checks it (a Velero-written backup has no manifest: all the rest is checked);
      - the resource list and the record's item count against the archive;
      - the volume snapshot records (with --deep, each snapshot at its provider).

    The result goes into the Backup's status (condition Verified, status.verification) when
    you may patch it. Exit status: 0 verified; 1 otherwise, each problem printed with its
    reason (ChecksumMismatch, ManifestAltered, ...).
    """
    verifying.run(name, deep=deep, processes=processes)


@group.command("export-volumes")
@click.argument("name", shell_complete=common.names_of(BACKUP))
@context.connection_options
def export_volumes(*, name: str) -> None:
    """Copy a finished backup's volume snapshots into its storage location.

    \b
    What spec.exportVolumes does during a backup, later: each completed snapshot is read
    block by block (aws: the EBS direct APIs; GCE has no API for it), and each non-zero
    block stored once per location as a content-addressed chunk, shared with every other
    backup; an export run again sends only the chunks still missing. Runs from here with
    the VolumeSnapshotLocations' and the storage location's credentials; the outcome goes
    into the Backup's status (status.volumeExports) when you may patch it. Exit status: 0
    every snapshot exported; 1 otherwise, each failure printed with its reason.
    """
    exporting.run(name)


def _refuse_if_locked(backup: dict[str, Any]) -> None:
    """Refuse at once what the operator would refuse: a backup whose status says its objects
    are locked. The operator asks the bucket itself before it deletes anything."""
    lock = (backup.get("status") or {}).get("objectLock") or {}
    until = output.parse_time(lock.get("until"))
    if until is not None and until > dt.datetime.now(dt.UTC):
        raise CliError(
            f'backup "{backup["metadata"]["name"]}" is under {lock.get("mode")} object lock '
            f"until {lock['until']}: it cannot be deleted before then; nothing was deleted"
        )


@group.command("delete")
@click.argument("names", nargs=-1, required=True, shell_complete=common.names_of(BACKUP))
@click.option("--confirm", is_flag=True, help="Do not ask for confirmation.")
@context.connection_options
def delete(*, names: tuple[str, ...], confirm: bool) -> None:
    """Delete backups with their data and snapshots (through DeleteBackupRequests)."""
    for name in names:
        _refuse_if_locked(common.get(BACKUP, name))
    common.confirm(f"Delete backup(s) {', '.join(names)} and their data?", confirmed=confirm)
    for name in names:
        request = {
            "apiVersion": kinds.DELETE_BACKUP_REQUEST.api_version,
            "kind": kinds.DELETE_BACKUP_REQUEST.kind,
            "metadata": {
                "name": f"{name[:240]}-{secrets.token_hex(3)}",
                "labels": {"ark.dev/backup-name": name[:63]},
            },
            "spec": {"backupName": name},
        }
        common.create(kinds.DELETE_BACKUP_REQUEST, request)
        output.echo(
            f'Request to delete backup "{name}" submitted; it is deleted in the background.'
        )
