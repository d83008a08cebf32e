"""Resource modifiers, in Velero's format: rules that patch restored objects.

A ConfigMap holds one key whose value is YAML (or JSON)::

    version: v1
    resourceModifierRules:
    - conditions:
        groupResource: persistentvolumeclaims      # a glob: deployments.apps, *.apps, *
        resourceNameRegex: "^mysql.*$"
        namespaces: [bar, foo]                     # the backed-up namespace (before mapping)
        labelSelector: {matchLabels: {foo: bar}}
        matches: [{path: /spec/storageClassName, value: premium}]
      patches:                                     # or mergePatches, or strategicPatches
      - {operation: replace, path: /spec/storageClassName, value: standard}

Rules run in order, each on the object the one before left; conditions are matched against the
object as it was before the first rule. A rule whose ``test`` operation fails changes nothing;
any other patch that does not apply is an error of the item, naming the rule. Parsing and
matching are pure; the restore engine applies ``Modifiers.apply`` to every object after ark's
own restore item actions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson
import yaml
from pydantic import Field, ValidationError

from ark.api.types import LabelSelector, Model
from ark.restore import patches, strategic
from ark.selection import selector_matches

SUPPORTED_VERSION = "v1"


class InvalidModifiers(ValueError):
    """Rules that cannot be used; ``reasons`` name each bad rule by its index."""

    def __init__(self, reasons: Sequence[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = list(reasons)


class ModifierFailed(ValueError):
    """A rule's patch did not apply to an object (other than a failed ``test``)."""


class MatchRule(Model):
    path: str = Field(description="A JSON Pointer into the object.")
    value: Any = Field(default="", description="The value found there (Velero's quoting).")


class Conditions(Model):
    group_resource: str = Field(min_length=1, description="A glob of resource.group.")
    resource_name_regex: str | None = None
    namespaces: list[str] | None = None
    label_selector: LabelSelector | None = None
    matches: list[MatchRule] | None = None


class JsonPatch(Model):
    operation: str
    path: str
    from_: str = Field(default="", alias="from")
    value: Any = ""


class PatchData(Model):
    patch_data: str = Field(description="A patch, as YAML or JSON.")


class Rule(Model):
    conditions: Conditions
    patches: list[JsonPatch] | None = None
    merge_patches: list[PatchData] | None = None
    strategic_patches: list[PatchData] | None = None


def json_value(value: Any) -> Any:  # noqa: PLR0911 - one per case of Velero's
    """A ``value`` as Velero reads it: YAML scalars are strings to Velero, and a string is
    JSON when it is null, true, false, a number, an object or a list ("{...}", "[...]"); a
    string in double quotes is the string inside them. Values YAML already typed (3, true, a
    mapping) are taken as they are."""
    if value is None:
        return ""
    if not isinstance(value, str):
        return value
    if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
        return value[1:-1]
    if value == "null":
        return None
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    if value.startswith(("{", "[")):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"value {value!r} is not valid JSON: {exc}") from None
    try:
        number = orjson.loads(value)
    except orjson.JSONDecodeError:
        return value
    return number if isinstance(number, int | float) else value


def glob_pattern(  # noqa: PLR0912 - one branch per glob syntax
    pattern: str, *, separator: str | None = None
) -> re.Pattern[str]:
    """A glob as Velero's (gobwas/glob): ``*`` any run of characters but ``separator``, ``**``
    any run, ``?`` one character but ``separator``, ``[abc]``, ``[!a-c]``, ``{x,y}``, ``\\``
    escapes; the whole string must match."""
    not_sep = f"[^{re.escape(separator)}]" if separator else "."
    out: list[str] = []
    i, depth = 0, 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if ch == "*":
            if pattern.startswith("**", i):
                out.append(".*")
                i += 2
                continue
            out.append(f"{not_sep}*")
        elif ch == "?":
            out.append(not_sep)
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                raise ValueError(f"glob {pattern!r}: '[' without ']'")
            body = pattern[i + 1 : end]
            negate = body.startswith("!")
            body = body[1:] if negate else body
            if not body:
                raise ValueError(f"glob {pattern!r}: an empty [] class")
            escaped = "".join(c if c == "-" else re.escape(c) for c in body)
            out.append(f"[{'^' if negate else ''}{escaped}]")
            i = end
        elif ch == "{":
            depth += 1
            out.append("(?:")
        elif ch == "}" and depth:
            depth -= 1
            out.append(")")
        elif ch == "," and depth:
            out.append("|")
        else:
            out.append(re.escape(ch))
        i += 1
    if depth:
        raise ValueError(f"glob {pattern!r}: '{{' without '}}'")
    try:
        return re.compile("".join(out))
    except re.error as exc:
        raise ValueError(f"glob {pattern!r}: {exc}") from None


