"""``ark backup-location create|get|describe|set-default|delete`` and ``ark snapshot-location
create|get|describe|delete``."""

from __future__ import annotations

from typing import Any

import click

from ark import control
from ark.api import kinds
from ark.api.backup import TERMINAL_BACKUP_PHASES
from ark.api.locations import BackupStorageLocationSpec, VolumeSnapshotLocationSpec
from ark.cli import common, context, describing, output
from ark.cli.context import BadFlag, CliError, Obj

BSL = kinds.BACKUP_STORAGE_LOCATION
VSL = kinds.VOLUME_SNAPSHOT_LOCATION
BACKUP = kinds.BACKUP
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
    "objectLock": "--object-lock-mode / --object-lock-days",
    "encryption": "--encryption-key-id",
    "keys": "--encryption-key-id",
    "current": "--encryption-key-id",
}
VSL_FLAGS = {"provider": "--provider", "config": "--config", "credential": "--credential"}


def parse_credential(value: str | None, *, flag: str = "--credential") -> dict[str, str] | None:
    """Velero's ``--credential SECRET=KEY``."""
    if value is None:
        return None
    name, found, key = value.partition("=")
    if not found or not name or not key:
        raise BadFlag(flag, f"{value!r} is not SECRET=KEY")
    return {"name": name, "key": key}


def object_lock(mode: str | None, days: int | None) -> dict[str, Any] | None:
    """``--object-lock-mode`` and ``--object-lock-days``, which go together."""
    if mode is None and days is None:
        return None
    if mode is None or days is None:
        missing = "--object-lock-days" if days is None else "--object-lock-mode"
        given = "--object-lock-mode" if days is None else "--object-lock-days"
        raise BadFlag(missing, f"needed with {given}")
    return {"mode": mode, "days": days}


def encryption(
    *, key_id: str | None, provider: str | None, secret: str | None, config: str | None
) -> dict[str, Any] | None:
    """The ``--encryption-*`` flags: one key, made current (rotate by editing the location)."""
    if key_id is None and provider is None and secret is None and config is None:
        return None
    secret_ref = parse_credential(secret, flag="--encryption-secret")
    provider = provider or "secret"
    if provider == "secret" and secret_ref is None:
        raise BadFlag("--encryption-secret", "needed: the Secret key holding the key (SECRET=KEY)")
    key_id = key_id or (secret_ref["key"] if secret_ref and provider == "secret" else None)
    if key_id is None:
        raise BadFlag("--encryption-key-id", f"needed with --encryption-provider {provider}")
    key: dict[str, Any] = {"id": key_id, "provider": provider, "secret": secret_ref}
    key["config"] = common.key_values(config, flag="--encryption-config")
    return {"current": key_id, "keys": [{k: v for k, v in key.items() if v is not None}]}


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
    object_lock: dict[str, Any] | None = None,
    encryption: dict[str, Any] | None = None,
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
        "objectLock": object_lock,
        "encryption": encryption,
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
@click.option(
    "--object-lock-mode",
    type=click.Choice(["Governance", "Compliance"]),
    help="Lock every object of each backup against deletion (the bucket must support it).",
)
@click.option(
    "--object-lock-days",
    type=click.IntRange(1, 36500),
    metavar="DAYS",
    help="How long each backup's objects stay locked (with --object-lock-mode).",
)
@click.option(
    "--encryption-secret",
    metavar="SECRET=KEY",
    help="Encrypt backups with the 32-byte key in this Secret key (in -n).",
)
@click.option(
    "--encryption-key-id",
    metavar="ID",
    help="The key's id, kept with each backup (default: the Secret's KEY).",
)
@click.option(
    "--encryption-provider",
    metavar="NAME",
    help="A key provider instead of a Secret, e.g. aws-kms (see ark.key_providers).",
)
@click.option(
    "--encryption-config",
    metavar="KEY=VALUE,...",
    help="The key provider's settings, e.g. keyId=arn:aws:kms:...,region=eu-west-1.",
)
@context.output_option
@context.connection_options
def bsl_create(*, name: str, is_default: bool | None, **flags: Any) -> None:
    """Create a BackupStorageLocation. With -o yaml or -o json it is printed, not created."""
    s = context.settings()
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
        object_lock=object_lock(flags["object_lock_mode"], flags["object_lock_days"]),
        encryption=encryption(
            key_id=flags["encryption_key_id"],
            provider=flags["encryption_provider"],
            secret=flags["encryption_secret"],
            config=flags["encryption_config"],
        ),
    )
    obj = common.wire(BSL, name, spec)
    if s.output != "table":
        output.print_objects([obj], kind=BSL, output=s.output, single=True)
        return
    common.create(BSL, obj)
    output.echo(f'Backup storage location "{name}" created in namespace {s.namespace}.')


