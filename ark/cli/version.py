"""``ark version``: the client's version, and what the cluster runs (``installed``, loaded only
when the cluster is asked: ``--client-only`` needs neither its client nor the API models)."""

from __future__ import annotations

from importlib import metadata
from typing import Any

import click

from ark.cli import context, output


def client_version() -> str:
    try:
        return metadata.version("ark")
    except metadata.PackageNotFoundError:
        return "unknown"


@click.command("version")
@click.option("--client-only", is_flag=True, help="Print the client's version only.")
@click.option(
    "-o",
    "--output",
    "fmt",
    type=click.Choice(context.OUTPUTS),
    default="table",
    help="Output format.",
)
@context.connection_options
def version(*, client_only: bool, fmt: str) -> None:
    """Print the client's version, and the cluster's: Kubernetes, ark's CRDs, the operator."""
    report: dict[str, Any] = {"client": {"version": client_version()}}
    if not client_only:
        from ark.cli import installed  # noqa: PLC0415 - the cluster client and the API models

        report["server"] = installed.server_report(context.settings())
    if fmt == "json":
        output.echo(context.dumps_json(report))
        return
    if fmt == "yaml":
        output.echo(output.to_yaml(report).rstrip())
        return
    output.echo(f"Client: ark {report['client']['version']}")
    server = report.get("server")
    if server is None:
        return
    output.echo(f"Server: Kubernetes {server['kubernetes']} at {server['server']}")
    if server["crdsInstalled"]:
        output.echo("CRDs:   installed (ark.dev/v1)")
    else:
        output.echo(f"CRDs:   missing: {', '.join(server['crdsMissing'])} (run 'ark install')")
    if not server["operator"]:
        output.echo(f"Operator: no operator Deployment found in namespace {server['namespace']}")
    for d in server["operator"]:
        output.echo(
            f"Operator: {d['deployment']} in {server['namespace']}, version "
            f"{d['version'] or 'unknown'}, image {', '.join(map(str, d['images']))}, "
            f"ready {d['ready']}"
        )
