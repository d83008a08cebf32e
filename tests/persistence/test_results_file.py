"""A results file written as its items come: the same JSON a whole document would give."""

from __future__ import annotations

import gzip

import orjson
import pytest

from ark.report import gzip_json_chunks


def _read(chunks: object) -> object:
    return orjson.loads(gzip.decompress(b"".join(chunks)))  # type: ignore[arg-type]


@pytest.mark.parametrize("count", [0, 1, 2, 5_000])
def test_streamed_arrays_read_back_as_the_whole_document(count: int) -> None:
    outcomes = [
        {"name": f"cm-{i:05d}", "outcome": "created", "diff": ["a", i]} for i in range(count)
    ]
    head = {"summary": {"phase": "Completed"}, "errors": []}
    chunks = list(gzip_json_chunks(head, arrays={"outcomes": iter(outcomes)}, chunk_size=4096))
    assert _read(chunks) == {**head, "outcomes": outcomes}
    if count == 5_000:
        assert len(chunks) > 1  # handed out in pieces, not one blob


def test_an_empty_document_gets_only_its_arrays() -> None:
    chunks = gzip_json_chunks({}, arrays={"a": iter([1, 2]), "b": iter([])})
    assert _read(chunks) == {"a": [1, 2], "b": []}


def test_a_key_in_both_the_document_and_the_arrays_is_refused() -> None:
    with pytest.raises(ValueError, match="outcomes"):
        list(gzip_json_chunks({"outcomes": []}, arrays={"outcomes": iter([1])}))
