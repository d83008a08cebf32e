"""The resource-filter flags Backup, Schedule and Restore share, and kubectl's label-selector
syntax (``app=web,tier!=db,env in (a,b),!legacy``) as the API's LabelSelector."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ark.cli.common import bool_flag, csv
from ark.cli.context import BadFlag

F = TypeVar("F", bound=Callable[..., Any])

#: model field -> the flag that sets it (a refused value names the flag)
FILTER_FLAGS = {
    "includedNamespaces": "--include-namespaces",
    "excludedNamespaces": "--exclude-namespaces",
    "includedResources": "--include-resources",
    "excludedResources": "--exclude-resources",
    "includeClusterResources": "--include-cluster-resources",
    "labelSelector": "--selector",
    "orLabelSelectors": "--or-selector",
}


def filter_options(command: F) -> F:
    options = [
        click.option(
            "--include-namespaces",
            metavar="NS,...",
            help="Namespaces to include (globs allowed); default: all.",
        ),
        click.option(
            "--exclude-namespaces", metavar="NS,...", help="Namespaces to exclude (globs allowed)."
        ),
        click.option(
            "--include-resources",
            metavar="RES,...",
            help="Resources to include (plural, resource.group or short name); default: all.",
        ),
        click.option("--exclude-resources", metavar="RES,...", help="Resources to exclude."),
        click.option(
            "--include-cluster-resources",
            metavar="true|false",
            help="true: all cluster-scoped resources; false: none; unset: those the included "
            "namespaced objects need (all of them for a whole-cluster run).",
        ),
        click.option(
            "-l",
            "--selector",
            metavar="SELECTOR",
            help="Only objects matching this label selector (kubectl syntax: "
            "'app=web,tier!=db,env in (a,b),!legacy').",
        ),
        click.option(
            "--or-selector",
            "or_selectors",
            multiple=True,
            metavar="SELECTOR",
            help="Objects matching any of these selectors; repeat the flag or join with ' or '. "
            "Exclusive with --selector.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def filter_values(
    *,
    include_namespaces: str | None,
    exclude_namespaces: str | None,
    include_resources: str | None,
    exclude_resources: str | None,
    include_cluster_resources: str | None,
    selector: str | None,
    or_selectors: tuple[str, ...],
) -> dict[str, Any]:
    """The filter flags as the models' fields (camelCase); flags not given are None."""
    ors = [p.strip() for s in or_selectors for p in re.split(r"\s+or\s+", s) if p.strip()]
    return {
        "includedNamespaces": csv(include_namespaces),
        "excludedNamespaces": csv(exclude_namespaces),
        "includedResources": csv(include_resources),
        "excludedResources": csv(exclude_resources),
        "includeClusterResources": bool_flag(
            include_cluster_resources, flag="--include-cluster-resources"
        ),
        "labelSelector": None if selector is None else parse_selector(selector, flag="--selector"),
        "orLabelSelectors": [parse_selector(s, flag="--or-selector") for s in ors] or None,
    }


_SET = re.compile(r"^\s*([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQ = re.compile(r"^\s*([^\s!=()]+)\s*(==|=|!=)\s*([^\s,=!()]*)\s*$")
_EXISTS = re.compile(r"^\s*(!?)\s*([^\s!=()]+)\s*$")


def _split_requirements(text: str) -> list[str]:
    """Split at commas outside parentheses."""
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p for p in parts if p.strip()]


def parse_selector(text: str, *, flag: str) -> dict[str, Any]:
    """kubectl's selector syntax as a LabelSelector (wire form)."""
    labels: dict[str, str] = {}
    expressions: list[dict[str, Any]] = []
    requirements = _split_requirements(text)
    if not requirements:
        raise BadFlag(flag, "empty selector")
    for req in requirements:
        if m := _SET.match(req):
            values = [v.strip() for v in m.group(3).split(",") if v.strip()]
            operator = "In" if m.group(2) == "in" else "NotIn"
            expressions.append({"key": m.group(1), "operator": operator, "values": values})
        elif m := _EQ.match(req):
            if m.group(2) == "!=":
                expressions.append({"key": m.group(1), "operator": "NotIn", "values": [m.group(3)]})
            else:
                labels[m.group(1)] = m.group(3)
        elif m := _EXISTS.match(req):
            operator = "DoesNotExist" if m.group(1) else "Exists"
            expressions.append({"key": m.group(2), "operator": operator})
        else:
            raise BadFlag(flag, f"cannot parse {req.strip()!r} (want k=v, k!=v, k in (a,b), k, !k)")
    selector: dict[str, Any] = {}
    if labels:
        selector["matchLabels"] = labels
    if expressions:
        selector["matchExpressions"] = expressions
    return selector


def describe_selector(selector: dict[str, Any] | None) -> str:
    """A LabelSelector back in kubectl syntax."""
    if not selector:
        return ""
    parts = [f"{k}={v}" for k, v in (selector.get("matchLabels") or {}).items()]
    for e in selector.get("matchExpressions") or []:
        op, key, values = e["operator"], e["key"], e.get("values") or []
        if op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
        else:
            parts.append(f"{key} {'in' if op == 'In' else 'notin'} ({','.join(values)})")
    return ",".join(parts)
