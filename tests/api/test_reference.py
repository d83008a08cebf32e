"""docs/reference.md is generated from the models and never drifts from them."""

from __future__ import annotations

from ark.api import crdgen, refgen
from ark.api.kinds import ALL_KINDS
from tests.support.localenv import ROOT

REFERENCE = ROOT / "docs" / "reference.md"


def test_the_committed_reference_matches_the_models() -> None:
    assert REFERENCE.read_text() == refgen.render(), (
        "docs/reference.md is stale: run `uv run python -m ark.api.refgen docs/reference.md`"
    )


def test_every_spec_field_rule_and_column_of_every_crd_is_listed() -> None:
    text = refgen.render()
    for kind in ALL_KINDS:
        version = crdgen.crd(kind)["spec"]["versions"][0]
        spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
        assert f"## {kind.kind}\n" in text
        for name in spec.get("properties") or {}:
            assert f"| `{name}`" in text, f"{kind.kind}.spec.{name} missing"
        for rule in spec.get("x-kubernetes-validations") or ():
            assert rule["message"] in text
        for column in version["additionalPrinterColumns"]:
            assert f"`{column['jsonPath']}`" in text


def test_nested_fields_types_defaults_and_shared_types() -> None:
    text = refgen.render()
    assert "| `ttl` | duration | `720h` |" in text
    assert "| `objectStorage.bucket` (required) | string |" in text
    assert "| `existingResourcePolicy` | `none` \\| `update` \\| `recreate` | `none` |" in text
    assert "| `labelSelector` | [label selector](#label-selector) |" in text
    assert "| `template` (required) | [backup spec](#backup-spec) |" in text
    assert "### Label selector\n" in text and "`matchExpressions[].operator` (required)" in text
    assert "- `objectStorage.bucket`: for provider fs, objectStorage.bucket must be" in text
