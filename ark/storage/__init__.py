"""Object stores: where backups live. The public surface is this module.

    store = storage.open_store(StoreLocation(provider="aws", bucket="b", prefix="cluster-a",
                                             config={"region": "eu-west-1"}, credentials=...))
    with store.open_write("some/key") as out:
        out.write(chunk)

Providers are found through the entry-point group ``ark.object_stores`` (built in: ``fs``,
``aws``/``s3``, ``azure``, ``gcp``); Velero's spelling ``velero.io/aws`` is accepted too. Each
provider module's docstring lists its config keys and credential Secret keys.
"""

from __future__ import annotations

import dataclasses
from importlib.metadata import entry_points

from ark.storage.errors import (
    BucketNotFound,
    InvalidKey,
    ObjectLocked,
    ObjectNotFound,
    RetentionUnsupported,
    StoreAccessDenied,
    StoreConfigError,
    StoreError,
    StoreUnavailable,
)
from ark.storage.interface import (
    DEFAULT_PART_SIZE,
    Listing,
    ObjectInfo,
    ObjectStore,
    Retention,
    RetentionMode,
    StoreLocation,
    Writer,
)

ENTRY_POINT_GROUP = "ark.object_stores"

__all__ = [
    "DEFAULT_PART_SIZE",
    "ENTRY_POINT_GROUP",
    "BucketNotFound",
    "InvalidKey",
    "Listing",
    "ObjectInfo",
    "ObjectLocked",
    "ObjectNotFound",
    "ObjectStore",
    "Retention",
    "RetentionMode",
    "RetentionUnsupported",
    "StoreAccessDenied",
    "StoreConfigError",
    "StoreError",
    "StoreLocation",
    "StoreUnavailable",
    "Writer",
    "open_store",
    "providers",
]


def providers() -> list[str]:
    """The provider names installed in this environment."""
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def open_store(location: StoreLocation) -> ObjectStore:
    """The store ``location`` describes. Raises StoreConfigError for an unknown provider or a
    bad config key; nothing is contacted until the first call (use ``check()`` to probe)."""
    name = location.provider.strip().removeprefix("velero.io/")
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not found:
        raise StoreConfigError(
            "provider",
            f"unknown object-store provider {location.provider!r}; "
            f"installed: {', '.join(providers()) or 'none'}",
        )
    factory = found[0].load()
    store = factory(dataclasses.replace(location, provider=name))
    if not isinstance(store, ObjectStore):
        raise StoreConfigError(
            "provider", f"provider {name!r} ({found[0].value}) did not return an ObjectStore"
        )
    return store
