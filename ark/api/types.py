"""Building blocks shared by ark's custom resources: base models, durations, selectors, phases."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, ClassVar, NewType, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from ark.api import limits

GROUP = "ark.dev"
VERSION = "v1"
API_VERSION = f"{GROUP}/{VERSION}"

EXCLUDE_LABELS = ("ark.dev/exclude-from-backup", "velero.io/exclude-from-backup")
"""An object labelled with any of these set to "true" is never backed up (Velero's is honoured
for migrating users); ark puts them on the objects it creates itself."""

#: A name of a Kubernetes namespace, or a glob of names (``*``, ``team-?``, ``app-[ab]``).
NamespacePattern = NewType("NamespacePattern", str)

# Go's time.ParseDuration units; Velero users write "720h", "1h30m", "90s".
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
DURATION_PATTERN = r"^(0|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$"
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)")

_TOO_LONG = f"a duration may be at most {limits.MAX_DURATION_TEXT} (about 292 years)"


def parse_duration(value: str) -> dt.timedelta:
    """Parse a Go-style duration ("720h", "1h30m", "0"); negative durations are invalid, and
    so is one longer than Go's (``limits.MAX_DURATION``)."""
    if not re.fullmatch(DURATION_PATTERN, value):
        raise ValueError(
            f"invalid duration {value!r}: want a Go duration such as '720h' or '1h30m'"
        )
    seconds = sum(float(n) * _DURATION_UNITS[u] for n, u in _DURATION_PART.findall(value))
    if seconds > limits.MAX_DURATION.total_seconds():
        raise ValueError(f"invalid duration {value!r}: {_TOO_LONG}")
    return dt.timedelta(seconds=seconds)


def _checked_duration(value: str) -> str:
    parse_duration(value)
    return value


Duration = Annotated[
    str,
    StringConstraints(pattern=DURATION_PATTERN, max_length=64),
    AfterValidator(_checked_duration),
    Field(
        json_schema_extra={
            "x-ark-format": "duration",
            "x-kubernetes-validations": [
                {
                    "rule": f"duration(self) <= duration('{limits.MAX_DURATION_TEXT}')",
                    "message": _TOO_LONG,
                }
            ],
        }
    ),
]


def format_duration(delta: dt.timedelta) -> str:
    """The Go-style string of a non-negative duration: ``timedelta(hours=1.5)`` -> "1h30m0s"."""
    total = int(delta.total_seconds())
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{seconds}s"
    if minutes:
        return f"{minutes}m{seconds}s"
    return f"{seconds}s"


@dataclass(frozen=True)
class CelRule:
    """A validation rule spanning fields, enforced by the API server (x-kubernetes-validations)."""

    rule: str
    message: str
    field_path: str | None = None

    def to_crd(self) -> dict[str, str]:
        out = {"rule": self.rule, "message": self.message}
        if self.field_path:
            out["fieldPath"] = self.field_path
        return out


def _add_cel_rules(schema: dict[str, Any], cls: type[Any]) -> None:
    rules = [r for klass in reversed(cls.__mro__) for r in vars(klass).get("cel_rules", ())]
    if rules:
        schema["x-kubernetes-validations"] = [r.to_crd() for r in rules]


class Model(BaseModel):
    """Base of every CR model: camelCase on the wire, snake_case in Python, unknown keys refused.

    ``cel_rules`` (collected along the class hierarchy) become the CRD's x-kubernetes-validations.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        use_enum_values=True,
        validate_default=False,
        json_schema_extra=_add_cel_rules,
    )
    cel_rules: ClassVar[tuple[CelRule, ...]] = ()

    def to_wire(self) -> dict[str, Any]:
        """The JSON the API server stores: camelCase keys, unset fields left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_unset=True)


class LabelSelectorOperator(StrEnum):
    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


class LabelSelectorRequirement(Model):
    cel_rules: ClassVar[tuple[CelRule, ...]] = (
        CelRule(
            "self.operator in ['In', 'NotIn'] ? (has(self.values) && size(self.values) > 0)"
            " : (!has(self.values) || size(self.values) == 0)",
            "values must be non-empty for In and NotIn, and empty for Exists and DoesNotExist",
            ".values",
        ),
    )

    key: str = Field(min_length=1, max_length=317, description="The label key.")
    operator: LabelSelectorOperator = Field(description="In, NotIn, Exists or DoesNotExist.")
    values: list[Annotated[str, StringConstraints(max_length=63)]] | None = Field(
        default=None,
        max_length=256,
        description="Values for In and NotIn; must be empty for Exists and DoesNotExist.",
    )

    @model_validator(mode="after")
    def _values_match_operator(self) -> Self:
        wants_values = self.operator in (LabelSelectorOperator.IN, LabelSelectorOperator.NOT_IN)
        if wants_values != bool(self.values):
            raise ValueError(self.cel_rules[0].message)
        return self


class LabelSelector(Model):
    """A Kubernetes label selector (metav1.LabelSelector)."""

    match_labels: dict[str, Annotated[str, StringConstraints(max_length=63)]] | None = Field(
        default=None, description="Labels an object must carry, all of them, with these values."
    )
    match_expressions: list[LabelSelectorRequirement] | None = Field(
        default=None,
        max_length=limits.SELECTORS_MAX,
        description="Set-based requirements; all must hold.",
    )


class Condition(Model):
    """A Kubernetes-style condition (metav1.Condition)."""

    type: str = Field(max_length=316)
    status: str = Field(description="True, False or Unknown.")
    reason: str | None = Field(default=None, max_length=1024)
    message: str | None = Field(default=None, max_length=32768)
    last_transition_time: dt.datetime | None = None
    observed_generation: int | None = Field(default=None, ge=0)

    @field_validator("status")
    @classmethod
    def _status(cls, value: str) -> str:
        if value not in {"True", "False", "Unknown"}:
            raise ValueError("status must be True, False or Unknown")
        return value


class ObjectMeta(BaseModel):
    """The parts of metav1.ObjectMeta ark reads; everything else is kept as it came."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    name: str | None = None
    generate_name: str | None = None
    namespace: str | None = None
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    creation_timestamp: dt.datetime | None = None
    deletion_timestamp: dt.datetime | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    finalizers: list[str] | None = None
    owner_references: list[dict[str, Any]] | None = None
