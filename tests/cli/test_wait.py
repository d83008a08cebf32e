"""``--wait`` with the operator running: progress in a terminal and in a pipe, summaries, exit
codes; then describe, logs and download read what the run left in the bucket, and a restore
clones the namespace."""

from __future__ import annotations

import tarfile
from pathlib import Path

from ark.kube import KubeClient
from tests.cli.conftest import ANSI, Ark


def configmaps(kube: KubeClient, namespace: str) -> set[str]:
    found = kube.get(f"/api/v1/namespaces/{namespace}/configmaps")
    return {
        o["metadata"]["name"] for o in found["items"] if o["metadata"]["name"].startswith("cm-")
    }


def test_backup_wait_without_a_terminal_prints_plain_progress_and_a_summary(
    ark: Ark, default_location: str, app_namespace: str
) -> None:
    result = ark("backup", "create", "b1", "--include-namespaces", app_namespace, "--wait")
    assert result.code == 0, result.out + result.err
    assert ANSI not in result.out
    assert "\r" not in result.out
    progress_lines = [line for line in result.lines if line.startswith("backup b1: ")]
    assert progress_lines, result.out
    assert progress_lines[-1].startswith("backup b1: Completed, ")
    assert "/" in progress_lines[-1] and "items" in progress_lines[-1]
    summary = result.lines[-1]
    assert summary.startswith("Backup b1 Completed: "), summary
    assert "0 warnings, 0 errors" in summary


def test_backup_wait_in_a_terminal_shows_a_progress_bar(
    ark: Ark, default_location: str, app_namespace: str
) -> None:
    result = ark.in_terminal("backup", "create", "b2", "--include-namespaces", app_namespace,
                             "--wait")  # fmt: skip
    assert result.code == 0, result.out
    assert ANSI in result.out  # a live display redraws with escape sequences
    assert "━" in result.out  # the bar
    assert "backup b2 Completed" in result.out
    assert "Backup b2 Completed: " in result.out


def test_failed_validation_exits_1_with_the_reason(ark: Ark, default_location: str) -> None:
    result = ark("backup", "create", "b3", "--storage-location", "nowhere", "--wait")
    assert result.code == 1
    assert "Backup b3 FailedValidation" in result.out
    assert "validation error:" in result.out and "nowhere" in result.out


def test_describe_logs_download_then_restore_as_a_clone(
    ark: Ark,
    kube: KubeClient,
    default_location: str,
    app_namespace: str,
    make_namespace: object,
    tmp_path: Path,
) -> None:
    ark.ok("backup", "create", "b4", "--include-namespaces", app_namespace, "--wait")
    described = ark.ok("backup", "describe", "b4").out
    assert "Phase:" in described and "Completed" in described
    assert "Results" in described and "Errors: 0" in described
    logs = ark.ok("backup", "logs", "b4").out
    assert logs.strip() and "INFO" in logs
    target = tmp_path / "b4.tar.gz"
    ark.ok("backup", "download", "b4", "-o", str(target))
    with tarfile.open(target, "r:gz") as tar:
        names = tar.getnames()
    assert any(f"namespaces/{app_namespace}/cm-0.json" in n for n in names), names[:20]
    again = ark("backup", "download", "b4", "-o", str(target))
    assert again.code == 1 and "--force" in again.err

    clone = f"{app_namespace}-copy"
    result = ark("restore", "create", "r1", "--from-backup", "b4",
                 "--namespace-mappings", f"{app_namespace}:{clone}", "--wait")  # fmt: skip
    try:
        assert result.code == 0, result.out + result.err
        assert result.lines[-1].startswith("Restore r1 Completed: "), result.out
        assert configmaps(kube, clone) == {f"cm-{i}" for i in range(8)}
        described = ark.ok("restore", "describe", "r1").out
        assert "Namespace mappings:" in described and clone in described
        assert ark.ok("restore", "logs", "r1").out.strip()
        rows = ark.ok("restore", "get").lines
        assert rows[1].split()[:3] == ["r1", "b4", "Completed"]
    finally:
        kube.request("DELETE", f"/api/v1/namespaces/{clone}")


def test_restore_dry_run_shows_the_plan_and_writes_nothing(
    ark: Ark, kube: KubeClient, default_location: str, app_namespace: str
) -> None:
    ark.ok("backup", "create", "b5", "--include-namespaces", app_namespace, "--wait")
    kube.request(
        "PATCH",
        f"/api/v1/namespaces/{app_namespace}/configmaps/cm-1",
        body={"data": {"i": "changed"}},
        content_type="application/merge-patch+json",
    )
    kube.request("DELETE", f"/api/v1/namespaces/{app_namespace}/configmaps/cm-2")
    result = ark("restore", "create", "dry", "--from-backup", "b5",
                 "--existing-resource-policy", "update", "--dry-run")  # fmt: skip
    assert result.code == 0, result.out + result.err
    assert "Plan (dry run: nothing was written)" in result.out
    assert any("would-create" in line and "cm-2" in line for line in result.lines), result.out
    assert any("would-update" in line and "cm-1" in line for line in result.lines), result.out
    assert "changed" in result.out  # the diff
    assert "cm-2" not in configmaps(kube, app_namespace)
    data = kube.get(f"/api/v1/namespaces/{app_namespace}/configmaps/cm-1")["data"]
    assert data == {"i": "changed"}


def test_without_the_credential_secret_describe_says_so_and_logs_fail_in_one_line(
    ark: Ark, kube: KubeClient, ark_ns: str, default_location: str, app_namespace: str
) -> None:
    ark.ok("backup", "create", "b6", "--include-namespaces", app_namespace, "--wait")
    kube.request("DELETE", f"/api/v1/namespaces/{ark_ns}/secrets/ark-s3")
    described = ark.ok("backup", "describe", "b6").out
    assert "not shown:" in described and "credential Secret" in described
    logs = ark("backup", "logs", "b6")
    assert logs.code == 1
    assert len(logs.err_lines) == 1 and "credential Secret" in logs.err_lines[0]
