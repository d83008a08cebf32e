"""deploy/monitoring's alerts, loaded and unit-tested by Prometheus' own promtool (built from
its Go module by ``hack/build-tools promtool``): the rules parse, and each alert fires with its
labels and annotations after its ``for:`` and not on healthy series, as
deploy/monitoring/tests/alerts_test.yaml expects; an alert without a unit test there fails."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import localenv

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "monitoring"
UNIT_TESTS = MONITORING / "tests" / "alerts_test.yaml"
RULE_FILE = "ark-rules.yaml"  # the name alerts_test.yaml's rule_files gives


def _run(argv: list[str], *, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, cwd=cwd)


@pytest.fixture(scope="module")
def promtool() -> Path:
    return localenv.promtool()


def _groups() -> list[dict[str, Any]]:
    doc = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())
    assert doc["kind"] == "PrometheusRule" and doc["apiVersion"] == "monitoring.coreos.com/v1"
    return list(doc["spec"]["groups"])


def _alerts() -> list[str]:
    return [r["alert"] for g in _groups() for r in g["rules"] if "alert" in r]


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    """The PrometheusRule's groups as a plain Prometheus rule file, beside the unit tests."""
    (tmp_path / RULE_FILE).write_text(yaml.safe_dump({"groups": _groups()}, sort_keys=False))
    shutil.copy(UNIT_TESTS, tmp_path / UNIT_TESTS.name)
    return tmp_path


def test_promtool_accepts_the_rules(promtool: Path, rules: Path) -> None:
    done = _run([str(promtool), "check", "rules", "--lint-fatal", RULE_FILE], cwd=rules)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(_alerts())} rules found" in done.stdout, done.stdout


def test_every_alert_fires_as_its_unit_tests_expect(promtool: Path, rules: Path) -> None:
    done = _run([str(promtool), "test", "rules", UNIT_TESTS.name], cwd=rules)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_has_unit_tests_that_see_it_fire_and_not_fire() -> None:
    unit = yaml.safe_load(UNIT_TESTS.read_text())
    assert unit["rule_files"] == [RULE_FILE]
    firing: set[str] = set()
    quiet: set[str] = set()
    for test in unit["tests"]:
        for case in test.get("alert_rule_test") or ():
            (firing if case["exp_alerts"] else quiet).add(case["alertname"])
    alerts = set(_alerts())
    assert len(alerts) == len(_alerts()), "two alerts share a name"
    assert alerts - firing == set(), f"no unit test sees these alerts fire: {alerts - firing}"
    assert alerts - quiet == set(), f"no unit test sees these alerts quiet: {alerts - quiet}"
    assert firing | quiet <= alerts, f"unit tests of unknown alerts: {(firing | quiet) - alerts}"
