"""Reading a VolumeSnapshotLocation's config keys and credential Secret, with errors naming the key.

Credentials are only ever read here and handed to SDK clients; nothing in this module puts a
credential value into a message.
"""

from __future__ import annotations

import configparser
import re
import urllib.parse
from collections.abc import Collection, Mapping

from ark.snapshot import errors

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|m|s|ms)")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def check_keys(config: Mapping[str, str], known: Collection[str], *, provider: str) -> None:
    for key in config:
        if key not in known:
            raise errors.SnapshotConfigError(
                key, f"not a {provider} volume snapshot setting (known: {', '.join(sorted(known))})"
            )


def endpoint(config: Mapping[str, str], key: str) -> str | None:
    """An endpoint override (``http(s)://host[:port][/path]``), without a trailing slash."""
    value = config.get(key, "").strip()
    if not value:
        return None
    parsed = urllib.parse.urlsplit(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise errors.SnapshotConfigError(key, f"{value!r} is not an http(s) URL")
    return value.rstrip("/")


def boolean(config: Mapping[str, str], key: str, *, default: bool) -> bool:
    value = config.get(key, "").strip().lower()
    if not value:
        return default
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise errors.SnapshotConfigError(key, f"{value!r} is not true or false")


def seconds(config: Mapping[str, str], key: str, *, default: float) -> float:
    """A duration: plain seconds (``"2.5"``) or Go's form, as Velero writes it (``"10m"``)."""
    value = config.get(key, "").strip()
    if not value:
        return default
    try:
        result = float(value)
    except ValueError:
        parts = _DURATION.findall(value)
        if not parts or "".join(n + u for n, u in parts) != value:
            raise errors.SnapshotConfigError(
                key, f"{value!r} is not a duration (e.g. 30s, 10m)"
            ) from None
        result = sum(float(n) * _UNITS[u] for n, u in parts)
    if result < 0:
        raise errors.SnapshotConfigError(key, f"{value!r} is negative")
    return result


def ini_profile(text: str, *, profile: str, setting: str) -> dict[str, str]:
    """One profile of an AWS shared-credentials file (Velero's ``cloud`` Secret key)."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        raise errors.SnapshotConfigError(
            setting, f"not an AWS credentials file ({type(exc).__name__})"
        ) from None
    if not parser.has_section(profile):
        raise errors.SnapshotConfigError(setting, f"no [{profile}] profile in the credentials file")
    return dict(parser.items(profile))


def env_file(text: str, *, setting: str) -> dict[str, str]:
    """``KEY=value`` lines (Velero's Azure ``cloud`` Secret key); comments and blanks skipped."""
    out: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise errors.SnapshotConfigError(setting, f"line {number} is not KEY=value")
        out[key.strip()] = value.strip().strip('"').strip("'")
    return out
