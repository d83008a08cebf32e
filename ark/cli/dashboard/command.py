"""``ark dashboard``: the command that starts the server."""

from __future__ import annotations

import webbrowser

import click

from ark import control
from ark.cli import common, context
from ark.cli.dashboard import server
from ark.cli.dashboard.markup import Frame


@click.command("dashboard")
@click.option(
    "--address",
    default="127.0.0.1",
    show_default=True,
    help="The loopback address to listen on (127.0.0.1 or ::1; no other is accepted).",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    help="The port to listen on (0: any free port).",
)
@click.option(
    "--open/--no-open",
    "open_browser",
    default=False,
    show_default=True,
    help="Open the dashboard in the default web browser.",
)
@context.connection_options
def dashboard(*, address: str, port: int, open_browser: bool) -> None:
    """Serve a web UI on localhost: backups, schedules, restores with per-item results,
    locations, and dry-run restores of any backup.

    It reads the cluster with your kubeconfig, context and -n namespace, as the other commands
    do (nothing new to trust). Its only write is a dry-run Restore, from a form carrying a
    per-process CSRF token; requests must name the bound loopback address in their Host
    header. The first line printed is the URL. Stop it with Ctrl-C.
    """
    bind = server.loopback(address)
    s = context.settings()
    client = s.client()
    common.list_all(control.BACKUP)  # fail now, in one line, when the cluster cannot be read
    frame = Frame(server=client.server, namespace=s.namespace, context=s.context)
    ctx = click.get_current_context()
    try:
        httpd = server.Dashboard(bind, port, settings=s, command=ctx.command, frame=frame)
    except OSError as exc:
        raise context.CliError(f"cannot listen on {bind}:{port}: {exc.strerror or exc}") from None
    with httpd:
        click.echo(f"ark dashboard: {httpd.url} (Ctrl-C to stop)")
        if open_browser:
            webbrowser.open(httpd.url)
        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            click.echo("ark dashboard: stopped")
