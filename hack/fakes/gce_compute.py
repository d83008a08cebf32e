"""A local Compute Engine API (v1) for persistent disks and snapshots.

Speaks the REST protocol google-cloud-compute uses with ``transport="rest"`` (paths and fields
from the Compute Engine v1 REST reference for disks, regionDisks, snapshots and the operations
collections), under ``/compute/v1/projects/{project}/``:

- ``zones/{z}/disks`` (POST insert, GET list), ``zones/{z}/disks/{d}`` (GET, DELETE),
  ``zones/{z}/disks/{d}/createSnapshot`` (POST); the same under ``regions/{r}/disks`` for
  regional disks (``replicaZones``: two zones of the region).
- ``global/snapshots`` (GET list), ``global/snapshots/{s}`` (GET, DELETE).
- ``global/images`` (POST insert from ``rawDisk.source``, GET list), ``global/images/{i}`` (GET,
  DELETE), when the fake is given a Cloud Storage endpoint (``storage``: a fake-gcs-server):
  the insert's operation reads the archive from there as GCE does (a gzip'd tar holding
  ``disk.raw`` alone, a whole number of GiB; else the operation ends with an error and the
  image ``FAILED``), the image goes ``PENDING`` → ``READY``, and a disk inserted with
  ``sourceImage`` holds its bytes. Bytes are kept for images and the disks made from them
  (``blocks_of``: the non-zero 512 KiB blocks), for tests to compare.
- ``aggregated/disks`` (GET: zonal and regional disks, ``items`` keyed by ``zones/{z}`` or
  ``regions/{r}``).
- Lists take ``filter``, ``maxResults`` (default and most 500) and ``pageToken``, and answer
  ``items`` and, while more remain, ``nextPageToken``. The filter understood is a subset of the
  AIP-160 form: ``labels.KEY = "VALUE"`` (value quoted or bare), alone or as parenthesized
  terms joined by whitespace or ``AND``; anything else is a 400 ``invalid`` on ``filter``.
- ``zones/{z}/operations/{op}``, ``regions/{r}/operations/{op}``, ``global/operations/{op}``
  (GET, and POST ``…/wait``).

Every mutation answers an Operation (``RUNNING``, later ``DONE``); time passes whenever the
operation or its target is read. Snapshots go ``CREATING`` → ``UPLOADING`` → ``READY``, disks
``CREATING`` → ``READY``. int64 fields (``sizeGb``, ``id``, ``provisionedIops``) are JSON
strings. Errors are Google's ``{"error": {"code", "message", "errors": [{"reason", …}]}}``.

    python -m hack.fakes.gce_compute --port 8091
"""

from __future__ import annotations

import bisect
import itertools
import re
import tarfile
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterable
from typing import Any

from hack.fakes import gce_operations, serving
from hack.fakes.gce_operations import GceError, invalid, link, not_found
from hack.fakes.serving import Request, Response

_AGGREGATED = re.compile(r"^/compute/v1/projects/(?P<project>[^/]+)/aggregated/disks$")
_TERM = r'labels\.(?P<key>[a-z][a-z0-9_-]{0,62})\s*=\s*(?P<q>"?)(?P<value>[a-z0-9_-]{0,63})(?P=q)'
_ONE_TERM = re.compile(rf"^\s*{_TERM}\s*$")
_PAREN_TERM = re.compile(rf"\s*(?P<joined>AND\s+)?\(\s*{_TERM}\s*\)\s*")
MAX_RESULTS = 500
_PATH = re.compile(
    r"^/compute/v1/projects/(?P<project>[^/]+)/(?:(?P<scope>zones|regions)/(?P<where>[^/]+)"
    r"|(?P<global>global))/(?P<collection>disks|snapshots|images|operations)"
    r"(?:/(?P<name>[^/]+))?(?:/(?P<verb>createSnapshot|wait))?$"
)
_NAME = re.compile(r"^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$")
_LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
_ZONE = re.compile(r"^(?P<region>[a-z]+-[a-z]+\d+)-[a-z]$")
ZONAL_TYPES = frozenset(
    {"pd-standard", "pd-balanced", "pd-ssd", "pd-extreme", "hyperdisk-balanced"}
)
REGIONAL_TYPES = frozenset({"pd-standard", "pd-balanced", "pd-ssd"})
IOPS_TYPES = frozenset({"pd-extreme", "hyperdisk-balanced"})
GIB = 1 << 30
BLOCK = 512 * 1024
_STORAGE_URL = re.compile(r"^https://storage\.googleapis\.com/(?P<bucket>[^/]+)/(?P<object>.+)$")


