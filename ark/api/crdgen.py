"""Generate ark's CustomResourceDefinitions from the pydantic models.

The models are the single source of truth: field names, types, enums, patterns, bounds, defaults
and descriptions come from them; rules that span fields come from each model's ``cel_rules``.
The output is a structural OpenAPI v3 schema (no $ref, no anyOf-null, no additionalProperties:
false), as the API server requires.

    python -m ark.api.crdgen [DIR]     write DIR/<plural>.<group>.yaml (default: crds/)
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import yaml

from ark.api.kinds import ALL_KINDS, Kind
from ark.api.types import GROUP, VERSION

# JSON-Schema keywords a structural schema may use (apiextensions/v1 JSONSchemaProps).
_ALLOWED = {
    "type",
    "format",
    "description",
    "default",
    "enum",
    "maximum",
    "minimum",
    "exclusiveMaximum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "maxProperties",
    "minProperties",
    "required",
    "items",
    "properties",
    "additionalProperties",
    "nullable",
    "x-kubernetes-validations",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-int-or-string",
    "x-kubernetes-list-type",
    "x-kubernetes-map-type",
}


def _inline(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Replace a $ref by its target and an Optional (anyOf X|null) by X, until neither is left."""
    while "$ref" in node or "anyOf" in node:
        if "$ref" in node:
            target = copy.deepcopy(defs[node.pop("$ref").rsplit("/", 1)[1]])
            # Keywords beside the $ref (description, default) win over the target's own.
            node = {**target, **node}
        else:
            branches = [b for b in node.pop("anyOf") if b.get("type") != "null"]
            if len(branches) != 1:
                raise ValueError(f"cannot express a union in a structural schema: {branches}")
            node = {**branches[0], **node}
    return node


def _resolve(node: Any, defs: dict[str, Any], *, keep_defaults: bool) -> Any:
    """Inline $refs, collapse Optional (anyOf X|null) to X, drop what CRDs don't accept."""
    if isinstance(node, list):
        return [_resolve(n, defs, keep_defaults=keep_defaults) for n in node]
    if not isinstance(node, dict):
        return node
    node = _inline(dict(node), defs)
    if "patternProperties" in node:
        # Key patterns are enforced by CEL rules; the value schema becomes additionalProperties.
        (value_schema,) = node.pop("patternProperties").values()
        node["additionalProperties"] = value_schema
    if node.get("additionalProperties") is False:
        del node["additionalProperties"]
    if "default" in node and (node["default"] is None or not keep_defaults):
        del node["default"]
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key not in _ALLOWED:
            continue
        if key == "properties":
            out[key] = {
                name: _resolve(prop, defs, keep_defaults=keep_defaults)
                for name, prop in value.items()
            }
        elif key in {"items", "additionalProperties"}:
            out[key] = _resolve(value, defs, keep_defaults=keep_defaults)
        else:
            out[key] = value
    if out.get("required") == []:
        del out["required"]
    return out


def structural_schema(model: type[Any], *, keep_defaults: bool) -> dict[str, Any]:
    """The structural OpenAPI v3 schema of a pydantic model, as a CRD embeds it."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs = raw.pop("$defs", {})
    schema: dict[str, Any] = _resolve(raw, defs, keep_defaults=keep_defaults)
    return schema


def crd(kind: Kind) -> dict[str, Any]:
    """The CustomResourceDefinition of one kind."""
    spec_schema = structural_schema(kind.spec, keep_defaults=True)
    status_schema = structural_schema(kind.status, keep_defaults=False)
    # kopf keeps its own handler progress under status.kopf; a structural schema would prune it.
    status_schema.setdefault("properties", {})["kopf"] = {
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
        "description": "Handler progress of the operator (kopf).",
    }
    root: dict[str, Any] = {
        "type": "object",
        "description": kind.description,
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec_schema,
            "status": status_schema,
        },
    }
    if kind.spec_required:
        root["required"] = ["spec"]
    if kind.name_rule is not None:
        root["x-kubernetes-validations"] = [kind.name_rule]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": kind.crd_name,
            "labels": {"app.kubernetes.io/name": "ark", "app.kubernetes.io/component": "crd"},
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.singular,
                "shortNames": list(kind.short_names),
                "categories": list(kind.categories),
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [c.to_crd() for c in kind.columns],
                    "schema": {"openAPIV3Schema": root},
                }
            ],
        },
    }


def all_crds() -> dict[str, dict[str, Any]]:
    """File name -> CRD, for every kind."""
    return {f"{kind.crd_name}.yaml": crd(kind) for kind in ALL_KINDS}


def render(document: dict[str, Any]) -> str:
    header = "# Generated from ark/api by `python -m ark.api.crdgen`; do not edit.\n"
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)


def write(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, document in all_crds().items():
        path = directory / filename
        path.write_text(render(document), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    for path in write(Path(args[0] if args else "crds")):
        print(path)  # noqa: T201 - a generator reports what it wrote
    return 0


if __name__ == "__main__":
    sys.exit(main())
