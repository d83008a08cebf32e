"""``ark``: the command line. Commands live in one module per noun; this one wires them and
turns expected failures into one line on stderr and an exit status.

Exit status: 0 success; 1 failure (not found, cluster unreachable, a waited-for run that did
not complete); 2 bad usage or a flag value the API refuses; 130 interrupted.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from ark.cli import backups, common, locations, restores, schedules
from ark.cli.common import CliError
from ark.cli.install import install
from ark.cli.uninstall import uninstall
from ark.cli.version import version
from ark.kube import KubeError
from ark.storage import StoreError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT)
@common.connection_options
def cli() -> None:
    """ark: back up and restore Kubernetes namespaces and clusters.

    \b
    Quick start:
      ark install --provider aws --bucket ark --config region=eu-west-1 --secret-file ./creds
      ark backup create shop-1 --include-namespaces shop --wait
      ark restore create --from-backup shop-1 --namespace-mappings shop:shop-copy --wait

    Shell completion: eval "$(_ARK_COMPLETE=bash_source ark)" (zsh_source, fish_source).
    """


cli.add_command(install)
cli.add_command(uninstall)
cli.add_command(version)
cli.add_command(backups.group)
cli.add_command(restores.group)
cli.add_command(schedules.group)
cli.add_command(locations.bsl_group)
cli.add_command(locations.vsl_group)


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
    except KubeError as exc:
        return fail(str(common.explain(exc)), 1)
    except StoreError as exc:
        return fail(f"object storage: {exc}", 1)
    except KeyboardInterrupt:
        return fail("interrupted (a run already submitted keeps going in the cluster)", 130)
    except BrokenPipeError:
        return 0
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