def _relative(ref: str) -> str:
    """A resource reference (full URL, ``projects/…`` or ``zones/…``) without the URL prefix."""
    return ref.split("/compute/v1/", 1)[-1].lstrip("/")


def parse_filter(text: str) -> dict[str, str]:
    """The labels a list ``filter`` asks for (all must match); GceError 400 for any filter
    outside the subset this fake understands."""
    if not text.strip():
        return {}
    if single := _ONE_TERM.match(text):
        return {single["key"]: single["value"]}
    wanted: dict[str, str] = {}
    at = 0
    while at < len(text):
        term = _PAREN_TERM.match(text, at)
        if term is None or (at == 0 and term["joined"]):
            raise invalid("filter", text, "Invalid list filter expression.")
        wanted[term["key"]] = term["value"]
        at = term.end()
    return wanted


def _page(request: Request, keys: list[str]) -> tuple[list[str], str | None]:
    """One page of ``keys`` (sorted) after ``pageToken``, and the next token."""
    raw_max = request.query.get("maxResults") or str(MAX_RESULTS)
    if not raw_max.isdigit() or int(raw_max) > MAX_RESULTS:
        raise invalid("maxResults", raw_max, f"Must be between 0 and {MAX_RESULTS}.")
    size = int(raw_max) or MAX_RESULTS
    token = request.query.get("pageToken") or ""
    start = 0
    if token:
        if not token.startswith("after:"):
            raise invalid("pageToken", token, "Invalid page token.")
        # Past the last key served, so a resource deleted between pages breaks nothing.
        start = bisect.bisect_right(keys, token.removeprefix("after:"))
    page = keys[start : start + size]
    more = start + size < len(keys)
    return page, f"after:{page[-1]}" if more and page else None


def _last(ref: str, collection: str) -> tuple[str, str]:
    """``(scope path, name)`` of a reference ending in ``…/{collection}/{name}``."""
    head, _, name = _relative(ref).rpartition(f"/{collection}/")
    return head, name


