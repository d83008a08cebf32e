"""ark's manifest of a backup (a SHA-256 per item) and Velero's resource list.

The manifest is stored twice: inside the tar as ``metadata/ark-manifest.json`` (last entry) and
next to it as ``<name>-manifest.json.gz``. A restore reads the separate object first, so every
item can be checked while the tar streams in. Items are kept in the order they were written.

JSON shape (camelCase like the Kubernetes objects around it; items as rows to stay compact)::

    {"formatVersion": 1, "backupName": "b", "clusterVersion": "v1.34.4",
     "apiVersions": {"deployments.apps": "apps/v1"}, "kinds": {"deployments.apps": "Deployment"},
     "counts": {"deployments.apps": 1}, "totalItems": 1, "totalBytes": 812,
     "itemFields": ["path", "size", "sha256"],
     "items": [["resources/deployments.apps/namespaces/web/front.json", 812, "9f86d0..."]]}
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson

from ark.archive import layout
from ark.archive.errors import CorruptArchive

MANIFEST_FORMAT = 1
_ITEM_FIELDS = ["path", "size", "sha256"]
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class ManifestItem(NamedTuple):
    path: layout.TarPath
    size: int
    sha256: str
    """Lowercase hex digest of the item's bytes."""


@dataclass(frozen=True)
class Manifest:
    backup_name: str
    items: tuple[ManifestItem, ...]
    api_versions: Mapping[str, str] = field(default_factory=dict)
    """Resource dir -> apiVersion it was read with: ``{"deployments.apps": "apps/v1"}``."""
    kinds: Mapping[str, str] = field(default_factory=dict)
    """Resource dir -> kind: ``{"deployments.apps": "Deployment"}``."""
    counts: Mapping[str, int] = field(default_factory=dict)
    """Resource dir -> number of items."""
    cluster_version: str | None = None
    format_version: int = MANIFEST_FORMAT

    @property
    def total_items(self) -> int:
        return len(self.items)

    @property
    def total_bytes(self) -> int:
        return sum(item.size for item in self.items)

    def to_json(self) -> bytes:
        doc = {
            "formatVersion": self.format_version,
            "backupName": self.backup_name,
            "clusterVersion": self.cluster_version,
            "apiVersions": dict(self.api_versions),
            "kinds": dict(self.kinds),
            "counts": dict(self.counts),
            "totalItems": self.total_items,
            "totalBytes": self.total_bytes,
            "itemFields": _ITEM_FIELDS,
            "items": self.items,
        }
        return orjson.dumps(doc, default=_rows)

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        """Parse and check a manifest (it is untrusted input like the archive it describes)."""
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise _bad(f"not JSON ({exc})") from None
        if not isinstance(doc, dict):
            raise _bad("not a JSON object")
        if doc.get("formatVersion") != MANIFEST_FORMAT:
            raise _bad(f"unsupported formatVersion {doc.get('formatVersion')!r}")
        if doc.get("itemFields") != _ITEM_FIELDS:
            raise _bad(f"itemFields must be {_ITEM_FIELDS}")
        backup = doc.get("backupName")
        cluster_version = doc.get("clusterVersion")
        if not isinstance(backup, str) or not isinstance(cluster_version, str | None):
            raise _bad("backupName and clusterVersion must be strings")
        rows = doc.get("items")
        if not isinstance(rows, list):
            raise _bad("items must be a list")
        items = tuple(_item(row) for row in rows)
        manifest = cls(
            backup_name=backup,
            items=items,
            api_versions=_str_map(doc, "apiVersions", str),
            kinds=_str_map(doc, "kinds", str),
            counts=_str_map(doc, "counts", int),
            cluster_version=cluster_version,
        )
        if doc.get("totalItems") != manifest.total_items:
            raise _bad(f"totalItems {doc.get('totalItems')!r} but {len(items)} items listed")
        if doc.get("totalBytes") != manifest.total_bytes:
            raise _bad(
                f"totalBytes {doc.get('totalBytes')!r} but items add up to {manifest.total_bytes}"
            )
        return manifest


