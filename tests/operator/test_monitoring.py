"""deploy/monitoring stays true to the operator: every metric an alert or a dashboard panel
queries is one the operator exports (with the suffix its type exposes), every label an alert
selects, groups by or prints is one that metric has, and each alert says what to do."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client.metrics import MetricWrapperBase

from ark.operator import metrics

MONITORING = Path(__file__).resolve().parents[2] / "deploy" / "monitoring"
_METRIC = re.compile(r"\b(ark_[a-z_]+)\b")
_SELECTOR = re.compile(r"\b(ark_[a-z_]+)\{([^}]*)\}")
_BY = re.compile(r"\bby \(([^)]*)\)\s*\(\s*(?:increase|rate)?\(?\s*(ark_[a-z_]+)")


def _exported() -> dict[str, tuple[str, ...]]:
    """Each name a scrape shows -> the labels of its metric."""
    out: dict[str, tuple[str, ...]] = {}
    for value in vars(metrics).values():
        if not isinstance(value, MetricWrapperBase):
            continue
        name, labels = value._name, tuple(value._labelnames)
        kind = str(value._type)
        suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
        for suffix in suffixes.get(kind, ("",)):
            out[f"{name}{suffix}"] = (*labels, "le") if suffix == "_bucket" else labels
    return out


def _rules() -> list[dict[str, object]]:
    doc = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())
    assert doc["kind"] == "PrometheusRule" and doc["apiVersion"] == "monitoring.coreos.com/v1"
    return [rule for group in doc["spec"]["groups"] for rule in group["rules"]]


def _dashboard_exprs() -> list[str]:
    dashboard = json.loads((MONITORING / "ark-dashboard.json").read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p["targets"]]


def _check_expr(expr: str, exported: dict[str, tuple[str, ...]]) -> set[str]:
    """The metrics ``expr`` queries, each checked: exported, and its selected labels its own."""
    used = set(_METRIC.findall(expr))
    unknown = used - set(exported)
    assert not unknown, f"{expr}: not exported by the operator: {sorted(unknown)}"
    for name, selector in _SELECTOR.findall(expr):
        for label in re.findall(r"([a-z_]+)\s*(?:=~|!=|!~|=)", selector):
            assert label in exported[name], f"{expr}: {name} has no label {label}"
    for grouped, name in _BY.findall(expr):
        for label in (x.strip() for x in grouped.split(",")):
            assert label in exported[name], f"{expr}: {name} has no label {label}"
    return used


def test_every_alert_queries_exported_metrics_and_says_what_to_do() -> None:
    exported = _exported()
    rules = _rules()
    assert {r["alert"] for r in rules} >= {
        "ArkBackupFailed",
        "ArkNoRecentBackup",
        "ArkBackupVerificationFailed",
        "ArkRestoreTestFailed",
        "ArkRestoreTestLeftBehind",
        "ArkRecoveryPointStale",
    }
    for rule in rules:
        expr = str(rule["expr"])
        used = _check_expr(expr, exported)
        labels = rule["labels"]
        annotations = rule["annotations"]
        assert isinstance(labels, dict) and labels["severity"] in {"warning", "critical"}
        assert isinstance(annotations, dict) and annotations["summary"]
        assert annotations["description"]
        for text in (annotations["summary"], annotations["description"]):
            for label in re.findall(r"\$labels\.([a-z_]+)", str(text)):
                assert all(label in exported[m] for m in used), (rule["alert"], label)


def test_every_dashboard_panel_queries_exported_metrics() -> None:
    exported = _exported()
    exprs = _dashboard_exprs()
    assert exprs
    used = set().union(*(_check_expr(e, exported) for e in exprs))
    for wanted in (
        "ark_schedule_restore_test_success",
        "ark_schedule_restore_test_duration_seconds",
        "ark_schedule_recovery_point_age_seconds",
        "ark_backup_last_successful_timestamp",
    ):
        assert wanted in used, f"the dashboard shows no {wanted}"


def test_the_kustomization_names_files_that_exist() -> None:
    doc = yaml.safe_load((MONITORING / "kustomization.yaml").read_text())
    named = list(doc["resources"]) + [
        f for g in doc.get("configMapGenerator") or () for f in g["files"]
    ]
    assert named and all((MONITORING / f).is_file() for f in named)
