"""The CLI's pure parts: selector syntax, progress lines, rate and ETA, summaries."""

from __future__ import annotations

import io
import subprocess
import sys

import click
import pytest
from rich.console import Console

from ark.api import kinds
from ark.cli import filters, main, output, progress
from ark.cli.common import key_values
from ark.cli.context import BadFlag


def test_selector_syntax_round_trips() -> None:
    text = "app=web,tier!=db,env in (a,b),!legacy,team"
    selector = filters.parse_selector(text, flag="--selector")
    assert selector == {
        "matchLabels": {"app": "web"},
        "matchExpressions": [
            {"key": "tier", "operator": "NotIn", "values": ["db"]},
            {"key": "env", "operator": "In", "values": ["a", "b"]},
            {"key": "legacy", "operator": "DoesNotExist"},
            {"key": "team", "operator": "Exists"},
        ],
    }
    assert filters.describe_selector(selector) == (
        "app=web,tier notin (db),env in (a,b),!legacy,team"
    )


@pytest.mark.parametrize("bad", ["", "a in b", "a=b=c", "=b", "a in (b"])
def test_bad_selectors_name_the_flag(bad: str) -> None:
    with pytest.raises(BadFlag, match="--or-selector"):
        filters.parse_selector(bad, flag="--or-selector")


def test_or_selectors_split_on_or() -> None:
    values = filters.filter_values(
        include_namespaces=None,
        exclude_namespaces=None,
        include_resources=None,
        exclude_resources=None,
        include_cluster_resources=None,
        selector=None,
        or_selectors=("a=1 or b=2", "c=3"),
    )
    assert values["orLabelSelectors"] == [
        {"matchLabels": {"a": "1"}},
        {"matchLabels": {"b": "2"}},
        {"matchLabels": {"c": "3"}},
    ]


def test_mappings() -> None:
    assert key_values("a:b, c:d", flag="--m", sep=":") == {"a": "b", "c": "d"}
    with pytest.raises(BadFlag, match="--m: 'a' is not key:value"):
        key_values("a", flag="--m", sep=":")


def test_rate_and_eta() -> None:
    rate = progress.Rate()
    rate.update(0, 0.0)
    assert rate.text() == "-"
    rate.update(10, 1.0)  # the first items moved: the clock starts here
    rate.update(110, 3.0)
    assert rate.text() == "50 items/s"
    assert rate.eta(110, 210) == "2.0s"
    assert rate.eta(210, 210) == "-"


def test_plain_line() -> None:
    rate = progress.Rate()
    rate.update(10, 1.0)
    rate.update(110, 3.0)
    sample = progress.Sample(phase="InProgress", done=110, total=210, detail="configmaps")
    assert progress.plain_line("backup b1", sample, rate) == (
        "backup b1: InProgress, 110/210 items (52%), configmaps, 50 items/s, ETA 2.0s"
    )
    fresh = progress.plain_line("backup b1", progress.Sample("New", 0, 0, ""), progress.Rate())
    assert fresh == "backup b1: New"


def test_summary_and_problems() -> None:
    tracked = progress.Tracked(
        kind=kinds.BACKUP,
        name="b1",
        done_field="itemsBackedUp",
        detail=lambda _: "",
        terminal=frozenset({"Completed"}),
    )
    obj = {
        "status": {
            "phase": "PartiallyFailed",
            "progress": {"totalItems": 5, "itemsBackedUp": 4},
            "startTimestamp": "2026-01-01T00:00:00Z",
            "completionTimestamp": "2026-01-01T00:01:05Z",
            "errors": 1,
            "failureReason": "boom",
        }
    }
    assert progress.summary(obj, tracked) == (
        "Backup b1 PartiallyFailed: 4 of 5 items in 1m05s, 0 warnings, 1 errors"
    )
    assert progress.problems(obj) == ["failure: boom"]


def tracked_backup() -> progress.Tracked:
    return progress.Tracked(
        kind=kinds.BACKUP,
        name="b1",
        done_field="itemsBackedUp",
        detail=lambda _: "",
        terminal=frozenset({"Completed"}),
    )


def test_a_run_still_new_is_hinted_once_that_the_operator_may_be_down() -> None:
    waiting = progress.Waiting(tracked_backup(), namespace="ark-x", after=0)
    assert waiting.hint("InProgress") is None
    hint = waiting.hint("New")
    assert hint is not None and hint.startswith("backup b1 is still New after 0s")
    assert "operator running for namespace ark-x" in hint
    assert waiting.hint("New") is None  # said once
    patient = progress.Waiting(tracked_backup(), namespace="ark-x", after=3600)
    assert patient.hint("New") is None


