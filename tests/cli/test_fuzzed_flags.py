"""Every command's flags and arguments (install, uninstall and download kept harmless:
GUARDED), fuzzed: the input is accepted (and a ``create``'s
object is one the API server takes), or the user gets one line: exit status 2 naming the flag
or argument, or 1 saying what is not there — never a traceback, never an object the server
refuses.

The commands run in-process through ``ark.cli.main.main`` (the console script's own function)
against the real API server, in a namespace with no ark objects; a ``create`` runs with
``-o json``, which prints the object instead of creating it, and each object printed is then
created on the real API server with ``dryRun=All`` and strict field validation, as
``kubectl apply`` would. The seed is fixed and the examples hypothesis found are kept in
``tests/cli/hypothesis-examples`` (regressions are also pinned below with ``@example``).
"""

from __future__ import annotations

import contextlib
import io
import json
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pytest
from hypothesis import HealthCheck, example, given, seed, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase
from kubernetes import client

from ark.api import GROUP, VERSION
from ark.api.kinds import BY_KIND
from ark.cli.main import cli, main
from tests.conftest import Cluster

EXAMPLES = DirectoryBasedExampleDatabase(Path(__file__).parent / "hypothesis-examples")
NAMESPACE = "ark-fuzz"
SKIPPED = {"namespace", "kubeconfig", "context", "output", "wait", "help"}
"""Connection and output options, and --wait (it watches the cluster)."""
REQUIRED = {"provider": "aws", "bucket": "b", "cron": "@daily"}
"""A valid value for each option a command requires, when it is not the one fuzzed."""

EDGES = [
    "", " ", "0", "-1", "1", "07", "99999999999999999999", "1e309", "nan", "inf",
    "-1h", "1h", "1.5h", "0s", "2562047h", "2562048h", "99999999999h", "1h-1m", "3d",
    "a" * 63, "a" * 64, "a" * 253, "a" * 254, "A", "a_b", "a.b", "a/b", "../x", "/abs",
    "*", "?", "[", "[a-", "!x", "team-?", "app-[ab]", "**",
    "a=b", "a=b=c", "a=1,a=2", "=v", "k=", ",", ",,", "a,", ",a",
    "a:b", "a:b:c", "a:", ":b", "a:a", "a:b,a:c", "a:b,c:b",
    "k in (a,b)", "k notin ()", "!k", "k!=", "k==v", "k=v,k=w",
    "pods", "pods.v1", "deployments.apps", "*.apps", "Pod", "-pods",
    "true", "false", "yes", "TRUE", "ReadOnly", "Governance",
    "ünïcödé", "日本", "a\nb", "a\tb", "\u202e",
]  # fmt: skip
VALUES = st.one_of(
    st.sampled_from(EDGES),
    st.text(alphabet=string.ascii_lowercase + string.digits + "-.,:=*/!()", max_size=40),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
)
NAMES = st.one_of(
    st.sampled_from(["a", "ok-name", "a" * 63, "a" * 64, "a" * 253, "a" * 254, "Bad", "a..b"]),
    st.from_regex(r"[a-z0-9]([-a-z0-9.]{0,70}[a-z0-9])?", fullmatch=True),
)


KINDS = {
    "backup": "Backup",
    "restore": "Restore",
    "schedule": "Schedule",
    "backup-location": "BackupStorageLocation",
    "snapshot-location": "VolumeSnapshotLocation",
}
GUARDED: dict[tuple[str, ...], tuple[tuple[str, ...], frozenset[str]]] = {
    ("install",): (("--dry-run",), frozenset({"dry_run"})),
    ("uninstall",): ((), frozenset({"confirm"})),
    ("backup", "download"): (("-o", "-"), frozenset({"output", "force"})),
}
"""Commands that change the cluster's installation or write files where a flag says, fuzzed
with what keeps them harmless (their args) and never with the options that would not (install
only prints, uninstall is never confirmed, download writes to stdout); what they do is tested
with their own fixtures and in tests/cli/test_objects.py."""

SERVES = {("dashboard",)}
"""Commands that serve until stopped, not fuzzed here (a valid invocation would never return):
tests/dashboard runs them."""


@dataclass(frozen=True)
class Command:
    path: tuple[str, ...]
    options: dict[str, click.Option]
    arguments: tuple[click.Argument, ...]
    extra: tuple[str, ...] = ()
    """Arguments every invocation gets (GUARDED)."""
    flags: tuple[str, ...] = ()
    """Every option string of the command, fuzzed or not: an error may name any."""

    @property
    def creates(self) -> str | None:
        """The kind a ``create`` command makes (printed with ``-o json``, not created)."""
        return KINDS[self.path[0]] if self.path[-1] == "create" else None


