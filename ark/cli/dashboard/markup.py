"""HTML from values: every value escaped on the way in, markup typed ``Html`` so a raw string
cannot pass for markup (a mix-up is a type error), and the page frame with its inline CSS."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NewType
from urllib.parse import quote

from ark.cli import output

Html = NewType("Html", str)
"""Markup that is safe to send: built here from escaped values."""

GOOD = frozenset({"Completed", "Available", "Enabled", "True", "Passed", "Verified", "yes"})
BAD = frozenset(
    {"Failed", "PartiallyFailed", "FailedValidation", "Unavailable", "False", "NO", "failed"}
)


@dataclass(frozen=True)
class Page:
    """What a route answers: the title, the body, and (while something runs) a refresh."""

    title: str
    body: Html
    refresh: int | None = None
    status: int = 200


@dataclass(frozen=True)
class Frame:
    """What every page's header says: where the data comes from."""

    server: str
    namespace: str
    context: str | None = None


def e(value: Any) -> Html:
    """A value as text in HTML (tags, quotes and ampersands escaped)."""
    return Html(html.escape(output.show(value), quote=True))


def join(parts: Iterable[Html], sep: str = "") -> Html:
    return Html(sep.join(parts))


def tag(name: str, *children: Html, cls: str | None = None) -> Html:
    attr = f' class="{e(cls)}"' if cls else ""
    return Html(f"<{name}{attr}>{''.join(children)}</{name}>")


def href(*segments: str) -> str:
    """A path under the dashboard, each segment (a name from the cluster) percent-encoded."""
    return "/" + "/".join(quote(s, safe="") for s in segments)


def link(target: str, text: Any) -> Html:
    return Html(f'<a href="{e(target)}">{e(text)}</a>')


def badge(value: Any, *, tone: str | None = None) -> Html:
    """A phase or condition status, coloured by what it means (``good``, ``bad``, ``busy``:
    under way); ``tone`` says it when the text does not."""
    text = output.show(value) or "New"
    tone = tone or ("good" if text in GOOD else "bad" if text in BAD else "busy")
    return tag("span", e(text), cls=f"badge {tone}")


def when(value: Any, *, now: dt.datetime) -> Html:
    """A time from the API with how long ago it was (or how long until): ``... (5m ago)``."""
    if not value:
        return Html("")
    parsed = output.parse_time(str(value))
    if parsed is None:
        return e(value)
    delta = now - parsed
    ago = output.human_delta(delta)
    relative = ago if delta.total_seconds() < 0 else f"{ago} ago"
    return Html(f'<span class="nw">{e(value)}</span> <span class="dim nw">({e(relative)})</span>')


def table(headers: Sequence[str], rows: Sequence[Sequence[Html]], *, empty: str) -> Html:
    """A table, or ``empty`` in a paragraph when there are no rows."""
    if not rows:
        return tag("p", e(empty), cls="empty")
    head = join(tag("th", e(h)) for h in headers)
    body = join(tag("tr", *(tag("td", c) for c in row)) for row in rows)
    return tag("table", tag("thead", tag("tr", head)), tag("tbody", body))


def fields(rows: Sequence[tuple[str, Any]]) -> Html:
    """``label: value`` rows; empty values left out. A value already ``Html`` is kept (only
    values built here are), anything else is escaped."""
    shown = [(k, v) for k, v in rows if v not in (None, "", [], {})]
    if not shown:
        return Html("")
    cells = join(tag("tr", tag("th", e(k)), tag("td", _cell(v))) for k, v in shown)
    return tag("table", cells, cls="fields")


def _cell(value: Any) -> Html:
    if isinstance(value, Markup):
        return value.html
    return e(value)


@dataclass(frozen=True)
class Markup:
    """Markup as a field's value (``fields`` escapes plain strings, so ``Html`` alone, a str at
    run time, cannot say it is markup)."""

    html: Html


def section(title: str, *content: Html) -> Html:
    return tag("section", tag("h2", e(title)), *content)


ABNORMAL_TRUE = {"Reconciling": "busy", "Stalled": "bad"}
"""Conditions that say something is wrong (or under way) when True (kstatus' abnormal-true)."""


def condition_status(found: dict[str, Any]) -> Html:
    """A condition's status, coloured by what it means for its type."""
    status, type_ = found.get("status"), str(found.get("type"))
    if type_ in ABNORMAL_TRUE:
        return badge(status, tone=ABNORMAL_TRUE[type_] if status == "True" else "good")
    return badge(status)


def conditions(found: Sequence[Any] | None, *, now: dt.datetime) -> Html:
    rows = [
        [
            e(c.get("type")),
            condition_status(c),
            e(c.get("reason")),
            e(c.get("message")),
            when(c.get("lastTransitionTime"), now=now),
        ]
        for c in found or []
        if isinstance(c, dict)
    ]
    return table(
        ["Type", "Status", "Reason", "Message", "Last transition"], rows, empty="No conditions."
    )


def pre(text: str) -> Html:
    return tag("pre", e(text))


NAV = (
    ("Backups", "/backups"),
    ("Schedules", "/schedules"),
    ("Restores", "/restores"),
    ("Locations", "/locations"),
)

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:10px 24px;display:flex;gap:24px;align-items:center}
header a{color:#cfd8ea;text-decoration:none;font-weight:600}header a:hover{color:#fff}
header .brand{font-size:17px;color:#fff}header .where{margin-left:auto;color:#9aa6bd;font-size:12px}
main{padding:16px 24px;max-width:1400px}h1{font-size:20px;margin:8px 0 12px}
h2{font-size:16px;margin:20px 0 8px}section{margin-bottom:12px}
table{border-collapse:collapse;background:#fff;border:1px solid #dde1e8;margin:4px 0}
th,td{padding:5px 10px;border-bottom:1px solid #eceef2;text-align:left;vertical-align:top}
thead th{background:#eef0f4;font-size:12px;text-transform:uppercase;color:#4a5468}
table.fields th{color:#4a5468;font-weight:600;white-space:nowrap}
.badge{padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;white-space:nowrap}
.good{background:#dcf3e3;color:#17612f}.bad{background:#fbe0e0;color:#8f1d1d}
.busy{background:#e7ecf7;color:#2d4a86}.dim{color:#7a8397}.empty{color:#7a8397}
.nw,code,td:first-child{white-space:nowrap}
pre{background:#fff;border:1px solid #dde1e8;padding:8px;overflow:auto;margin:2px 0}
td pre{border:0;padding:0;margin:0;background:none;font-size:12px}
form{background:#fff;border:1px solid #dde1e8;padding:12px;display:inline-block}
input[type=text]{width:320px;padding:4px}button{padding:5px 14px;margin-left:8px}
details{margin:16px 0}summary{cursor:pointer;color:#4a5468;font-weight:600}
.error{background:#fbe0e0;border:1px solid #e7b4b4;padding:8px 12px;color:#8f1d1d}
"""


def layout(page: Page, frame: Frame) -> Html:
    """The whole document: header with navigation and where the data comes from, the body."""
    refresh = (
        f'<meta http-equiv="refresh" content="{page.refresh}">' if page.refresh is not None else ""
    )
    nav = join(link(target, text) for text, target in NAV)
    where = f"{frame.server} · namespace {frame.namespace}"
    if frame.context:
        where = f"context {frame.context} · {where}"
    return Html(
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"{refresh}<title>{e(page.title)} · ark</title><style>{CSS}</style></head>"
        f'<body><header><span class="brand">ark</span>{nav}'
        f'<span class="where">{e(where)}</span></header>'
        f"<main><h1>{e(page.title)}</h1>{page.body}</main></body></html>\n"
    )