def test_a_table_is_aligned_never_cut_short_and_has_no_trailing_blanks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    buffer = io.StringIO()
    monkeypatch.setattr(output, "_console", Console(file=buffer, width=40, soft_wrap=True))
    name = "shop-20261201185113-restore-with-a-long-name"
    obj = {"metadata": {"name": name}, "spec": {"backupName": "shop-20261201185113"},
           "status": {"phase": "Completed", "backupName": "shop-20261201185113"}}  # fmt: skip
    output.print_table([obj], kind=kinds.RESTORE)
    text = buffer.getvalue()
    assert name in text and "shop-20261201185113" in text and "Completed" in text
    assert "…" not in text
    header, row = text.splitlines()
    assert header.split() == ["NAME", "BACKUP", "PHASE", "ITEMS", "ERRORS", "WARNINGS", "AGE"]
    assert row.startswith(f"{name}  shop-20261201185113  Completed")
    assert row.index("Completed") == header.index("PHASE")  # aligned
    assert not header.endswith(" ") and not row.endswith(" ")


def test_durations_from_whole_second_timestamps() -> None:
    at = "2026-01-01T00:00:00Z"
    assert output.took(at, at) == "<1s"
    assert output.took(at, "2026-01-01T00:00:12Z") == "12s"
    assert output.took(at, "2026-01-01T00:04:05Z") == "4m05s"
    assert output.took(at, None) is None


def _packages_loaded_by(module: str) -> set[str]:
    """The ``ark.*`` packages importing ``module`` loads, in a fresh interpreter."""
    code = (
        f"import sys, {module}; "
        "print(' '.join({'.'.join(m.split('.')[:2]) for m in sys.modules if m.startswith('ark.')}))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(run.stdout.split())


def test_the_cli_does_not_load_the_operator() -> None:
    assert "ark.operator" not in _packages_loaded_by("ark.cli.main")


def test_the_cli_loads_no_cluster_or_cloud_client_before_it_connects() -> None:
    """The kubernetes package (0.4 s to import) and the cloud SDKs load when a command
    connects, so ``ark --help``, ``ark version --client-only`` and a usage error are quick."""
    code = (
        "import sys, ark.cli.main; "
        "print(' '.join(m for m in ('kubernetes', 'boto3', 'botocore', 'azure.storage.blob',"
        " 'azure.mgmt.compute', 'google.cloud.storage', 'google.cloud.compute') "
        "if m in sys.modules))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.split() == []


def _modules_loaded_running(*args: str) -> set[str]:
    """The modules a fresh interpreter has loaded once ``ark *args`` has run (no cluster asked)."""
    code = (
        "import sys; from ark.cli.main import main; "
        f"code = main({list(args)!r}); "
        "print(code, *sys.modules, file=sys.stderr)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    code, *loaded = run.stderr.split()
    assert code == "0", run.stderr
    return set(loaded)


@pytest.mark.parametrize("args", [("version", "--client-only"), ("--help",)])
def test_the_client_version_and_the_help_load_no_api_model_and_no_other_command(
    args: tuple[str, ...],
) -> None:
    """They start in a fraction of the time every command and the API models take to load
    (about 0.2 s, not 0.5 s or more): each command's module loads when that command runs."""
    loaded = _modules_loaded_running(*args)
    assert "pydantic" not in loaded
    assert not {m for m in loaded if m == "ark.api" or m.startswith("ark.api.")}
    ark_modules = {m for m in loaded if m.startswith("ark.")}
    allowed = {"ark.cli", "ark.cli.main", "ark.cli.context"}
    if args[0] == "version":
        allowed |= {"ark.cli.version", "ark.cli.output"}
    assert ark_modules <= allowed, ark_modules - allowed


def test_the_help_lists_each_command_with_its_own_summary() -> None:
    """``ark --help`` shows ``main.COMMANDS``' summaries without loading the commands; each must
    read as the command's own help would, at any terminal width."""
    for name, lazy in main.COMMANDS.items():
        command = main.cli.get_command(click.Context(main.cli), name)
        assert command is not None
        assert command.name == name
        listed = click.Command(name, help=lazy.summary)
        for limit in (20, 45, 60, 80, 200):
            assert listed.get_short_help_str(limit) == command.get_short_help_str(limit), name


def test_the_control_layer_loads_only_the_layers_below_it() -> None:
    assert _packages_loaded_by("ark.control") <= {
        "ark._lazy",  # below every layer: how ark.api and ark.archive import their names
        "ark._streams",  # below every layer: reading a stream until enough
        "ark.api",
        "ark.control",
        "ark.crypto",
        "ark.kube",
        "ark.snapshot",
        "ark.storage",
    }
