"""Whether the API server stored what a restore sent: the object a create or an update returns,
compared with the body that was sent, field by field (the server's own metadata, which the
restore strips from what it sends, apart).

A field the server dropped (a CRD's schema pruned it, a feature gate is off, a webhook removed
it) or changed (a webhook rewrote it) is a difference: named in the restore's results, and the
restore is not Completed. What the server adds is not: defaults, its own metadata, an injected
volume or container, a status reset (``status`` is the server's). Lists of named elements
(containers, volumes, ports, env) are matched by name, other lists element by element over the
length sent; a zero value sent (``""``, ``0``, ``false``, ``null``, ``{}``, ``[]``) that comes
back absent is the API's omitempty, not a loss; quantities compare by value (``0.5`` = ``500m``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

from ark.restore.actions import SERVER_METADATA

LIMIT = 10
"""Differences named per object (then how many more)."""

_QUANTITY = re.compile(r"^([+-]?[0-9.]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?[0-9]+)?$")
_SUFFIX = {
    "m": Decimal("0.001"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}


def _quantity(text: str) -> Decimal | None:
    found = _QUANTITY.match(text)
    if found is None:
        return None
    number, suffix = found.groups()
    try:
        value = Decimal(number)
        if suffix is None:
            return value
        if suffix[0] in "eE":
            return value * Decimal(10) ** int(suffix[1:])
        return value * _SUFFIX[suffix]
    except (InvalidOperation, ValueError):
        return None


def _same_scalar(sent: Any, stored: Any) -> bool:
    if (sent == stored and type(sent) is type(stored)) or _numbers_equal(sent, stored):
        return True
    if isinstance(sent, str) and isinstance(stored, str):
        a, b = _quantity(sent), _quantity(stored)
        return a is not None and a == b
    return False


def _numbers_equal(a: Any, b: Any) -> bool:
    numbers = (int, float)
    return (
        isinstance(a, numbers)
        and isinstance(b, numbers)
        and not isinstance(a, bool)
        and not isinstance(b, bool)
        and a == b
    )


def _zero(value: Any) -> bool:
    """A value Go's omitempty leaves out of what the server returns."""
    if isinstance(value, (str, list, dict)):
        return not value
    return value is None or value is False or (isinstance(value, (int, float)) and value == 0)


def _named(items: list[Any]) -> dict[str, Any] | None:
    """The list by its elements' names, when every element has a distinct one."""
    if not items or not all(isinstance(i, dict) and isinstance(i.get("name"), str) for i in items):
        return None
    by_name = {i["name"]: i for i in items}
    return by_name if len(by_name) == len(items) else None


def _walk(path: str, sent: Any, stored: Any, *, secret: bool) -> Iterator[str]:
    if isinstance(sent, dict):
        if isinstance(stored, dict):
            yield from _walk_map(path, sent, stored, secret=secret)
        else:
            yield _say(path, sent, stored, secret=secret)
    elif isinstance(sent, list):
        if isinstance(stored, list):
            yield from _walk_list(path, sent, stored, secret=secret)
        else:
            yield _say(path, sent, stored, secret=secret)
    elif not _same_scalar(sent, stored) and not (_zero(sent) and _zero(stored)):
        yield _say(path, sent, stored, secret=secret)


def _walk_map(
    path: str, sent: dict[str, Any], stored: dict[str, Any], *, secret: bool
) -> Iterator[str]:
    for key, value in sent.items():
        where = f"{path}.{key}" if path else str(key)
        if key in stored:
            yield from _walk(where, value, stored[key], secret=secret)
        elif not _zero(value):
            yield f"{where}: dropped by the API server"


def _walk_list(path: str, sent: list[Any], stored: list[Any], *, secret: bool) -> Iterator[str]:
    named_sent, named_stored = _named(sent), _named(stored)
    if named_sent is not None and named_stored is not None:
        for name, element in named_sent.items():
            where = f"{path}[{name}]"
            if name in named_stored:
                yield from _walk(where, element, named_stored[name], secret=secret)
            else:
                yield f"{where}: dropped by the API server"
    elif len(stored) < len(sent):
        yield f"{path}: {len(sent)} elements sent, {len(stored)} stored"
    else:
        for index, element in enumerate(sent):
            yield from _walk(f"{path}[{index}]", element, stored[index], secret=secret)


def _say(path: str, sent: Any, stored: Any, *, secret: bool) -> str:
    if secret:
        return f"{path}: changed by the API server"
    return f"{path}: {_short(sent)} sent, {_short(stored)} stored"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def stored_differences(
    sent: dict[str, Any], stored: dict[str, Any], *, secret: bool = False
) -> list[str]:
    """How the object the API server returned differs from the one sent (what it dropped or
    changed), at most ``LIMIT`` lines and a count of the rest; empty when it stored what was
    sent. With ``secret`` the lines name fields, never values."""
    found: list[str] = []
    more = 0
    body = {k: v for k, v in sent.items() if k != "status"}
    if isinstance(body.get("metadata"), dict):
        body["metadata"] = {k: v for k, v in body["metadata"].items() if k not in SERVER_METADATA}
    for line in _walk_map("", body, stored, secret=secret):
        if len(found) < LIMIT:
            found.append(line)
        else:
            more += 1
    if more:
        found.append(f"and {more} more")
    return found