@bsl_group.command("get")
@click.argument("names", nargs=-1)
@context.output_option
@context.connection_options
def bsl_get(*, names: tuple[str, ...]) -> None:
    """List backup storage locations, or show the ones named."""
    s = context.settings()
    objs = common.get_many(BSL, names)
    output.print_objects(objs, kind=BSL, output=s.output, single=len(names) == 1)


def _backups_of(location: Obj) -> list[Obj]:
    """The Backup objects kept in ``location``: written to it, or synced from it."""
    name = location["metadata"]["name"]
    default = bool((location.get("spec") or {}).get("default"))
    out = []
    for backup in common.list_all(BACKUP):
        named = (backup.get("spec") or {}).get("storageLocation")
        synced = (backup["metadata"].get("labels") or {}).get(control.LOCATION_LABEL)
        if name in (named, synced) or (named is None and synced is None and default):
            out.append(backup)
    return out


@bsl_group.command("describe")
@click.argument("names", nargs=-1, required=True, shell_complete=common.names_of(BSL))
@context.connection_options
def bsl_describe(*, names: tuple[str, ...]) -> None:
    """Where it is, how it is checked, locked and encrypted, and its backups."""
    describing.each(
        BSL, names, lambda bsl: describing.backup_location(bsl, backups=len(_backups_of(bsl)))
    )


@bsl_group.command("delete")
@click.argument("names", nargs=-1, required=True, shell_complete=common.names_of(BSL))
@click.option("--confirm", is_flag=True, help="Do not ask for confirmation.")
@context.connection_options
def bsl_delete(*, names: tuple[str, ...], confirm: bool) -> None:
    """Delete locations and their Backup objects, as Velero does. Nothing in the bucket is
    deleted: a location made again on it syncs the backups back. Refused while a backup to
    it runs."""
    backups = {name: _backups_of(common.get(BSL, name)) for name in names}
    for name, found in backups.items():
        running = [
            b["metadata"]["name"]
            for b in found
            if (b.get("status") or {}).get("phase") not in TERMINAL_BACKUP_PHASES
        ]
        if running:
            raise CliError(
                f'backup storage location "{name}" has backups not finished: '
                f"{', '.join(running)}; delete it once they are",
                code=1,
            )
    common.confirm(
        f"Delete backup storage location(s) {', '.join(names)} and their Backup objects "
        "(the data in the buckets stays)?",
        confirmed=confirm,
    )
    for name, found in backups.items():
        for backup in found:
            common.delete(BACKUP, backup["metadata"]["name"])
        common.delete(BSL, name)
        output.echo(
            f'Backup storage location "{name}" deleted, with {len(found)} Backup object(s); '
            "their data stays in the bucket."
        )


@bsl_group.command("set-default")
@click.argument("name", shell_complete=common.names_of(BSL))
@context.connection_options
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
@context.output_option
@context.connection_options
def vsl_create(*, name: str, provider: str, config: str | None, credential: str | None) -> None:
    """Create a VolumeSnapshotLocation. With -o yaml or -o json it is printed, not created."""
    s = context.settings()
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
@context.output_option
@context.connection_options
def vsl_get(*, names: tuple[str, ...]) -> None:
    """List volume snapshot locations, or show the ones named."""
    s = context.settings()
    objs = common.get_many(VSL, names)
    output.print_objects(objs, kind=VSL, output=s.output, single=len(names) == 1)


@vsl_group.command("describe")
@click.argument("names", nargs=-1, required=True, shell_complete=common.names_of(VSL))
@context.connection_options
def vsl_describe(*, names: tuple[str, ...]) -> None:
    """Its provider, settings and whether the operator can use it."""
    describing.each(VSL, names, describing.snapshot_location)


@vsl_group.command("delete")
@click.argument("names", nargs=-1, required=True, shell_complete=common.names_of(VSL))
@click.option("--confirm", is_flag=True, help="Do not ask for confirmation.")
@context.connection_options
def vsl_delete(*, names: tuple[str, ...], confirm: bool) -> None:
    """Delete snapshot locations. Snapshots taken through them stay in the cloud (delete a
    backup to delete its snapshots)."""
    for name in names:
        common.get(VSL, name)
    common.confirm(f"Delete volume snapshot location(s) {', '.join(names)}?", confirmed=confirm)
    for name in names:
        common.delete(VSL, name)
        output.echo(f'Volume snapshot location "{name}" deleted; its snapshots stay.')
