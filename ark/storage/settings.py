"""Reading a BackupStorageLocation's ``config`` map and credential Secret, naming the key at fault.

Unknown config keys are rejected (as Velero's plugins do), so a typo such as ``s3URL`` fails
loudly instead of being ignored. Credential values never appear in error messages.
"""

from __future__ import annotations

import configparser
from collections.abc import Collection, Mapping

from ark.storage.errors import StoreConfigError
from ark.storage.interface import DEFAULT_PART_SIZE, StoreLocation

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


class Settings:
    """Typed access to ``location.config``; unknown keys fail at construction."""

    def __init__(self, location: StoreLocation, *, known: Collection[str]) -> None:
        self.provider = location.provider
        self._config = dict(location.config)
        unknown = sorted(set(self._config) - set(known))
        if unknown:
            raise StoreConfigError(
                f"config.{unknown[0]}",
                f"not a {self.provider} setting; known settings: {', '.join(sorted(known))}",
            )
        if not location.bucket:
            raise StoreConfigError("bucket", "is required")

    def text(self, key: str) -> str | None:
        value = self._config.get(key, "").strip()
        return value or None

    def flag(self, key: str, *, default: bool) -> bool:
        value = self._config.get(key)
        if value is None:
            return default
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise StoreConfigError(f"config.{key}", f"{value!r} is not a boolean (true or false)")

    def integer(self, key: str, *, default: int, minimum: int, maximum: int) -> int:
        value = self._config.get(key)
        if value is None or not value.strip():
            return default
        try:
            number = int(value.strip())
        except ValueError:
            raise StoreConfigError(f"config.{key}", f"{value!r} is not an integer") from None
        if not minimum <= number <= maximum:
            raise StoreConfigError(
                f"config.{key}", f"{number} is outside the allowed range {minimum}..{maximum}"
            )
        return number

    def choice(self, key: str, choices: Collection[str], *, default: str) -> str:
        """One of ``choices`` (matched case-insensitively), returned as spelled in ``choices``."""
        value = self._config.get(key)
        if value is None or not value.strip():
            return default
        for choice in choices:
            if choice.lower() == value.strip().lower():
                return choice
        raise StoreConfigError(f"config.{key}", f"{value!r} is not one of {', '.join(choices)}")

    def part_size(self, key: str = "partSizeBytes", *, minimum: int, maximum: int) -> int:
        return self.integer(key, default=DEFAULT_PART_SIZE, minimum=minimum, maximum=maximum)


def ini_section(text: str, *, section: str, entry: str = "cloud") -> dict[str, str]:
    """One section of an ini-format credentials file (AWS's ``credentials`` file format)."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        # The parser's message may quote file content; say only where it failed.
        line = getattr(exc, "lineno", None)
        where = f" (line {line})" if line else ""
        raise StoreConfigError(
            f"credentials.{entry}", f"not an ini-format credentials file{where}"
        ) from None
    if not parser.has_section(section):
        known = ", ".join(parser.sections()) or "none"
        raise StoreConfigError(
            f"credentials.{entry}", f"has no profile [{section}] (profiles: {known})"
        )
    return dict(parser.items(section))


def env_file(text: str, *, entry: str = "cloud") -> dict[str, str]:
    """``NAME=value`` lines (Velero's Azure credentials file); blank lines and '#' comments skip."""
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.removeprefix("export ").partition("=")
        if not sep or not name.strip():
            raise StoreConfigError(f"credentials.{entry}", f"line {number} is not NAME=value")
        values[name.strip()] = value.strip().strip("'\"")
    return values


def redacted(credentials: Mapping[str, str]) -> str:
    """The credential key names only, for messages: 'aws_access_key_id, aws_secret_access_key'."""
    return ", ".join(sorted(credentials)) or "none"
