"""Expected failures print one clear line on stderr and exit non-zero, without a traceback."""

from __future__ import annotations

import os
import subprocess

from tests.cli.conftest import Ark, Result


def assert_one_line(result: Result, *, code: int, contains: str) -> None:
    lines = result.err_lines
    assert result.code == code, (result.code, result.out, result.err)
    assert len(lines) == 1, lines
    assert lines[0].startswith("ark: "), lines
    assert contains in lines[0], lines
    assert "Traceback" not in result.err


def test_unknown_backup_is_one_line_naming_it_and_the_namespace(ark: Ark, ark_ns: str) -> None:
    result = ark("backup", "describe", "nope")
    assert_one_line(result, code=1, contains=f'backup "nope" not found in namespace {ark_ns}')


def test_unknown_restore_and_schedule(ark: Ark) -> None:
    assert_one_line(ark("restore", "get", "nope"), code=1, contains='restore "nope" not found')
    assert_one_line(ark("schedule", "pause", "nope"), code=1, contains='schedule "nope" not found')


def test_bad_ttl_names_the_flag_with_the_models_message(ark: Ark) -> None:
    result = ark("backup", "create", "b1", "--ttl", "5x")
    assert_one_line(result, code=2, contains="invalid value for --ttl: invalid duration '5x'")


def test_bad_namespace_glob_names_the_flag(ark: Ark) -> None:
    result = ark("backup", "create", "b1", "--include-namespaces", "Not_Valid")
    assert_one_line(result, code=2, contains="invalid value for --include-namespaces")


def test_selector_and_or_selector_are_exclusive(ark: Ark) -> None:
    result = ark("backup", "create", "b1", "--selector", "a=b", "--or-selector", "c=d")
    assert_one_line(result, code=2, contains="cannot both be set")


def test_unparsable_selector(ark: Ark) -> None:
    result = ark("backup", "create", "b1", "--selector", "a in b")
    assert_one_line(result, code=2, contains="invalid value for --selector")


def test_bad_boolean_and_policy_and_mapping(ark: Ark) -> None:
    assert_one_line(
        ark("backup", "create", "b1", "--include-cluster-resources", "maybe"),
        code=2,
        contains="--include-cluster-resources: 'maybe' is not true or false",
    )
    assert_one_line(
        ark("restore", "create", "--from-backup", "b", "--existing-resource-policy", "merge"),
        code=2,
        contains="invalid value for --existing-resource-policy",
    )
    assert_one_line(
        ark("restore", "create", "--from-backup", "b", "--namespace-mappings", "a"),
        code=2,
        contains="--namespace-mappings: 'a' is not key:value",
    )
    assert_one_line(
        ark("restore", "create", "--from-backup", "b", "--namespace-mappings", "a:x,b:x"),
        code=2,
        contains="namespaceMapping maps a and b onto one namespace, x",
    )
    assert_one_line(
        ark("restore", "create", "--from-backup", "b", "--resource-modifier-configmap", ""),
        code=2,
        contains="--resource-modifier-configmap",
    )


def test_bad_cron_and_invalid_backup_name(ark: Ark) -> None:
    assert_one_line(
        ark("schedule", "create", "s", "--schedule", "0 3 * *"),
        code=2,
        contains="invalid cron schedule",
    )
    assert_one_line(ark("backup", "create", "Bad_Name"), code=2, contains="invalid backup name")


def test_usage_errors_exit_2_in_one_line(ark: Ark) -> None:
    assert_one_line(ark("backup", "create", "b1", "--bogus"), code=2, contains="--bogus")
    assert_one_line(ark("restore", "create"), code=2, contains="--from-backup")
    assert_one_line(ark("backup", "frobnicate"), code=2, contains="frobnicate")


def test_no_cluster_reachable(ark: Ark, unreachable_kubeconfig: str) -> None:
    ark.kubeconfig = unreachable_kubeconfig
    result = ark("backup", "get")
    assert_one_line(result, code=1, contains="cannot reach the Kubernetes API server")


def test_missing_kubeconfig(ark: Ark) -> None:
    ark.kubeconfig = "/nonexistent/kubeconfig"
    result = ark("backup", "get")
    assert_one_line(result, code=1, contains="cannot load cluster configuration")


def test_delete_without_confirm_and_without_a_terminal_refuses(ark: Ark) -> None:
    ark.ok("backup", "create", "b1", "--include-namespaces", "x")
    result = ark("backup", "delete", "b1")
    assert_one_line(result, code=2, contains="--confirm")


def test_restore_of_a_missing_backup(ark: Ark, ark_ns: str) -> None:
    result = ark("restore", "create", "--from-backup", "gone")
    assert_one_line(result, code=1, contains=f'backup "gone" not found in namespace {ark_ns}')


def test_shell_completion_script_and_names(ark: Ark) -> None:
    script = subprocess.run(
        ark.argv(()), env={**os.environ, "_ARK_COMPLETE": "bash_source"},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert script.returncode == 0 and "_ark_completion" in script.stdout
    ark.ok("backup", "create", "alpha", "--include-namespaces", "x")
    ark.ok("backup", "create", "beta", "--include-namespaces", "x")
    env = {
        **os.environ,
        "_ARK_COMPLETE": "bash_complete",
        "COMP_WORDS": f"ark --kubeconfig {ark.kubeconfig} -n {ark.namespace} backup describe a",
        "COMP_CWORD": "7",
    }
    names = subprocess.run(
        ark.argv(())[:3], env=env, capture_output=True, text=True, check=False
    ).stdout
    assert "alpha" in names and "beta" not in names
