"""crds/ is generated from the models and never drifts from them."""

from __future__ import annotations

from pathlib import Path

from ark.api import crdgen
from ark.api.kinds import ALL_KINDS
from tests.support.crds import CRD_DIR


def test_generated_crds_match_the_committed_files(tmp_path: Path) -> None:
    written = crdgen.write(tmp_path)
    assert {p.name for p in written} == {p.name for p in CRD_DIR.glob("*.yaml")}, (
        "crds/ has files the generator does not write (or misses some)"
    )
    for path in written:
        committed = (CRD_DIR / path.name).read_text()
        assert path.read_text() == committed, (
            f"crds/{path.name} is stale: run `uv run python -m ark.api.crdgen crds`"
        )


def test_schemas_are_structural() -> None:
    def walk(node: object, where: str) -> None:
        if isinstance(node, dict):
            assert "$ref" not in node and "anyOf" not in node, where
            assert node.get("additionalProperties") is not False, where
            if "properties" in node or "additionalProperties" in node:
                assert node.get("type") == "object", f"{where}: object without type"
            for key, value in node.items():
                walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}[{i}]")

    for kind in ALL_KINDS:
        walk(crdgen.crd(kind), kind.kind)


def test_every_kind_has_status_subresource_columns_and_category() -> None:
    for kind in ALL_KINDS:
        version = crdgen.crd(kind)["spec"]["versions"][0]
        assert version["subresources"] == {"status": {}}
        columns = [c["name"] for c in version["additionalPrinterColumns"]]
        assert "Age" in columns
        assert crdgen.crd(kind)["spec"]["names"]["categories"] == ["ark"]
