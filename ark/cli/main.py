"""``ark``: the command line. Commands live in one module per noun; this one wires them and
turns expected failures into one line on stderr and an exit status.

Exit status: 0 success; 1 failure (not found, cluster unreachable, a waited-for run that did
not complete); 2 bad usage or a flag value the API refuses; 130 interrupted.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import NamedTuple

import click

from ark.cli import context
from ark.cli.context import CliError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class Lazy(NamedTuple):
    """A command whose module loads when the command runs (or shows its own help)."""

    module: str
    attr: str
    summary: str
    """Its help's first paragraph, for ``ark --help`` (a test pins that it is the command's)."""


COMMANDS = {
    "install": Lazy(
        "ark.cli.install",
        "install",
        "Install ark into the current context: CRDs, the operator in -n's namespace, and (with "
        "--provider and --bucket) a default BackupStorageLocation with its credential Secret.",
    ),
    "uninstall": Lazy(
        "ark.cli.uninstall",
        "uninstall",
        "Remove ark from the current context: the operator, -n's namespace with every ark object "
        "in it, the cluster-wide RBAC and admission policy, and ark's CRDs.",
    ),
    "version": Lazy(
        "ark.cli.version",
        "version",
        "Print the client's version, and the cluster's: Kubernetes, ark's CRDs, the operator.",
    ),
    "dashboard": Lazy(
        "ark.cli.dashboard.command",
        "dashboard",
        "Serve a web UI on localhost: backups, schedules, restores with per-item results, "
        "locations, and dry-run restores of any backup.",
    ),
    "backup": Lazy("ark.cli.backups", "group", "Create, inspect, download and delete backups."),
    "restore": Lazy(
        "ark.cli.restores",
        "group",
        "Restore backups: whole, filtered, or cloned under new namespace names.",
    ),
    "schedule": Lazy("ark.cli.schedules", "group", "Back up on a cron schedule, with retention."),
    "backup-location": Lazy(
        "ark.cli.locations", "bsl_group", "Where backups are stored: BackupStorageLocations."
    ),
    "snapshot-location": Lazy(
        "ark.cli.locations",
        "vsl_group",
        "Where volume snapshots are taken: VolumeSnapshotLocations.",
    ),
}
"""Every command under ``ark``. A command's module (with the API models, the cluster client, the
engines it may need) is imported only when the command is resolved, so ``ark --help`` and
``ark version --client-only`` start quickly."""


class LazyGroup(click.Group):
    """``ark``'s root: its commands come from ``COMMANDS``, loaded one at a time."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        lazy = COMMANDS.get(cmd_name)
        if lazy is None:
            return None
        command = getattr(importlib.import_module(lazy.module), lazy.attr)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``ark --help``, from the summaries: no command module loads."""
        listed = {name: click.Command(name, help=lazy.summary) for name, lazy in COMMANDS.items()}
        click.Group(commands=listed).format_commands(ctx, formatter)


@click.group(cls=LazyGroup, context_settings=CONTEXT)
@context.connection_options
def cli() -> None:
    """ark: back up and restore Kubernetes namespaces and clusters.

    \b
    Quick start:
      ark install --provider aws --bucket ark --config region=eu-west-1 --secret-file ./creds
      ark backup create shop-1 --include-namespaces shop --wait
      ark restore create --from-backup shop-1 --namespace-mappings shop:shop-copy --wait

    Shell completion: eval "$(_ARK_COMPLETE=bash_source ark)" (zsh_source, fish_source).
    """


def fail(message: str, code: int) -> int:
    click.echo(f"ark: {message}", err=True)
    return code


def main(argv: Sequence[str] | None = None) -> int:  # noqa: PLR0911 - one per error class
    """Run ``ark``; the console script's entry point."""
    try:
        result = cli.main(args=argv, prog_name="ark", standalone_mode=False)
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        return fail(f"{exc.format_message()}{hint}", 2)
    except click.ClickException as exc:
        return fail(exc.format_message(), exc.exit_code)
    except click.Abort:
        return fail("aborted", 1)
    except CliError as exc:
        return fail(str(exc), exc.code)
    except KeyboardInterrupt:
        return fail("interrupted (a run already submitted keeps going in the cluster)", 130)
    except BrokenPipeError:
        return 0
    except Exception as exc:
        explained = _explain(exc)
        if explained is None:
            raise
        return fail(explained, 1)
    return result if isinstance(result, int) else 0


def _explain(exc: Exception) -> str | None:
    """One line for the cluster's and the object store's errors; None for anything else (a bug:
    its traceback shows). Their modules load here, on the way out, not at start."""
    from ark.cli import common  # noqa: PLC0415
    from ark.kube import KubeError  # noqa: PLC0415
    from ark.storage import StoreError  # noqa: PLC0415

    if isinstance(exc, KubeError):
        return str(common.explain(exc))
    if isinstance(exc, StoreError):
        return f"object storage: {exc}"
    return None


if __name__ == "__main__":
    sys.exit(main())
