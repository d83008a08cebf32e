"""What the root command hands every command: the connection and output settings (and the
flags that set them), and the errors users read in one line.

Light on purpose: neither the cluster client nor the API models load with it, so ``ark --help``
and ``ark version --client-only`` start quickly. The helpers that need them are in ``common``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import click
import orjson

if TYPE_CHECKING:
    from ark.kube import KubeClient

DEFAULT_NAMESPACE = "ark-system"
OUTPUTS = ("table", "yaml", "json")
Obj = dict[str, Any]
F = TypeVar("F", bound=Callable[..., Any])


class CliError(Exception):
    """An expected failure: printed as one line ``ark: <message>``, exit status ``code``."""

    def __init__(self, message: str, *, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class BadFlag(CliError):
    """A flag value the API models refuse (exit status 2, like any usage error)."""

    def __init__(self, flag: str, message: str) -> None:
        super().__init__(f"invalid value for {flag}: {message}", code=2)


servers: list[str] = []
"""The API servers this process connected to; the last one is named when it cannot be reached."""


@dataclass
class Settings:
    """The connection and output settings, from the root command and each subcommand."""

    kubeconfig: str | None = None
    context: str | None = None
    namespace: str = field(
        default_factory=lambda: os.environ.get("ARK_NAMESPACE") or DEFAULT_NAMESPACE
    )
    output: str = "table"
    _client: KubeClient | None = None

    def client(self) -> KubeClient:
        if self._client is None:
            from ark.kube import KubeClient  # noqa: PLC0415 - loads when a command connects

            loaded = KubeClient.load(kubeconfig=self.kubeconfig, context=self.context, pool_size=4)
            # A CLI should fail fast when nothing answers: few retries, not the engines' eight.
            self._client = KubeClient(loaded.api, max_retries=3)
            servers.append(self._client.server)
        return self._client


def settings() -> Settings:
    return click.get_current_context().ensure_object(Settings)


def _set(attr: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
        if value is not None:
            setattr(ctx.ensure_object(Settings), attr, value)

    return callback


def connection_options(command: F) -> F:
    """--kubeconfig, --context, -n/--namespace: accepted on the root and on every command."""
    for option in reversed(
        [
            click.option(
                "--kubeconfig",
                type=click.Path(dir_okay=False),
                expose_value=False,
                callback=_set("kubeconfig"),
                help="Kubeconfig file (default: $KUBECONFIG, else ~/.kube/config).",
            ),
            click.option(
                "--context",
                expose_value=False,
                callback=_set("context"),
                help="Kubeconfig context (default: the current context).",
            ),
            click.option(
                "-n",
                "--namespace",
                expose_value=False,
                callback=_set("namespace"),
                help="The operator's namespace (default: $ARK_NAMESPACE, else ark-system).",
            ),
        ]
    ):
        command = option(command)
    return command


def output_option(command: F) -> F:
    return click.option(
        "-o",
        "--output",
        type=click.Choice(OUTPUTS),
        expose_value=False,
        callback=_set("output"),
        help="Output format (default: table).",
    )(command)


def dumps_json(document: Any) -> str:
    return orjson.dumps(document, option=orjson.OPT_INDENT_2).decode()