def _commands(group: click.Group = cli, path: tuple[str, ...] = ()) -> list[Command]:
    out = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):  # ark's own commands load as they are asked for
        command = group.get_command(ctx, name)
        assert command is not None
        here = (*path, name)
        if here in SERVES:
            continue
        if isinstance(command, click.Group):
            out += _commands(command, here)
            continue
        extra, guarded = GUARDED.get(here, ((), frozenset()))
        skipped = SKIPPED if here[-1] == "create" else SKIPPED - {"output"}
        options = {
            p.name: p
            for p in command.params
            if isinstance(p, click.Option) and p.name and p.name not in skipped | guarded
        }
        arguments = tuple(p for p in command.params if isinstance(p, click.Argument))
        flags = tuple(o for p in command.params if isinstance(p, click.Option) for o in p.opts)
        out.append(Command(here, options, arguments, extra, flags))
    return out


COMMANDS = _commands()
CREATES = {c.creates: c for c in COMMANDS if c.creates}
COMMAND = {c.path: c for c in COMMANDS}


def _value(option: click.Option) -> st.SearchStrategy[str | None]:
    if option.is_flag:
        return st.none()
    if isinstance(option.type, click.Choice):
        return st.one_of(st.sampled_from([str(c) for c in option.type.choices]), VALUES)
    return VALUES


@st.composite
def invocations(draw: st.DrawFn) -> tuple[Command, list[str]]:
    command = draw(st.sampled_from(COMMANDS))
    argv = list(command.path)
    for argument in command.arguments:
        many = argument.nargs == -1
        argv += draw(st.lists(NAMES, min_size=0 if many else 1, max_size=2 if many else 1))
    chosen = draw(
        st.lists(st.sampled_from(sorted(command.options) or [""]), max_size=3, unique=True)
    )
    chosen = [c for c in chosen if c]
    for name, option in command.options.items():
        if option.required and name not in chosen:
            argv += [option.opts[0], REQUIRED[name]]
    if command.creates == "Restore" and not {"from_backup", "from_schedule"} & set(chosen):
        argv += ["--from-backup", "b1"]
    for name in chosen:
        option = command.options[name]
        value = draw(_value(option))
        argv += [option.opts[0]] if value is None else [option.opts[0], value]
    if command.creates:
        argv += ["-o", "json"]
    return command, [*argv, *command.extra, "-n", NAMESPACE]


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def fuzz_namespace(cluster: Cluster, ark_crds: list[str]) -> str:
    try:
        cluster.core.create_namespace(
            client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE))
        )
    except client.ApiException as exc:
        if exc.status != 409:
            raise
    return NAMESPACE


def _server_takes(cluster: Cluster, kind: str, obj: dict[str, Any]) -> None:
    try:
        cluster.custom.create_namespaced_custom_object(
            GROUP,
            VERSION,
            NAMESPACE,
            BY_KIND[kind].plural,
            obj,
            dry_run="All",
            field_validation="Strict",
        )
    except client.ApiException as exc:
        body = json.loads(exc.body or "{}")
        pytest.fail(f"ark printed a {kind} the API server refuses: {body.get('message')}\n{obj}")


@seed(20261204)
@settings(
    max_examples=400,
    deadline=None,
    database=EXAMPLES,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(invocations())
@example(
    (
        CREATES["Backup"],
        ["backup", "create", "b2", "--ttl", "99999999999h", "-o", "json", "-n", NAMESPACE],
    )
)
@example(
    (
        CREATES["Schedule"],
        ["schedule", "create", "a" * 64, "--schedule", "@daily", "-o", "json", "-n", NAMESPACE],
    )
)
@example((COMMAND["uninstall",], ["uninstall", "--keep-crds", "-n", NAMESPACE]))
@example((COMMAND["install",], ["install", "--deploy-dir", "/abs", "--dry-run", "-n", NAMESPACE]))
@example(
    (
        COMMAND["install",],
        ["install", "--provider", "aws", "--config", "a=b=c", "--dry-run", "-n", NAMESPACE],
    )
)
@example(
    (COMMAND["backup", "download"], ["backup", "download", "a" * 254, "-o", "-", "-n", NAMESPACE])
)
def test_a_flag_is_taken_or_refused_in_one_line(
    cluster: Cluster, fuzz_namespace: str, invocation: tuple[Command, list[str]]
) -> None:
    command, argv = invocation
    code, out, err = _run([*argv, "--kubeconfig", cluster.kubeconfig])
    assert "Traceback" not in out + err, (argv, err)
    if code == 0:
        if command.creates:
            _server_takes(cluster, command.creates, json.loads(out))
        return
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ark: "), (argv, err)
    if code == 1:  # what a name or --from-schedule names is not there (nothing is, here)
        assert "not found" in lines[0] or "no backup" in lines[0].lower(), (argv, err)
        return
    assert code == 2, (argv, code, err)
    named = [*command.flags, *(a.human_readable_name for a in command.arguments), "--"]
    assert any(flag in lines[0] for flag in named), (argv, err)
