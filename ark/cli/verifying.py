"""``ark backup verify``: check a stored backup from here, with the storage location's own
credentials, and write what was found into the Backup's status."""

from __future__ import annotations

from ark.api import kinds
from ark.backup import verify
from ark.cli import bucket, common, context, output
from ark.cli.context import CliError
from ark.kube import KubeError

_BACKUP = kinds.BACKUP


def run(name: str, *, deep: bool, processes: int) -> None:
    """Verify backup ``name``; exit 1 when anything failed (each problem printed)."""
    s = context.settings()
    obj = common.get(_BACKUP, name)
    store = bucket.open_for(bucket.location_name(obj))
    snapshotter_for = verify.snapshotters(s.client(), s.namespace) if deep else None
    output.err_console().print(f"Verifying backup {name}...", markup=False)
    result = verify.run(store, name, snapshotter_for=snapshotter_for, processes=processes)
    for problem in result.problems:
        output.echo(f"  {problem}")
    output.echo(result.summary(), style="green" if result.ok else "red")
    if result.workers:
        output.err_console().print(
            f"(the archive's segments were checked in {result.workers + 1} processes)",
            markup=False,
        )
    try:
        verify.write_status(s.client(), s.namespace, result)
    except KubeError as exc:
        output.err_console().print(
            f"(not written into the Backup's status: {common.explain(exc)})", markup=False
        )
    if not result.ok:
        raise CliError(f"backup {name} failed verification: {result.reason}")
