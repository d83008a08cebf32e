"""Keys: what a valid key is, and how store-relative keys map to provider object names.

A key is a '/'-separated relative path: not empty, no leading or doubled '/', no trailing '/',
no '.' or '..' segment, no NUL. Every provider applies the same rules, so a key that works on
one store works on all of them (the filesystem store adds its own symlink check).
"""

from __future__ import annotations

from ark.storage.errors import InvalidKey, StoreConfigError
from ark.storage.interface import StoreLocation


def describe(location: StoreLocation) -> str:
    """How errors name a store: ``provider://bucket/prefix/``."""
    prefix = normalize_prefix(location.prefix)
    return f"{location.provider}://{location.bucket}/{prefix}"


def normalize_prefix(prefix: str) -> str:
    """A store prefix as it is joined to keys: '' or 'a/b/'."""
    stripped = prefix.strip("/")
    if not stripped:
        return ""
    try:
        _check_segments(stripped, store="", what="prefix")
    except InvalidKey as exc:
        raise StoreConfigError("prefix", str(exc)) from None
    return stripped + "/"


def validate(key: str, *, store: str) -> str:
    """``key`` itself, or InvalidKey saying what is wrong with it."""
    if not key:
        raise InvalidKey(f"{store}: empty key")
    if key.startswith("/"):
        raise InvalidKey(f"{store}: key {key!r} is absolute; keys are relative to the store")
    if key.endswith("/"):
        raise InvalidKey(f"{store}: key {key!r} ends in '/'; that names a prefix, not an object")
    _check_segments(key, store=store, what="key")
    return key


def validate_prefix(prefix: str, *, store: str) -> str:
    """A listing prefix: '' or a key-like string that may end in '/' or part-way into a name."""
    if not prefix:
        return prefix
    if prefix.startswith("/"):
        raise InvalidKey(f"{store}: prefix {prefix!r} is absolute; prefixes are relative")
    body = prefix[:-1] if prefix.endswith("/") else prefix
    _check_segments(body, store=store, what="prefix")
    return prefix


def _check_segments(path: str, *, store: str, what: str) -> None:
    label = f"{store}: " if store else ""
    if "\x00" in path:
        raise InvalidKey(f"{label}{what} {path!r} contains a NUL character")
    for segment in path.split("/"):
        if segment in ("", ".", ".."):
            shown = segment or "an empty segment ('//')"
            raise InvalidKey(
                f"{label}{what} {path!r} contains {shown!s}; it could escape the store"
            )


def join(prefix: str, key: str) -> str:
    """The provider object name of ``key`` under a normalized store prefix."""
    return prefix + key


def relative(prefix: str, name: str) -> str:
    """The store-relative key of a provider object name under a normalized store prefix."""
    return name[len(prefix) :] if prefix and name.startswith(prefix) else name
