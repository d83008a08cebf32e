"""Where things live inside a backup archive: tar entry paths, and the checks of the names
that become paths. Velero-compatible (see DESIGN.md "Object-store layout"); the object-store
keys of a backup are ``ark.persistence``'s. Everything here is a pure function of names.
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple, NewType

from ark.api import limits
from ark.archive.errors import InvalidName

BackupName = NewType("BackupName", str)
RestoreName = NewType("RestoreName", str)
ResourceDir = NewType("ResourceDir", str)
"""``<resource>.<group>`` (``deployments.apps``) or just ``<resource>`` for the core group."""
TarPath = NewType("TarPath", str)

FORMAT_VERSION = "1.1.0"
"""What Velero writes to ``metadata/version``; ark writes the same so Velero can read ark."""
METADATA_VERSION_PATH = TarPath("metadata/version")
ARK_MANIFEST_PATH = TarPath("metadata/ark-manifest.json")
RESOURCES_ROOT = "resources"
METADATA_ROOT = "metadata"
PREFERRED_VERSION_SUFFIX = "-preferredversion"

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_VERSION = re.compile(r"v[0-9]+((alpha|beta)[0-9]+)?")
_KIND = re.compile(r"[A-Za-z][A-Za-z0-9]*")


def _check_subdomain(what: str, value: str) -> str:
    if not value:
        raise InvalidName(what, value, "must not be empty")
    if len(value) > 253:
        raise InvalidName(what, value, "longer than 253 characters")
    if not limits.DNS1123_SUBDOMAIN.fullmatch(value):
        raise InvalidName(
            what,
            value,
            "must be a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', "
            "starting and ending with a letter or digit",
        )
    return value


def backup_name(value: str) -> BackupName:
    """A validated backup name (DNS-1123 subdomain, like any Kubernetes object name)."""
    return BackupName(_check_subdomain("backup name", value))


def restore_name(value: str) -> RestoreName:
    return RestoreName(_check_subdomain("restore name", value))


@functools.lru_cache(maxsize=4096)
def check_namespace(value: str) -> str:
    if len(value) > 63 or not _DNS1123_LABEL.fullmatch(value):
        raise InvalidName("namespace", value, "must be a DNS-1123 label (at most 63 characters)")
    return value


def check_object_name(value: str) -> str:
    """Object names become one path segment: Kubernetes' path-segment rule plus no NUL."""
    if value in ("", ".", ".."):
        raise InvalidName("object name", value, "must not be empty, '.' or '..'")
    if "/" in value or "%" in value or "\x00" in value:
        raise InvalidName("object name", value, "must not contain '/', '%' or NUL")
    if len(value) > 253:
        raise InvalidName("object name", value, "longer than 253 characters")
    return value


@functools.lru_cache(maxsize=1024)
def check_version(value: str) -> str:
    if not _VERSION.fullmatch(value):
        raise InvalidName("API version", value, "must look like v1, v1beta1 or v2alpha3")
    return value


@functools.lru_cache(maxsize=4096)
def check_kind(value: str) -> str:
    if not _KIND.fullmatch(value):
        raise InvalidName("kind", value, "must be letters and digits, starting with a letter")
    return value


@functools.lru_cache(maxsize=4096)
def resource_dir(resource: str, group: str) -> ResourceDir:
    """``deployments`` + ``apps`` -> ``deployments.apps``; core group (``""``) -> ``pods``."""
    if len(resource) > 63 or not _DNS1123_LABEL.fullmatch(resource):
        raise InvalidName("resource", resource, "must be a lowercase plural like 'deployments'")
    if not group:
        return ResourceDir(resource)
    return ResourceDir(f"{resource}.{_check_subdomain('API group', group)}")


def split_resource_dir(resource_dir: str) -> tuple[str, str]:
    """``deployments.apps`` -> (``deployments``, ``apps``); ``pods`` -> (``pods``, ``""``)."""
    resource, _, group = resource_dir.partition(".")
    return resource, group


def api_version(group: str, version: str) -> str:
    """``apps`` + ``v1`` -> ``apps/v1``; core group -> ``v1``."""
    return f"{group}/{version}" if group else version


def api_group(api_version_: str) -> str:
    """``apps/v1`` -> ``apps``; ``v1`` -> ``""``."""
    group, sep, _ = api_version_.rpartition("/")
    return group if sep else ""


def item_path(resource_dir: ResourceDir, namespace: str | None, name: str) -> TarPath:
    """Where an object lives in the tar; ``namespace`` None means cluster-scoped."""
    if namespace is None:
        return TarPath(f"{RESOURCES_ROOT}/{resource_dir}/cluster/{name}.json")
    return TarPath(f"{RESOURCES_ROOT}/{resource_dir}/namespaces/{namespace}/{name}.json")


def preferred_version_path(
    resource_dir: ResourceDir, version: str, namespace: str | None, name: str
) -> TarPath:
    """Velero's second copy of every item, under ``<version>-preferredversion/``."""
    scope = "cluster" if namespace is None else f"namespaces/{namespace}"
    return TarPath(
        f"{RESOURCES_ROOT}/{resource_dir}/{version}{PREFERRED_VERSION_SUFFIX}/{scope}/{name}.json"
    )


class ItemLocation(NamedTuple):
    """What a ``resources/...`` tar path says about the object stored there (a tuple: one is
    made per item read)."""

    resource_dir: ResourceDir
    namespace: str | None
    name: str
    preferred_version: str | None = None
    """Set for Velero's ``<version>-preferredversion/`` copies (which a restore ignores)."""


_ITEM_PATH = "item path"


def parse_item_path(path: str) -> ItemLocation:
    """Inverse of :func:`item_path` / :func:`preferred_version_path`.

    Raises InvalidName (a ValueError) saying what does not fit the layout.
    """
    folder, _, filename = path.rpartition("/")
    try:
        directory, namespace, preferred = _item_folder(folder)
    except InvalidName as exc:
        if exc.what != _ITEM_PATH:
            raise
        raise InvalidName(_ITEM_PATH, path, exc.reason) from None
    if not filename.endswith(".json"):
        raise InvalidName(_ITEM_PATH, path, "item files must end in .json")
    name = check_object_name(filename.removesuffix(".json"))
    return ItemLocation(directory, namespace, name, preferred)


@functools.lru_cache(maxsize=4096)
def _item_folder(folder: str) -> tuple[ResourceDir, str | None, str | None]:
    """The checked resource dir, namespace and preferred version of an item path's folder
    (the thousands of items in one folder are checked once)."""
    parts = folder.split("/")
    if len(parts) < 3 or parts[0] != RESOURCES_ROOT:
        raise InvalidName(_ITEM_PATH, folder, "expected resources/<resource>/<scope>/<name>.json")
    directory = parts[1]
    resource, group = split_resource_dir(directory)
    resource_dir(resource, group)  # validates both
    rest = parts[2:]
    preferred: str | None = None
    if rest[0].endswith(PREFERRED_VERSION_SUFFIX):
        preferred = check_version(rest[0].removesuffix(PREFERRED_VERSION_SUFFIX))
        rest = rest[1:]
    if rest == ["cluster"]:
        namespace: str | None = None
    elif len(rest) == 2 and rest[0] == "namespaces":
        namespace = check_namespace(rest[1])
    else:
        raise InvalidName(
            _ITEM_PATH,
            folder,
            "expected .../cluster/<name>.json or .../namespaces/<ns>/<name>.json",
        )
    return ResourceDir(directory), namespace, preferred
