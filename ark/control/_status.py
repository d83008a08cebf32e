"""What ark writes into its objects' status besides phases: times as the API server writes
them, and conditions."""

from __future__ import annotations

import datetime as dt
from typing import Any


def timestamp(value: dt.datetime | None = None) -> str:
    """RFC 3339 in UTC with a Z, as the API server writes times."""
    when = value or dt.datetime.now(dt.UTC)
    return when.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def condition(type_: str, status: bool, *, reason: str, message: str = "") -> dict[str, str]:
    return {
        "type": type_,
        "status": "True" if status else "False",
        "reason": reason,
        "message": message,
        "lastTransitionTime": timestamp(),
    }


def set_condition(
    conditions: list[dict[str, Any]] | None, new: dict[str, str]
) -> list[dict[str, Any]]:
    """Conditions with ``new`` replacing one of its type (keeping the old transition time when
    the status did not change)."""
    out: list[dict[str, Any]] = []
    for old in conditions or []:
        if old.get("type") == new["type"]:
            if old.get("status") == new["status"]:
                new = {**new, "lastTransitionTime": old.get("lastTransitionTime") or timestamp()}
            continue
        out.append(old)
    out.append(new)
    return out
