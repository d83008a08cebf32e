"""``ark backup export-volumes``: export a stored backup's volume snapshots from here, with
the locations' own credentials, and write the outcome into the Backup's status."""

from __future__ import annotations

from ark.api import kinds
from ark.backup import volume_exports
from ark.cli import bucket, common, context, output
from ark.cli.context import CliError
from ark.kube import KubeError
from ark.storage import StoreError

_BACKUP = kinds.BACKUP


def run(name: str) -> None:
    """Export backup ``name``'s volume snapshots; exit 1 when any failed (each printed)."""
    s = context.settings()
    obj = common.get(_BACKUP, name)
    store = bucket.open_for(bucket.location_name(obj))
    try:
        records = store.snapshots(name)
    except (StoreError, ValueError) as exc:
        raise CliError(f"backup {name}: cannot read its volume snapshots: {exc}") from None
    if not any(r.phase == volume_exports.COMPLETED for r in records):
        raise CliError(f"backup {name} has no completed volume snapshot to export")
    try:
        sources, problems = volume_exports.sources_of(s.client(), s.namespace, records)
    except KubeError as exc:
        raise common.explain(exc) from None
    for problem in problems:
        output.echo(f"  {problem}", style="yellow")
    output.err_console().print(f"Exporting the volumes of backup {name}...", markup=False)
    outcomes = volume_exports.export_snapshots(store, name, records, sources=sources)
    for outcome in outcomes:
        ok = outcome.phase == volume_exports.COMPLETED
        output.echo(f"  {outcome}", style=None if ok else "red")
    failed = [o for o in outcomes if o.phase != volume_exports.COMPLETED]
    done = len(outcomes) - len(failed)
    output.echo(f"{done} of {len(outcomes)} volumes exported", style="red" if failed else "green")
    try:
        volume_exports.write_status(s.client(), s.namespace, name, outcomes)
    except KubeError as exc:
        output.err_console().print(
            f"(not written into the Backup's status: {common.explain(exc)})", markup=False
        )
    if failed:
        raise CliError(f"backup {name}: {len(failed)} volumes not exported")
