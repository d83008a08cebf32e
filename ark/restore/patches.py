"""JSON Patch (RFC 6902) and JSON Merge Patch (RFC 7386) on decoded JSON, for resource
modifiers. Pure; a patch never changes its input (it works on a copy)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

OPERATIONS = frozenset({"add", "remove", "replace", "move", "copy", "test"})


class PatchError(ValueError):
    """A patch cannot be applied to this document (a path is missing, an index is out of range,
    a value has the wrong type)."""


class TestFailed(PatchError):
    """A ``test`` operation did not hold: the patch is not applied, which is not an error."""

    __test__ = False  # not a pytest test class


@dataclass(frozen=True)
class Operation:
    """One RFC 6902 operation: ``op`` on ``path`` (``from_`` for move and copy)."""

    op: str
    path: str
    value: Any = None
    from_: str = ""


def parse_pointer(pointer: str) -> list[str]:
    """The reference tokens of a JSON Pointer (RFC 6901): "/a/b~1c" -> ["a", "b/c"]; "" is
    the whole document."""
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(f"{pointer!r} is not a JSON Pointer (it must start with '/')")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values: unlike Python's ``==``, true is not 1 and 1 is 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


def holds(doc: Any, tests: Sequence[Operation]) -> bool:
    """Whether every ``test`` operation holds on ``doc`` (a missing path does not), without
    copying ``doc``."""
    for test in tests:
        try:
            _op_test(doc, parse_pointer(test.path), test)
        except PatchError:
            return False
    return True


def apply_json_patch(doc: Any, operations: Sequence[Operation]) -> Any:
    """``doc`` with ``operations`` applied in order, all or nothing: raises TestFailed when a
    ``test`` does not hold (or tests a path that does not exist), PatchError for the rest."""
    out = copy.deepcopy(doc)
    for operation in operations:
        out = _apply_one(out, operation)
    return out


def _apply_one(doc: Any, operation: Operation) -> Any:
    op = _OPS.get(operation.op.lower())
    if op is None:
        raise PatchError(f"unsupported operation {operation.op!r}")
    return op(doc, parse_pointer(operation.path), operation)


def _op_add(doc: Any, tokens: list[str], operation: Operation) -> Any:
    return _add(doc, tokens, copy.deepcopy(operation.value))


def _op_remove(doc: Any, tokens: list[str], _operation: Operation) -> Any:
    _remove(doc, tokens)
    return doc


def _op_replace(doc: Any, tokens: list[str], operation: Operation) -> Any:
    if not tokens:
        return copy.deepcopy(operation.value)
    _get(doc, tokens)  # must exist
    parent, key = _parent(doc, tokens)
    parent[key] = copy.deepcopy(operation.value)
    return doc


def _op_move(doc: Any, tokens: list[str], operation: Operation) -> Any:
    source = parse_pointer(operation.from_)
    value = _get(doc, source)
    if tokens == source:
        return doc
    if tokens[: len(source)] == source:
        raise PatchError(f"cannot move {operation.from_} into its own child {operation.path}")
    _remove(doc, source)
    return _add(doc, tokens, value)


def _op_copy(doc: Any, tokens: list[str], operation: Operation) -> Any:
    return _add(doc, tokens, copy.deepcopy(_get(doc, parse_pointer(operation.from_))))


def _op_test(doc: Any, tokens: list[str], operation: Operation) -> Any:
    try:
        found = _get(doc, tokens)
    except PatchError as exc:
        if operation.value is None and _unset(doc, tokens):
            return doc  # null tests that a key is unset (as Velero's json-patch does)
        raise TestFailed(f"test {operation.path}: {exc}") from None
    if not json_equal(found, operation.value):
        raise TestFailed(f"test {operation.path}: is {found!r}, not {operation.value!r}")
    return doc


def _unset(doc: Any, tokens: list[str]) -> bool:
    """Whether the last token is a key its (existing) object does not have."""
    try:
        parent = _get(doc, tokens[:-1])
    except PatchError:
        return False
    return isinstance(parent, dict) and tokens[-1] not in parent


_OPS: dict[str, Callable[[Any, list[str], Operation], Any]] = {
    "add": _op_add,
    "remove": _op_remove,
    "replace": _op_replace,
    "move": _op_move,
    "copy": _op_copy,
    "test": _op_test,
}


def _index(part: str, size: int, *, path: str, append: bool) -> int:
    """A list index token: digits without leading zeros; ``-`` (the end) only where adding."""
    if append and part == "-":
        return size
    if not part.isdigit() or (len(part) > 1 and part[0] == "0"):
        raise PatchError(f"{path}: {part!r} is not a list index")
    index = int(part)
    if index > size or (index == size and not append):
        raise PatchError(f"{path}: index {index} is out of range (the list has {size} items)")
    return index


def _pointer(tokens: Sequence[str]) -> str:
    return "".join("/" + t.replace("~", "~0").replace("/", "~1") for t in tokens)


def _get(doc: Any, tokens: Sequence[str]) -> Any:
    node = doc
    for i, token in enumerate(tokens):
        where = _pointer(tokens[: i + 1])
        if isinstance(node, dict):
            if token not in node:
                raise PatchError(f"{where} does not exist")
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(token, len(node), path=where, append=False)]
        else:
            raise PatchError(f"{where} does not exist ({_pointer(tokens[:i])} is not an object)")
    return node


def _parent(doc: Any, tokens: Sequence[str]) -> tuple[Any, Any]:
    """The container of the last token, and the key (dict) or index (list) in it."""
    parent = _get(doc, tokens[:-1])
    where = _pointer(tokens)
    if isinstance(parent, dict):
        return parent, tokens[-1]
    if isinstance(parent, list):
        return parent, _index(tokens[-1], len(parent), path=where, append=False)
    raise PatchError(f"{where}: {_pointer(tokens[:-1]) or 'the document'} is not an object")


def _add(doc: Any, tokens: Sequence[str], value: Any) -> Any:
    if not tokens:
        return value
    parent = _get(doc, tokens[:-1])
    where = _pointer(tokens)
    if isinstance(parent, dict):
        parent[tokens[-1]] = value
    elif isinstance(parent, list):
        parent.insert(_index(tokens[-1], len(parent), path=where, append=True), value)
    else:
        raise PatchError(f"{where}: {_pointer(tokens[:-1]) or 'the document'} is not an object")
    return doc


def _remove(doc: Any, tokens: Sequence[str]) -> None:
    if not tokens:
        raise PatchError("cannot remove the whole document")
    _get(doc, tokens)  # must exist
    parent, key = _parent(doc, tokens)
    del parent[key]


def apply_merge_patch(doc: Any, patch: Any) -> Any:
    """RFC 7386: objects merge key by key, null removes a key, anything else replaces."""
    return _merge(copy.deepcopy(doc), patch)


def _merge(doc: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = doc if isinstance(doc, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge(out.get(key), value)
    return out