def _rows(obj: object) -> object:
    if isinstance(obj, ManifestItem):
        return tuple(obj)
    raise TypeError(f"cannot serialize {type(obj).__name__}")


def _bad(cause: str) -> CorruptArchive:
    return CorruptArchive(None, f"ark manifest: {cause}")


def _item(row: object) -> ManifestItem:
    if not (isinstance(row, list) and len(row) == 3):
        raise _bad(f"item {row!r} is not a [path, size, sha256] row")
    path, size, digest = row
    if not isinstance(path, str) or not isinstance(size, int) or size < 0:
        raise _bad(f"item {row!r} is not a [path, size, sha256] row")
    if not isinstance(digest, str) or not _SHA256_HEX.fullmatch(digest):
        raise _bad(f"item {path!r}: sha256 {digest!r} is not a lowercase hex SHA-256")
    return ManifestItem(layout.TarPath(path), size, digest)


def _str_map(doc: dict[str, Any], key: str, value_type: type) -> dict[str, Any]:
    value = doc.get(key, {})
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, value_type) for k, v in value.items()
    ):
        raise _bad(f"{key} must map strings to {value_type.__name__}")
    return value


def resource_list(manifest: Manifest) -> dict[str, list[str]]:
    """Velero's ``<name>-resource-list.json.gz`` content for an ark backup:
    ``{"apps/v1/Deployment": ["ns/name", ...], "v1/Namespace": ["name"]}``."""
    entries = []
    for item in manifest.items:
        loc = layout.parse_item_path(item.path)
        try:
            api = manifest.api_versions[loc.resource_dir]
            kind = manifest.kinds[loc.resource_dir]
        except KeyError:
            raise _bad(f"item {item.path!r}: no apiVersion/kind for {loc.resource_dir!r}") from None
        entries.append((api, kind, loc.namespace, loc.name))
    return build_resource_list(entries)


def build_resource_list(
    entries: Iterable[tuple[str, str, str | None, str]],
) -> dict[str, list[str]]:
    """From (apiVersion, kind, namespace or None, name): keys and names sorted, as Velero does."""
    out: dict[str, list[str]] = {}
    for api, kind, namespace, name in entries:
        out.setdefault(f"{api}/{kind}", []).append(
            name if namespace is None else f"{namespace}/{name}"
        )
    return {key: sorted(out[key]) for key in sorted(out)}


def gzip_bytes(data: bytes, *, compress_level: int = 6) -> bytes:
    """Deterministic gzip (no mtime, no file name) for the small ``*.json.gz`` objects."""
    return gzip.compress(data, compresslevel=compress_level, mtime=0)


def encode_manifest(manifest: Manifest) -> bytes:
    """The ``<name>-manifest.json.gz`` object."""
    return gzip_bytes(manifest.to_json())


def decode_manifest(data: bytes) -> Manifest:
    try:
        raw = gzip.decompress(data)
    except (OSError, EOFError) as exc:
        raise _bad(f"not gzip ({exc})") from None
    return Manifest.from_json(raw)


def encode_resource_list(listing: Mapping[str, list[str]]) -> bytes:
    """The ``<name>-resource-list.json.gz`` object."""
    return gzip_bytes(orjson.dumps(listing))


def decode_resource_list(data: bytes) -> dict[str, list[str]]:
    try:
        doc = orjson.loads(gzip.decompress(data))
    except (OSError, EOFError, orjson.JSONDecodeError) as exc:
        raise CorruptArchive(None, f"resource list: {exc}") from None
    if not isinstance(doc, dict) or not all(
        isinstance(v, list) and all(isinstance(n, str) for n in v) for v in doc.values()
    ):
        raise CorruptArchive(None, "resource list: not a map of lists of names")
    return doc
