"""Generate the custom-resource reference (``docs/reference.md``) from the pydantic models.

It reads the very CRDs :mod:`ark.api.crdgen` writes, so every field, type, default, enum,
bound, pattern, rule and printer column it lists is one the API server enforces.

    python -m ark.api.refgen [FILE]     write FILE (default: docs/reference.md)
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ark.api import crdgen
from ark.api.backup import BackupSpec
from ark.api.kinds import ALL_KINDS, Kind
from ark.api.types import DURATION_PATTERN, GROUP, VERSION, Condition, LabelSelector, Model

DEFAULT_PATH = Path("docs/reference.md")
Schema = dict[str, Any]


@dataclass(frozen=True)
class Row:
    """One field of a reference table."""

    path: str
    type: str
    required: bool
    default: str
    details: str


@dataclass(frozen=True)
class Rule:
    """A CEL rule the API server checks, and the field it reports."""

    where: str
    message: str
    rule: str


@dataclass(frozen=True)
class Shared:
    """A type used in several places: described once, linked to from every use."""

    title: str
    anchor: str
    model: type[Model]

    @property
    def schema(self) -> Schema:
        return _schema_of(self.model)

    def link(self) -> str:
        return f"[{self.title.lower()}](#{self.anchor})"


SHARED = (
    Shared("Label selector", "label-selector", LabelSelector),
    Shared("Condition", "condition", Condition),
)
"""Described in their own section at the end."""
LINKED = (*SHARED, Shared("Backup spec", "backup-spec", BackupSpec))
"""Linked to where they appear (a Schedule's template is a Backup spec)."""


@functools.cache
def _schema_of(model: type[Model]) -> Schema:
    return crdgen.structural_schema(model, keep_defaults=True)


def _bare(node: Schema) -> Schema:
    return {k: v for k, v in node.items() if k != "description"}


def shared_type(node: Schema) -> Shared | None:
    """The shared type ``node`` is, if it is one."""
    return next((t for t in LINKED if _bare(node) == _bare(t.schema)), None)


def type_of(node: Schema) -> str:
    """How a schema node reads: ``string``, ``duration``, ``list of string``, ``map of ...``."""
    if (shared := shared_type(node)) is not None:
        return shared.link()
    if "enum" in node:
        return " \\| ".join(f"`{v}`" for v in node["enum"])
    kind = node.get("type")
    if kind == "array":
        return f"list of {type_of(node.get('items') or {})}"
    if kind == "object":
        return _object_type(node)
    if kind == "string" and node.get("format") == "date-time":
        return "timestamp"
    duration = kind == "string" and node.get("pattern") == DURATION_PATTERN
    return "duration" if duration else str(kind or "any")


def _object_type(node: Schema) -> str:
    if "properties" in node:
        return "object"
    if "additionalProperties" in node:
        return f"map of string to {type_of(node['additionalProperties'])}"
    return "object (any fields)" if node.get("x-kubernetes-preserve-unknown-fields") else "object"


def _range(low: Any, high: Any, unit: str) -> str:
    if low is not None and high is not None:
        return f"{low}–{high} {unit}".rstrip()
    if low is not None:
        return f"at least {low} {unit}".rstrip()
    if high is not None:
        return f"at most {high} {unit}".rstrip()
    return ""


def constraints(node: Schema) -> list[str]:
    """Bounds and patterns of a node, as words (a duration's are its type's)."""
    if node.get("pattern") == DURATION_PATTERN:
        return []
    out = [
        _range(node.get("minLength"), node.get("maxLength"), "characters"),
        _range(node.get("minimum"), node.get("maximum"), ""),
        _range(node.get("minItems"), node.get("maxItems"), "items"),
        _range(node.get("minProperties"), node.get("maxProperties"), "entries"),
    ]
    if node.get("pattern"):
        out.append(f"matching `{node['pattern']}`")
    return [c for c in out if c]


def _default(node: Schema) -> str:
    if "default" not in node:
        return ""
    value = node["default"]
    return f"`{value}`" if isinstance(value, str) else f"`{json.dumps(value)}`"


def _child(node: Schema) -> tuple[Schema | None, str]:
    """The object schema below a field, and the path step to it (``.`` or ``[].``); none
    below a shared type, which is described on its own."""
    if shared_type(node) is not None or shared_type(node.get("items") or {}) is not None:
        return None, ""
    if "properties" in node:
        return node, "."
    items = node.get("items") or {}
    if node.get("type") == "array" and "properties" in items:
        return items, "[]."
    values = node.get("additionalProperties") or {}
    if node.get("type") == "object" and "properties" in values:
        return values, ".<key>."
    return None, ""


def walk(node: Schema, prefix: str = "") -> Iterator[Row | Rule]:
    """Every field below ``node`` (depth first, in model order), and every rule on the way."""
    for rule in node.get("x-kubernetes-validations") or ():
        where = prefix.rstrip(".").removesuffix("[]") or "(the object)"
        if rule.get("fieldPath"):
            where = f"{prefix.rstrip('.')}{rule['fieldPath']}".lstrip(".")
        yield Rule(where=where, message=rule["message"], rule=rule["rule"])
    required = set(node.get("required") or ())
    for name, prop in (node.get("properties") or {}).items():
        path = f"{prefix}{name}"
        details = [prop.get("description", "")] if prop.get("description") else []
        details += constraints(prop)
        if prop.get("type") == "array":
            details += [f"each {c}" for c in constraints(prop.get("items") or {})]
        yield Row(
            path=path,
            type=type_of(prop),
            required=name in required,
            default=_default(prop),
            details="; ".join(d.rstrip(".") for d in details),
        )
        child, step = _child(prop)
        if child is not None:
            yield from walk(child, f"{path}{step}")


def _cell(text: str) -> str:
    return text.replace("\n", " ").replace("|", "\\|")


def _table(rows: list[Row]) -> list[str]:
    lines = ["| Field | Type | Default | Description |", "|---|---|---|---|"]
    for row in rows:
        field = f"`{row.path}`" + (" (required)" if row.required else "")
        lines.append(f"| {field} | {row.type} | {_cell(row.default)} | {_cell(row.details)} |")
    return lines


def _section(title: str, schema: Schema, *, level: str) -> list[str]:
    found = list(walk(schema))
    rows = [r for r in found if isinstance(r, Row)]
    rules = [r for r in found if isinstance(r, Rule)]
    lines = [f"{level} {title}", ""]
    if schema.get("description"):
        lines += [schema["description"], ""]
    lines += _table(rows) if rows else ["No fields."]
    if rules:
        lines += ["", "Rules the API server checks (CEL):", ""]
        lines += [f"- `{r.where}`: {r.message} — `{_cell(r.rule)}`" for r in rules]
    return [*lines, ""]


def _anchor(kind: Kind) -> str:
    return kind.kind.lower()


def kind_section(kind: Kind) -> list[str]:
    crd = crdgen.crd(kind)
    version = crd["spec"]["versions"][0]
    root = version["schema"]["openAPIV3Schema"]
    names = crd["spec"]["names"]
    shorts = ", ".join(f"`{s}`" for s in names["shortNames"])
    categories = ", ".join(f"`{c}`" for c in names["categories"])
    lines = [
        f"## {kind.kind}",
        "",
        f"{kind.description}",
        "",
        f"`apiVersion: {kind.api_version}`, `kind: {kind.kind}`; "
        f"`kubectl get {kind.plural}` (short names {shorts}; category {categories})."
        + (" `spec` is required." if "spec" in (root.get("required") or ()) else ""),
        "",
    ]
    lines += _section(f"{kind.kind} spec", root["properties"]["spec"], level="###")
    lines += _section(f"{kind.kind} status", root["properties"]["status"], level="###")
    lines += [
        f"### {kind.kind} columns (`kubectl get {kind.plural}`; `-o wide` adds priority 1)",
        "",
        "| Column | Type | JSON path | Priority |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {c['name']} | {c['type']} | `{c['jsonPath']}` | {c.get('priority', 0)} |"
        for c in version["additionalPrinterColumns"]
    ]
    return [*lines, ""]


def render() -> str:
    """The whole reference, as Markdown."""
    lines = [
        "<!-- Generated from ark/api by `python -m ark.api.refgen`; do not edit. -->",
        "# ark custom resources: reference",
        "",
        f"Group `{GROUP}`, version `{VERSION}`, all namespaced: the operator handles the ones in "
        "its own namespace (`ark-system` by default). This page is generated from the pydantic "
        "models in `ark/api/` through the same schemas as the CRDs in `crds/` "
        "(`python -m ark.api.crdgen crds`), so it lists exactly what the API server accepts: "
        "defaults are filled in by the server, bounds, patterns and enums are checked on "
        "create and update, and the rules at the end of each table are CEL rules it "
        "evaluates. Examples of each kind are in `deploy/examples/`.",
        "",
        "Field paths use `a.b` for nested objects and `a[].b` for lists of objects. A "
        "*duration* is a Go duration (`720h`, `1h30m`, `90s`, `0`), a *timestamp* "
        "RFC 3339 in UTC (`2026-12-01T18:56:37Z`). Status fields are written by the operator.",
        "",
    ]
    lines += [f"- [{k.kind}](#{_anchor(k)}): {k.description}" for k in ALL_KINDS]
    lines += [f"- [{t.title}](#{t.anchor}): {t.schema.get('description', '')}" for t in SHARED]
    lines.append("")
    for kind in ALL_KINDS:
        lines += kind_section(kind)
    lines += ["## Shared types", ""]
    for shared in SHARED:
        lines += _section(shared.title, shared.schema, level="###")
    return "\n".join(lines).rstrip() + "\n"


def write(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    print(write(Path(args[0]) if args else DEFAULT_PATH))  # noqa: T201 - reports what it wrote
    return 0


if __name__ == "__main__":
    sys.exit(main())
