"""``ark backup-location create|get|set-default`` and ``ark snapshot-location create|get``."""

from __future__ import annotations

from typing import Any

import click

from ark.api import kinds
from ark.api.locations import BackupStorageLocationSpec, VolumeSnapshotLocationSpec
from ark.cli import common, output
from ark.cli.common import BadFlag

BSL = kinds.BACKUP_STORAGE_LOCATION
VSL = kinds.VOLUME_SNAPSHOT_LOCATION
BSL_FLAGS = {
    "provider": "--provider",
    "objectStorage": "--bucket",
    "bucket": "--bucket",
    "prefix": "--prefix",
    "config": "--config",
    "credential": "--credential",
    "default": "--default",
    "accessMode": "--access-mode",
    "backupSyncPeriod": "--backup-sync-period",
    "validationFrequency": "--validation-frequency",
}
VSL_FLAGS = {"provider": "--provider", "config": "--config", "credential": "--credential"}


def parse_credential(value: str | None) -> dict[str, str] | None:
    """Velero's ``--credential SECRET=KEY``."""
    if value is None:
        return None
    name, found, key = value.partition("=")
    if not found or not name or not key:
        raise BadFlag("--credential", f"{value!r} is not SECRET=KEY")
    return {"name": name, "key": key}


def bsl_spec(
    *,
    provider: str,
    bucket: str,
    prefix: str | None,
    config: str | None,
    credential_ref: dict[str, str] | None,
    default: bool | None = None,
    access_mode: str | None = None,
    backup_sync_period: str | None = None,
    validation_frequency: str | None = None,
) -> BackupStorageLocationSpec:
    values = {
        "provider": provider,
        "objectStorage": {"bucket": bucket, **({"prefix": prefix} if prefix else {})},
        "config": common.key_values(config, flag="--config"),
        "credential": credential_ref,
        "default": default,
        "accessMode": access_mode,
        "backupSyncPeriod": common.duration(backup_sync_period, flag="--backup-sync-period"),
        "validationFrequency": common.duration(validation_frequency, flag="--validation-frequency"),
    }
    return common.build(BackupStorageLocationSpec, values, BSL_FLAGS)


@click.group("backup-location")
def bsl_group() -> None:
    """Where backups are stored: BackupStorageLocations."""


@bsl_group.command("create")
@click.argument("name")
@click.option("--provider", required=True, help="Object-store provider: aws, azure, gcp, fs, …")
@click.option("--bucket", required=True, help="Bucket, container, or (fs) absolute directory.")
@click.option("--prefix", help="Folder inside the bucket for ark's data.")
@click.option("--config", metavar="KEY=VALUE,...", help="Provider settings, e.g. region=eu-west-1.")
@click.option(
    "--credential", metavar="SECRET=KEY", help="Key of a Secret (in -n) holding the credentials."
)
@click.option(
    "--default", "is_default", is_flag=True, default=None, help="Make it the default location."
)
@click.option("--access-mode", metavar="ReadWrite|ReadOnly", help="ReadOnly: restores only.")
@click.option("--backup-sync-period", metavar="DURATION", help="How often to sync (0 off).")
@click.option("--validation-frequency", metavar="DURATION", help="How often to check access.")
@common.output_option
@common.connection_options
def bsl_create(*, name: str, is_default: bool | None, **flags: Any) -> None:
    """Create a BackupStorageLocation. With -o yaml or -o json it is printed, not created."""
    s = common.settings()
    spec = bsl_spec(
        provider=flags["provider"],
        bucket=flags["bucket"],
        prefix=flags["prefix"],
        config=flags["config"],
        credential_ref=parse_credential(flags["credential"]),
        default=is_default,
        access_mode=flags["access_mode"],
        backup_sync_period=flags["backup_sync_period"],
        validation_frequency=flags["validation_frequency"],
    )
    obj = common.wire(BSL, name, spec)
    if s.output != "table":
        output.print_objects([obj], kind=BSL, output=s.output, single=True)
        return
    common.create(BSL, obj)
    output.echo(f'Backup storage location "{name}" created in namespace {s.namespace}.')


@bsl_group.command("get")
@click.argument("names", nargs=-1)
@common.output_option
@common.connection_options
def bsl_get(*, names: tuple[str, ...]) -> None:
    """List backup storage locations, or show the ones named."""
    s = common.settings()
    objs = common.get_many(BSL, names)
    output.print_objects(objs, kind=BSL, output=s.output, single=len(names) == 1)


@bsl_group.command("set-default")
@click.argument("name", shell_complete=common.names_of(BSL))
@common.connection_options
def bsl_set_default(*, name: str) -> None:
    """Make NAME the default location (and no other)."""
    common.get(BSL, name)
    for other in common.list_all(BSL):
        other_name = other["metadata"]["name"]
        if other_name != name and (other.get("spec") or {}).get("default"):
            common.patch(BSL, other_name, {"spec": {"default": False}})
    common.patch(BSL, name, {"spec": {"default": True}})
    output.echo(f'Backup storage location "{name}" is now the default.')


@click.group("snapshot-location")
def vsl_group() -> None:
    """Where volume snapshots are taken: VolumeSnapshotLocations."""


@vsl_group.command("create")
@click.argument("name")
@click.option("--provider", required=True, help="Snapshot provider: aws, azure, gcp, …")
@click.option("--config", metavar="KEY=VALUE,...", help="Provider settings, e.g. region=us-east-1.")
@click.option(
    "--credential", metavar="SECRET=KEY", help="Key of a Secret (in -n) holding the credentials."
)
@common.output_option
@common.connection_options
def vsl_create(*, name: str, provider: str, config: str | None, credential: str | None) -> None:
    """Create a VolumeSnapshotLocation. With -o yaml or -o json it is printed, not created."""
    s = common.settings()
    values = {
        "provider": provider,
        "config": common.key_values(config, flag="--config"),
        "credential": parse_credential(credential),
    }
    spec = common.build(VolumeSnapshotLocationSpec, values, VSL_FLAGS)
    obj = common.wire(VSL, name, spec)
    if s.output != "table":
        output.print_objects([obj], kind=VSL, output=s.output, single=True)
        return
    common.create(VSL, obj)
    output.echo(f'Volume snapshot location "{name}" created in namespace {s.namespace}.')


@vsl_group.command("get")
@click.argument("names", nargs=-1)
@common.output_option
@common.connection_options
def vsl_get(*, names: tuple[str, ...]) -> None:
    """List volume snapshot locations, or show the ones named."""
    s = common.settings()
    objs = common.get_many(VSL, names)
    output.print_objects(objs, kind=VSL, output=s.output, single=len(names) == 1)