class GceCompute:
    """In-memory Compute Engine state plus the request handler (``handle``) serving it."""

    def __init__(
        self,
        *,
        projects: Iterable[str] | None = None,
        snapshot_steps: int = 2,
        storage: str | None = None,
    ) -> None:
        """``projects``: the projects that exist (None: any). A snapshot needs
        ``snapshot_steps`` reads to become READY, a disk one. ``storage``: the Cloud Storage
        endpoint images are read from (None: no images)."""
        self.projects = set(projects) if projects is not None else None
        self.snapshot_steps = snapshot_steps
        self.storage = storage
        self.disks: dict[str, dict[str, Any]] = {}
        self.snapshots: dict[str, dict[str, Any]] = {}
        self.images: dict[str, dict[str, Any]] = {}
        self.data: dict[str, dict[int, bytes]] = {}
        """Image or disk path -> its non-zero 512 KiB blocks (images and disks from them)."""
        self.ops = gce_operations.Operations()
        self.ids = itertools.count(4_000_000_000_000_000_001)
        self.lock = threading.RLock()

    def handle(self, request: Request) -> Response:
        try:
            with self.lock:
                if aggregated := _AGGREGATED.match(request.path):
                    return self._aggregated(request, aggregated["project"])
                return self._dispatch(request)
        except GceError as exc:
            return exc.response()

    def lookup(self, path: str) -> dict[str, Any] | None:
        """A stored disk, snapshot or image by ``projects/…`` path (for tests), advancing
        nothing."""
        with self.lock:
            return self.disks.get(path) or self.snapshots.get(path) or self.images.get(path)

    def blocks_of(self, path: str) -> dict[int, bytes]:
        """The non-zero 512 KiB blocks of an image or of a disk made from one (for tests)."""
        with self.lock:
            return dict(self.data.get(path, {}))

    def _store(self, collection: str) -> dict[str, dict[str, Any]]:
        return {"snapshots": self.snapshots, "images": self.images}.get(collection, self.disks)

    def _matching(
        self, request: Request, store: dict[str, dict[str, Any]], under: str
    ) -> list[str]:
        """Sorted paths in ``store`` below ``under`` whose labels the request's filter asks."""
        wanted = parse_filter(request.query.get("filter") or "")
        return sorted(
            k
            for k, v in store.items()
            if k.startswith(under)
            and all((v.get("labels") or {}).get(key) == value for key, value in wanted.items())
        )

    def _get(self, request: Request, scope: str, collection: str, path: str | None) -> Response:
        """One disk, snapshot or image (``path``), or the collection's list."""
        if path is None:
            return self._list(request, scope, collection)
        found = self._read(path)
        if found is None:
            raise not_found(path)
        return Response(200, found)

    def _list(self, request: Request, scope: str, collection: str) -> Response:
        store = self._store(collection)
        keys, token = _page(request, self._matching(request, store, f"{scope}/{collection}/"))
        body: dict[str, Any] = {
            "kind": f"compute#{collection[:-1]}List",
            "id": f"{scope}/{collection}",
            "items": [r for k in keys if (r := self._read(k)) is not None],
            "selfLink": link(f"{scope}/{collection}"),
        }
        if token:
            body["nextPageToken"] = token
        return Response(200, body)

    def _aggregated(self, request: Request, project: str) -> Response:
        if self.projects is not None and project not in self.projects:
            raise not_found(f"projects/{project}")
        if request.method != "GET":
            raise GceError(405, "badRequest", f"{request.method} {request.path} is not allowed.")
        keys, token = _page(request, self._matching(request, self.disks, f"projects/{project}/"))
        items: dict[str, dict[str, list[Any]]] = {}
        for key in keys:
            disk = self._read(key)
            if disk is None:  # its delete finished as this read advanced it
                continue
            scope = key.split("/disks/", 1)[0].removeprefix(f"projects/{project}/")
            items.setdefault(scope, {"disks": []})["disks"].append(disk)
        body: dict[str, Any] = {
            "kind": "compute#diskAggregatedList",
            "id": f"projects/{project}/aggregated/disks",
            "items": items,
            "selfLink": link(f"projects/{project}/aggregated/disks"),
        }
        if token:
            body["nextPageToken"] = token
        return Response(200, body)

    def _dispatch(self, request: Request) -> Response:
        match = _PATH.match(request.path)
        global_only = match is not None and match["collection"] in ("snapshots", "images")
        if match is None or (global_only and not match["global"]):
            raise GceError(404, "notFound", f"The requested URL {request.path} was not found.")
        project = match["project"]
        if self.projects is not None and project not in self.projects:
            raise not_found(f"projects/{project}")
        if match["scope"] == "zones" and not _ZONE.match(match["where"]):
            raise invalid("zone", match["where"], "Unknown zone.")
        scope = f"projects/{project}/" + (
            "global" if match["global"] else f"{match['scope']}/{match['where']}"
        )
        route = (request.method, match["collection"], match["name"] is not None, match["verb"])
        path = f"{scope}/{match['collection']}/{match['name']}"
        collection = match["collection"]
        store = self._store(collection)
        if route in (("GET", "operations", True, None), ("POST", "operations", True, "wait")):
            return Response(200, self.ops.read(path))
        if route[0] == "GET" and route[3] is None and collection != "operations":
            return self._get(request, scope, collection, path if match["name"] else None)
        if route in (("POST", "disks", False, None), ("POST", "images", False, None)):
            insert = self._insert_disk if collection == "disks" else self._insert_image
            return insert(request, scope)
        if route == ("DELETE", collection, True, None) and collection != "operations":
            return self._delete(store, path)
        if route == ("POST", "disks", True, "createSnapshot"):
            return self._create_snapshot(request, scope, path.removesuffix("/createSnapshot"))
        raise GceError(405, "badRequest", f"{request.method} {request.path} is not allowed.")

    def _read(self, path: str) -> dict[str, Any] | None:
        self.ops.tick(path)
        return self.disks.get(path) or self.snapshots.get(path) or self.images.get(path)

    def _body(self, request: Request) -> dict[str, Any]:
        body = request.body
        if not isinstance(body, dict):
            raise GceError(400, "parseError", "Parse Error")
        name = body.get("name")
        if not name:
            raise GceError(400, "required", "Required field 'resource.name' not specified")
        if not _NAME.match(str(name)):
            raise invalid(
                "resource.name",
                str(name),
                "Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'",
            )
        labels = body.get("labels") or {}
        for key, value in labels.items():
            if not _LABEL_KEY.match(key) or not _LABEL_VALUE.match(str(value)):
                raise invalid(
                    "resource.labels",
                    f"{key}={value}",
                    "Label keys start with a lowercase letter and, like values, contain only "
                    "lowercase letters, digits, underscores and dashes (at most 63).",
                )
        return body

    def _int(self, body: dict[str, Any], key: str) -> int | None:
        value = body.get(key)
        if value is None:
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            raise invalid(f"resource.{key}", str(value), "Must be an integer.") from None

    def _insert_disk(self, request: Request, scope: str) -> Response:
        body = self._body(request)
        path = f"{scope}/disks/{body['name']}"
        if path in self.disks:
            raise GceError(409, "alreadyExists", f"The resource '{path}' already exists")
        disk_type = self._disk_type(body, scope)
        size = self._int(body, "sizeGb")
        iops = self._int(body, "provisionedIops")
        if iops is not None and disk_type not in IOPS_TYPES:
            raise invalid("resource.provisionedIops", str(iops), f"Not settable on {disk_type}.")
        disk: dict[str, Any] = {
            "kind": "compute#disk",
            "id": str(next(self.ids)),
            "name": body["name"],
            "description": body.get("description", ""),
            "labels": body.get("labels") or {},
            "type": link(f"{scope}/diskTypes/{disk_type}"),
            "status": "CREATING",
            "selfLink": link(path),
            "creationTimestamp": gce_operations.now(),
            **self._placement(body, scope),
        }
        if body.get("sourceSnapshot"):
            snap = self._ready(self.snapshots, str(body["sourceSnapshot"]), scope)
            snap_size = int(snap["diskSizeGb"])
            if size is not None and size < snap_size:
                raise invalid("resource.sizeGb", str(size), "Smaller than the snapshot.")
            size = size or snap_size
            disk["sourceSnapshot"] = snap["selfLink"]
            disk["sourceSnapshotId"] = snap["id"]
            if snap.get("snapshotEncryptionKey"):
                disk["diskEncryptionKey"] = snap["snapshotEncryptionKey"]
        if body.get("sourceImage"):
            image = self._ready(self.images, str(body["sourceImage"]), scope)
            image_size = int(image["diskSizeGb"])
            if size is not None and size < image_size:
                raise invalid("resource.sizeGb", str(size), "Smaller than the image.")
            size = size or image_size
            disk["sourceImage"] = image["selfLink"]
            disk["sourceImageId"] = image["id"]
            self.data[path] = dict(self.data.get(_relative(image["selfLink"]), {}))
        if body.get("diskEncryptionKey"):
            disk["diskEncryptionKey"] = body["diskEncryptionKey"]
        disk["sizeGb"] = str(size or 10)
        if iops is not None:
            disk["provisionedIops"] = str(iops)
        self.disks[path] = disk

        def ready() -> None:
            disk["status"] = "READY"

        return self._started(scope, "insert", path, disk["id"], steps=[ready])

    def _disk_type(self, body: dict[str, Any], scope: str) -> str:
        regional = "/regions/" in scope
        if not body.get("type"):
            return "pd-standard"
        type_scope, disk_type = _last(str(body["type"]), "diskTypes")
        project_prefix = "/".join(scope.split("/")[:2]) + "/"
        if type_scope.removeprefix(project_prefix) != scope.removeprefix(project_prefix):
            raise invalid("resource.type", str(body["type"]), "Disk type is in another scope.")
        if disk_type not in (REGIONAL_TYPES if regional else ZONAL_TYPES):
            raise invalid("resource.type", str(body["type"]), "Unknown or unsupported type.")
        return disk_type

    def _placement(self, body: dict[str, Any], scope: str) -> dict[str, Any]:
        """``zone`` of a zonal disk; ``region`` and two ``replicaZones`` of a regional one."""
        if "/regions/" not in scope:
            return {"zone": link(scope)}
        region = scope.rsplit("/", 1)[-1]
        project = scope.split("/")[1]
        zones = [_relative(z).rsplit("/", 1)[-1] for z in body.get("replicaZones") or []]
        in_region = [m for z in zones if (m := _ZONE.match(z)) and m["region"] == region]
        if len(set(zones)) != 2 or len(in_region) != 2:
            raise invalid("resource.replicaZones", str(zones), f"Two distinct zones of {region}.")
        return {
            "region": link(scope),
            "replicaZones": [link(f"projects/{project}/zones/{z}") for z in zones],
        }

    def _ready(self, store: dict[str, dict[str, Any]], ref: str, scope: str) -> dict[str, Any]:
        """The READY snapshot or image ``ref`` names (a URL or a path, in ``scope``'s project)."""
        path = _relative(ref)
        if not path.startswith("projects/"):
            path = "/".join(scope.split("/")[:2]) + "/" + path
        found = store.get(path)
        if found is None:
            raise not_found(path)
        if found["status"] != "READY":
            raise GceError(400, "resourceNotReady", f"The resource '{path}' is not ready")
        return found

    def _insert_image(self, request: Request, scope: str) -> Response:
        body = self._body(request)
        path = f"{scope}/images/{body['name']}"
        if path in self.images:
            raise GceError(409, "alreadyExists", f"The resource '{path}' already exists")
        source = str((body.get("rawDisk") or {}).get("source") or "")
        where = _STORAGE_URL.match(source)
        if self.storage is None or where is None:
            raise invalid(
                "resource.rawDisk.source",
                source,
                "Must be the full Cloud Storage URL (https://storage.googleapis.com/B/O).",
            )
        image: dict[str, Any] = {
            "kind": "compute#image",
            "id": str(next(self.ids)),
            "name": body["name"],
            "description": body.get("description", ""),
            "labels": body.get("labels") or {},
            "sourceType": "RAW",
            "rawDisk": {"source": source, "containerType": "TAR"},
            "status": "PENDING",
            "selfLink": link(path),
            "creationTimestamp": gce_operations.now(),
        }
        self.images[path] = image

        def read() -> None:
            try:
                size, blocks = self._read_archive(where["bucket"], where["object"])
            except GceError:
                image["status"] = "FAILED"
                raise
            image.update(status="READY", diskSizeGb=str(size // GIB), archiveSizeBytes=str(size))
            self.data[path] = blocks

        return self._started(scope, "insert", path, image["id"], steps=[read])

    def _read_archive(self, bucket: str, name: str) -> tuple[int, dict[int, bytes]]:
        """``disk.raw``'s size and non-zero blocks, from the archive in Cloud Storage."""
        url = (
            f"{self.storage}/storage/v1/b/{urllib.parse.quote(bucket, safe='')}/o/"
            f"{urllib.parse.quote(name, safe='')}?alt=media"
        )
        try:
            with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - loopback
                return _raw_disk(tarfile.open(fileobj=response, mode="r|gz"), source=url)
        except (OSError, tarfile.TarError, EOFError) as exc:
            raise GceError(
                400, "invalid", f"Unable to read the raw disk image archive {name}: {exc}"
            ) from None

    def _create_snapshot(self, request: Request, scope: str, disk_path: str) -> Response:
        body = self._body(request)
        disk = self.disks.get(disk_path)
        if disk is None:
            raise not_found(disk_path)
        if disk["status"] != "READY":
            raise GceError(400, "resourceNotReady", f"The resource '{disk_path}' is not ready")
        project = scope.split("/")[1]
        path = f"projects/{project}/global/snapshots/{body['name']}"
        if path in self.snapshots:
            raise GceError(409, "alreadyExists", f"The resource '{path}' already exists")
        locations = body.get("storageLocations") or []
        if len(locations) > 1:
            raise invalid("resource.storageLocations", str(locations), "At most one location.")
        snap: dict[str, Any] = {
            "kind": "compute#snapshot",
            "id": str(next(self.ids)),
            "name": body["name"],
            "description": body.get("description", ""),
            "labels": body.get("labels") or {},
            "status": "CREATING",
            "sourceDisk": link(disk_path),
            "sourceDiskId": disk["id"],
            "diskSizeGb": disk["sizeGb"],
            "storageBytes": "0",
            "storageLocations": locations or [scope.rsplit("/", 1)[-1].rsplit("-", 1)[0]],
            "selfLink": link(path),
            "creationTimestamp": gce_operations.now(),
        }
        if disk.get("diskEncryptionKey"):
            snap["snapshotEncryptionKey"] = disk["diskEncryptionKey"]
        self.snapshots[path] = snap

        def uploading() -> None:
            snap["status"] = "UPLOADING"

        def ready() -> None:
            snap["status"] = "READY"
            snap["storageBytes"] = str(int(disk["sizeGb"]) * 1024**3 // 10)

        steps = [uploading] * (self.snapshot_steps - 1) + [ready]
        return self._started(scope, "createSnapshot", path, snap["id"], steps=steps)

    def _delete(self, store: dict[str, dict[str, Any]], path: str) -> Response:
        found = store.get(path)
        if found is None:
            raise not_found(path)
        found["status"] = "DELETING"
        scope = path.rsplit("/", 2)[0]

        def gone() -> None:
            store.pop(path, None)

        return self._started(scope, "delete", path, found["id"], steps=[gone])

    def _started(
        self, scope: str, kind: str, target: str, target_id: str, *, steps: list[Any]
    ) -> Response:
        op = self.ops.start(scope, kind, target=target, target_id=target_id, steps=steps)
        return Response(200, op)


def _raw_disk(archive: tarfile.TarFile, *, source: str) -> tuple[int, dict[int, bytes]]:
    """GCE's rules for a raw disk archive: one regular file, ``disk.raw``, a whole number of
    GiB."""
    members = iter(archive)
    first = next(members, None)
    if first is None or first.name != "disk.raw" or not first.isfile():
        found = "nothing" if first is None else repr(first.name)
        raise GceError(400, "invalid", f"The archive {source} holds {found}, not disk.raw.")
    if first.size == 0 or first.size % GIB:
        raise GceError(
            400, "invalid", f"disk.raw is {first.size} bytes: not a whole number of GiB."
        )
    stream = archive.extractfile(first)
    assert stream is not None
    blocks: dict[int, bytes] = {}
    for index in range(first.size // BLOCK):
        data = stream.read(BLOCK)
        if len(data) != BLOCK:
            raise GceError(400, "invalid", f"disk.raw ends at block {index}.")
        if data.count(0) != BLOCK:
            blocks[index] = data
    if next(members, None) is not None:
        raise GceError(400, "invalid", f"The archive {source} holds more than disk.raw.")
    return first.size, blocks


def start(**kwargs: Any) -> tuple[GceCompute, serving.Running]:
    """Start a fake on a free loopback port; ``kwargs`` go to ``GceCompute``."""
    fake = GceCompute(**kwargs)
    return fake, serving.start(fake.handle)


if __name__ == "__main__":
    raise SystemExit(serving.main(__doc__ or "", GceCompute().handle))