@dataclass(frozen=True)
class ModifierRule:
    """One parsed rule, ready to match and apply; ``index`` is its place in the ConfigMap."""

    index: int
    kind: str
    """patches, mergePatches or strategicPatches."""
    group_resource: re.Pattern[str]
    name_regex: re.Pattern[str] | None
    namespaces: tuple[re.Pattern[str], ...]
    label_selector: LabelSelector | None
    matches: tuple[patches.Operation, ...]
    operations: tuple[patches.Operation, ...]
    patch_data: tuple[dict[str, Any], ...]

    PATCH_KINDS: ClassVar[tuple[str, ...]] = ("patches", "mergePatches", "strategicPatches")

    def matches_item(self, obj: Mapping[str, Any], *, resource: str, namespace: str) -> bool:
        """Whether this rule applies to ``obj`` of ``resource`` (``plural.group``), backed up
        in ``namespace`` ("" for cluster-scoped objects, which any namespaces match)."""
        if (
            namespace
            and self.namespaces
            and not any(p.fullmatch(namespace) for p in self.namespaces)
        ):
            return False
        if not self.group_resource.fullmatch(resource):
            return False
        meta = obj.get("metadata") or {}
        if self.name_regex is not None and not self.name_regex.search(str(meta.get("name", ""))):
            return False
        if self.label_selector is not None and not selector_matches(
            self.label_selector, meta.get("labels") or {}
        ):
            return False
        return patches.holds(obj, self.matches)

    def patch(self, obj: dict[str, Any]) -> dict[str, Any]:
        """``obj`` with this rule's patches applied (``obj`` itself when a ``test`` fails);
        raises ModifierFailed naming the rule when a patch does not apply."""
        try:
            if self.kind == "patches":
                patched: dict[str, Any] = patches.apply_json_patch(obj, self.operations)
                return patched
            for data in self.patch_data:
                if self.kind == "mergePatches":
                    obj = patches.apply_merge_patch(obj, data)
                else:
                    obj = strategic.apply_strategic_merge_patch(obj, data)
        except patches.TestFailed:
            return obj
        except patches.PatchError as exc:
            raise ModifierFailed(
                f"resource modifier rule {self.index} ({self.kind}): {exc}"
            ) from None
        return obj


@dataclass(frozen=True)
class Modifiers:
    """The parsed rules of one ConfigMap."""

    rules: tuple[ModifierRule, ...]

    def apply(
        self, obj: dict[str, Any], *, resource: str, namespace: str
    ) -> tuple[dict[str, Any], list[int]]:
        """``obj`` after every matching rule, and the indexes of the rules that changed it.
        ``namespace`` is the one ``obj`` was backed up in (rules name that one)."""
        original = obj  # never changed: each patch returns a new object
        changed: list[int] = []
        for rule in self.rules:
            if not rule.matches_item(original, resource=resource, namespace=namespace):
                continue
            patched = rule.patch(obj)
            if not patches.json_equal(patched, obj):
                changed.append(rule.index)
            obj = patched
        return obj, changed


def from_config_map(config_map: Mapping[str, Any]) -> Modifiers:
    """The rules in a ConfigMap (one key, YAML or JSON); raises InvalidModifiers."""
    meta = config_map.get("metadata") or {}
    source = f"configmap {meta.get('namespace', '')}/{meta.get('name', '')}".replace(" /", " ")
    data = config_map.get("data") or {}
    if len(data) != 1:
        raise InvalidModifiers(
            [f"{source}: must hold exactly one key (the rules), not {len(data)}"]
        )
    ((key, text),) = data.items()
    try:
        return parse(text)
    except InvalidModifiers as exc:
        raise InvalidModifiers([f"{source} key {key}: {r}" for r in exc.reasons]) from None


