"""Printing objects: tables from the kinds' printer columns, YAML and JSON, durations, ages.

Colours and styles only on a terminal (rich decides; NO_COLOR is honoured)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import yaml
from rich.cells import cell_len
from rich.console import Console

from ark.cli.context import Obj, dumps_json

if TYPE_CHECKING:
    from ark.api.kinds import Column, Kind

TABLE_GAP = "  "
"""Between two table columns."""
_console: Console | None = None
_err_console: Console | None = None


def console() -> Console:
    """Prints to whatever ``sys.stdout`` is at the time (so ``main()`` called in a process that
    redirects it, as tests and embedders do, prints there)."""
    global _console  # noqa: PLW0603 - one console per process
    if _console is None:
        _console = Console(highlight=False, soft_wrap=True)
    return _console


def err_console() -> Console:
    global _err_console  # noqa: PLW0603
    if _err_console is None:
        _err_console = Console(stderr=True, highlight=False, soft_wrap=True)
    return _err_console


def echo(text: str = "", *, style: str | None = None) -> None:
    """A line of text; ``style`` only shows on a terminal. Markup in ``text`` is not parsed."""
    console().print(text, style=style, markup=False)


def to_yaml(document: Any) -> str:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)


def clean(obj: Obj) -> Obj:
    """Without managedFields, as kubectl shows objects."""
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
    return {**obj, "metadata": meta}


def print_objects(objs: Sequence[Obj], *, kind: Kind, output: str, single: bool) -> None:
    objs = [clean(o) for o in objs]
    if output == "json":
        echo(dumps_json(objs[0] if single and len(objs) == 1 else _as_list(objs)))
    elif output == "yaml":
        echo(to_yaml(objs[0] if single and len(objs) == 1 else _as_list(objs)).rstrip())
    else:
        print_table(objs, kind=kind)


def _as_list(objs: Sequence[Obj]) -> Obj:
    return {"apiVersion": "v1", "kind": "List", "items": list(objs)}


def lookup(obj: Any, json_path: str) -> Any:
    """A simple ``.a.b.c`` path of a printer column."""
    for part in json_path.strip(".").split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def parse_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def human_delta(delta: dt.timedelta) -> str:
    """kubectl's short ages: 45s, 5m, 3h, 2d; future times too (``in 29d``)."""
    seconds = int(abs(delta.total_seconds()))
    if seconds < 120:
        text = f"{seconds}s"
    elif seconds < 7200:
        text = f"{seconds // 60}m"
    elif seconds < 172800:
        text = f"{seconds // 3600}h"
    else:
        text = f"{seconds // 86400}d"
    return text if delta.total_seconds() >= 0 else f"in {text}"


def age(value: str | None, *, now: dt.datetime | None = None) -> str:
    when = parse_time(value)
    if when is None:
        return "<none>"
    return human_delta((now or dt.datetime.now(dt.UTC)) - when)


def seconds(value: float) -> str:
    """A run's duration: 0.8s, 12.3s, 4m05s, 1h02m."""
    if value < 60:
        return f"{value:.1f}s"
    minutes, secs = divmod(int(value), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def took(started: str | None, ended: str | None) -> str | None:
    """How long a run took, from its status's whole-second timestamps: <1s, 12s, 4m05s."""
    start, end = parse_time(started), parse_time(ended)
    if start is None or end is None:
        return None
    value = (end - start).total_seconds()
    if value < 1:
        return "<1s"
    return f"{int(value)}s" if value < 60 else seconds(value)


def cell(obj: Obj, column: Column) -> str:
    value = lookup(obj, column.json_path)
    if value is None:
        return "<none>" if column.type == "date" else ""
    if column.type == "date":
        return age(str(value))
    if column.type == "boolean":
        return "true" if value else "false"
    return str(value)


def print_table(objs: Sequence[Obj], *, kind: Kind) -> None:
    """kubectl's table: the kind's printer columns (not -o wide's), left-aligned, never cut
    short (a line wider than the terminal wraps), no trailing blanks."""
    if not objs:
        err_console().print(f"No {kind.plural} found.", markup=False)
        return
    columns = [c for c in kind.columns if not c.priority]
    rows = [["NAME", *(c.name.upper() for c in columns)]]
    rows += [[str(o["metadata"]["name"]), *(cell(o, c) for c in columns)] for o in objs]
    widths = [max(cell_len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for number, row in enumerate(rows):
        cells = zip(row, widths, strict=True)
        line = TABLE_GAP.join(text + " " * (width - cell_len(text)) for text, width in cells)
        echo(line.rstrip(), style="bold" if number == 0 else None)


def fields(rows: Sequence[tuple[str, Any]], *, indent: int = 0) -> None:
    """``Label:  value`` lines, aligned; empty values are left out."""
    shown = [(k, v) for k, v in rows if v not in (None, "", [], {})]
    if not shown:
        return
    width = max(len(k) for k, _ in shown) + 2
    pad = " " * indent
    for key, value in shown:
        echo(f"{pad}{key + ':':<{width}}{show(value)}")


def show(value: Any) -> str:
    """A value as describe pages print it (the CLI's and the dashboard's): lists and maps on
    one line."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(show(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={show(v)}" for k, v in value.items())
    return str(value)


def section(title: str, rows: Sequence[tuple[str, Any]]) -> None:
    """A heading and its indented fields; nothing when every value is empty."""
    if any(v not in (None, "", [], {}) for _, v in rows):
        heading(title)
        fields(rows, indent=2)


def heading(text: str) -> None:
    echo()
    echo(text, style="bold")