def parse(text: str) -> Modifiers:
    """Rules from their YAML (or JSON) text; raises InvalidModifiers with every bad rule's
    index and reason."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidModifiers([f"not YAML: {exc}"]) from None
    if not isinstance(document, dict):
        raise InvalidModifiers(["must be a mapping with version and resourceModifierRules"])
    reasons: list[str] = []
    unknown = sorted(set(document) - {"version", "resourceModifierRules"})
    if unknown:
        reasons.append(f"unknown field(s) {', '.join(map(str, unknown))}")
    version = document.get("version")
    if str(version).lower() != SUPPORTED_VERSION:
        reasons.append(f"unsupported version {version!r} (want {SUPPORTED_VERSION})")
    raw_rules = document.get("resourceModifierRules")
    if not isinstance(raw_rules, list) or not raw_rules:
        reasons.append("resourceModifierRules must be a non-empty list")
        raise InvalidModifiers(reasons)
    rules: list[ModifierRule] = []
    for index, raw in enumerate(raw_rules):
        try:
            rules.append(_rule(index, raw))
        except ValueError as exc:
            reasons.append(f"resource modifier rule {index}: {exc}")
    if reasons:
        raise InvalidModifiers(reasons)
    return Modifiers(tuple(rules))


def _rule(index: int, raw: Any) -> ModifierRule:
    try:
        rule = Rule.model_validate(raw)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or 'rule'}: {e['msg']}" for e in exc.errors()
        ]
        raise ValueError("; ".join(problems)) from None
    given = [
        (name, items)
        for name, items in zip(
            ModifierRule.PATCH_KINDS,
            (rule.patches, rule.merge_patches, rule.strategic_patches),
            strict=True,
        )
        if items
    ]
    if len(given) != 1:
        raise ValueError(
            "exactly one of patches, mergePatches or strategicPatches must be given, "
            f"not {len(given)}"
        )
    kind = given[0][0]
    c = rule.conditions
    try:
        group_resource = glob_pattern(c.group_resource, separator=".")
        namespaces = tuple(glob_pattern(ns) for ns in c.namespaces or () if ns)
    except ValueError as exc:
        raise ValueError(f"conditions: {exc}") from None
    name_regex = None
    if c.resource_name_regex:
        try:
            name_regex = re.compile(c.resource_name_regex)
        except re.error as exc:
            raise ValueError(
                f"conditions.resourceNameRegex {c.resource_name_regex!r}: {exc}"
            ) from None
    matches = tuple(
        _operation("test", m.path, m.value, where=f"conditions.matches.{i}")
        for i, m in enumerate(c.matches or ())
    )
    operations: tuple[patches.Operation, ...] = ()
    patch_data: tuple[dict[str, Any], ...] = ()
    if kind == "patches":
        operations = tuple(
            _operation(p.operation, p.path, p.value, from_=p.from_, where=f"patches.{i}")
            for i, p in enumerate(rule.patches or ())
        )
    else:
        data = rule.merge_patches if kind == "mergePatches" else rule.strategic_patches
        patch_data = tuple(
            _patch_data(d.patch_data, where=f"{kind}.{i}") for i, d in enumerate(data or ())
        )
    return ModifierRule(
        index=index,
        kind=kind,
        group_resource=group_resource,
        name_regex=name_regex,
        namespaces=namespaces,
        label_selector=c.label_selector,
        matches=matches,
        operations=operations,
        patch_data=patch_data,
    )


def _operation(op: str, path: str, value: Any, *, where: str, from_: str = "") -> patches.Operation:
    if op.lower() not in patches.OPERATIONS:
        known = ", ".join(sorted(patches.OPERATIONS))
        raise ValueError(f"{where}: unsupported operation {op!r} (one of {known})")
    for name, pointer in (("path", path), ("from", from_)):
        if name == "from" and op.lower() not in ("move", "copy"):
            continue
        if not pointer.startswith("/"):
            raise ValueError(f"{where}.{name}: {pointer!r} is not a JSON Pointer (start it with /)")
    try:
        parsed = json_value(value)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    return patches.Operation(op=op.lower(), path=path, value=parsed, from_=from_)


def _patch_data(text: str, *, where: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{where}.patchData: not YAML or JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{where}.patchData: must be an object")
    return data
