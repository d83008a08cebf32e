"""Writing a backup's ``<name>.tar.gz`` as a stream, one item at a time, with bounded memory.

    with store.open_write(key) as upload, ArchiveWriter(upload, backup_name=n) as w:
        w.add_item(resource="deployments", group="apps", version="v1", kind="Deployment",
                   namespace="web", name="front", data=orjson.dumps(obj))
    manifest = w.manifest

Items are gzip'd into the sink as they come. Per item, memory holds only a 16-byte fingerprint
of its path (duplicates are refused) and the offset of its manifest row, which is spooled to an
anonymous temp file (``spool_dir``, default: the system's temp dir). Tar headers are
deterministic (mtime 0, uid/gid 0, mode 0644) and so is the gzip header, so the same items in
the same order give the same bytes.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterable
from types import TracebackType
from typing import NamedTuple, Protocol, cast

from ark.archive import layout, tarwrite
from ark.archive.errors import ArchiveError, DuplicateItem, InvalidName, WriterClosed
from ark.archive.manifest import Manifest, Segment, SpooledItems

SINK_CHUNK = 256 * 1024
"""The sink gets writes of about this size (gzip and tar write in much smaller pieces)."""
DEFAULT_COMPRESS_LEVEL = 1
"""zlib level 1: JSON still shrinks ~8x and the backup runs at listing speed (hack/bench)."""
SEGMENT_BYTES = 4 * 1024 * 1024
"""A gzip member ends (and the next starts) at the first entry boundary after this much tar,
and the manifest lists where (``segments``): verify checks members in parallel processes.
Restarting the compressor costs well under 1% of the archive's size."""


class Sink(Protocol):
    """Anything with ``write(bytes)``: a file, an object-store streaming upload."""

    def write(self, data: bytes, /) -> object: ...


class ItemRecord(NamedTuple):
    """What :meth:`ArchiveWriter.add_item` stored (a tuple: one is made per item)."""

    path: layout.TarPath
    resource_dir: layout.ResourceDir
    namespace: str | None
    name: str
    size: int
    sha256: str


class NewItem(NamedTuple):
    """An object for :meth:`ArchiveWriter.add_items`: where it goes and its JSON."""

    namespace: str | None
    name: str
    data: bytes


class _Guard:
    """Buffers small writes into chunks for the sink, until cut off. After an abort nothing more
    reaches the sink, not even a gzip trailer written by a finalizer, so a failed backup never
    looks complete."""

    __slots__ = ("buffer", "open", "sink")

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.open = True
        self.buffer = bytearray()

    def write(self, data: bytes) -> int:
        if self.open:
            self.buffer += data
            if len(self.buffer) >= SINK_CHUNK:
                self.drain()
        return len(data)

    def drain(self) -> None:
        if self.open and self.buffer:
            chunk = bytes(self.buffer)
            self.buffer.clear()
            self.sink.write(chunk)


class ArchiveWriter:
    """A streaming, thread-safe writer of a Velero-compatible backup tarball.

    ``add_item`` may be called from several threads. ``close()`` (or leaving the ``with``
    block normally) writes ``metadata/ark-manifest.json`` and the end of the tar and gzip
    streams and returns the :class:`Manifest`; leaving it with an exception aborts (see
    :meth:`abort`). The sink itself is never closed: committing or aborting an upload is the
    caller's.
    """

    def __init__(
        self,
        sink: Sink,
        *,
        backup_name: str,
        cluster_version: str | None = None,
        preferred_version_copies: bool = False,
        compress_level: int = DEFAULT_COMPRESS_LEVEL,
        spool_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self._backup_name = layout.backup_name(backup_name)
        self._cluster_version = cluster_version
        self._preferred_copies = preferred_version_copies
        self._guard = _Guard(sink)
        self._stream = tarwrite.TarGzStream(self._guard, compress_level=compress_level)
        self._lock = threading.Lock()
        self._items = SpooledItems(spool_dir=spool_dir)
        self._paths: set[int] = set()  # fingerprints of the paths written
        self._api_versions: dict[str, str] = {}
        self._kinds: dict[str, str] = {}
        self._counts: dict[str, int] = {}
        self._segments: list[Segment] = []  # after the first (at 0, 0, 0)
        self._manifest: Manifest | None = None
        self._failed: str | None = None
        with self._lock:
            self._write(layout.METADATA_VERSION_PATH, [f"{layout.FORMAT_VERSION}\n".encode()])

    @property
    def manifest(self) -> Manifest:
        """The manifest, once the archive is closed."""
        if self._manifest is None:
            raise WriterClosed(f"backup {self._backup_name}: archive not closed yet")
        return self._manifest

    def add_item(
        self,
        *,
        resource: str,
        group: str,
        version: str,
        kind: str,
        namespace: str | None,
        name: str,
        data: bytes,
    ) -> ItemRecord:
        """Store one object's JSON (``data``, written as given) at its Velero path.

        ``namespace`` None means cluster-scoped. Raises DuplicateItem for an object already
        added, InvalidName for a name that cannot be a path, WriterClosed after close/abort.
        """
        (outcome,) = self.add_items(
            resource=resource,
            group=group,
            version=version,
            kind=kind,
            items=((namespace, name, data),),
        )
        if isinstance(outcome, ArchiveError):
            raise outcome
        return outcome

    def add_items(
        self,
        *,
        resource: str,
        group: str,
        version: str,
        kind: str,
        items: Iterable[NewItem | tuple[str | None, str, bytes]],
    ) -> list[ItemRecord | DuplicateItem | InvalidName]:
        """:meth:`add_item` for objects of one resource at once (a page of a LIST): the
        resource is checked once and the lock taken once.

        Returns, in order, each item's record, or the DuplicateItem or InvalidName that
        refused it (the others are still added). Raises InvalidName when the resource, group,
        version or kind cannot be a path (nothing is added), WriterClosed after close/abort.
        """
        layout.check_version(version)
        layout.check_kind(kind)
        resource_dir = layout.resource_dir(resource, group)
        api = layout.api_version(group, version)
        outcomes: list[ItemRecord | DuplicateItem | InvalidName | None] = []
        ready: list[tuple[int, str | None, str, bytes, layout.TarPath, int, bytes, bytes]] = []
        for namespace, name, data in items:  # hashing and headers outside the lock
            try:
                path = _item_path_in(resource_dir, namespace, name)
            except InvalidName as exc:
                outcomes.append(exc)
                continue
            digest = hashlib.sha256(data).digest()
            head = tarwrite.header(path, len(data))
            ready.append(
                (len(outcomes), namespace, name, data, path, _fingerprint(path), digest, head)
            )
            outcomes.append(None)
        with self._lock:
            self._check_open()
            if self._kinds.get(resource_dir) != kind or self._api_versions.get(resource_dir) != api:
                self._check_consistent(resource_dir, api, kind)
            paths, stream, spool = self._paths, self._stream, self._items
            written = 0
            for index, namespace, name, data, path, key, digest, head in ready:
                if key in paths:
                    outcomes[index] = DuplicateItem(path)
                    continue
                paths.add(key)
                try:
                    stream.add_one(head, data)
                    if self._preferred_copies:
                        copy = layout.preferred_version_path(resource_dir, version, namespace, name)
                        stream.add(tarwrite.header(copy, len(data)), (data,))
                except BaseException as exc:
                    self._cut_off(f"failed writing {path!r}: {exc!r}")
                    raise
                spool.append(path, len(data), digest)
                if stream.member_bytes >= SEGMENT_BYTES:
                    self._cut_segment()
                outcomes[index] = ItemRecord(
                    path, resource_dir, namespace, name, len(data), digest.hex()
                )
                written += 1
            self._counts[resource_dir] = self._counts.get(resource_dir, 0) + written
        return cast("list[ItemRecord | DuplicateItem | InvalidName]", outcomes)  # all set now

    def has_item(self, *, resource: str, group: str, namespace: str | None, name: str) -> bool:
        """Whether that object was added (False for a name that cannot be a path)."""
        try:
            key = _fingerprint(_item_path_in(layout.resource_dir(resource, group), namespace, name))
        except InvalidName:
            return False
        with self._lock:
            return key in self._paths

    def close(self) -> Manifest:
        """Finish the archive; returns the manifest (idempotent)."""
        with self._lock:
            if self._manifest is not None:
                return self._manifest
            self._check_open()
            manifest = Manifest(
                backup_name=self._backup_name,
                items=self._items,
                api_versions=dict(sorted(self._api_versions.items())),
                kinds=dict(sorted(self._kinds.items())),
                counts=dict(sorted(self._counts.items())),
                cluster_version=self._cluster_version,
                segments=(Segment(0, 0, 0), *self._segments) if self._segments else (),
            )
            self._items.flush()
            self._paths = set()
            # Two passes over the spooled rows: the tar header needs the size first.
            size = sum(len(chunk) for chunk in manifest.json_chunks())
            self._write(
                layout.ARK_MANIFEST_PATH,
                manifest.json_chunks(),
                head=tarwrite.header(layout.ARK_MANIFEST_PATH, size),
            )
            try:
                self._stream.finish()
                self._guard.drain()
            except BaseException as exc:
                self._cut_off(f"failed while finishing: {exc!r}")
                raise
            self._manifest = manifest
            return manifest

    def abort(self, reason: str = "aborted") -> None:
        """Stop writing: nothing more reaches the sink, so the tar.gz stays visibly incomplete
        (no end-of-archive, no gzip trailer). Safe to call more than once."""
        with self._lock:
            if self._manifest is None:
                self._cut_off(reason)

    def __enter__(self) -> ArchiveWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None:
            self.abort(f"aborted by {exc!r}")
        else:
            self.close()

    # -- internals (called with the lock held) --

    def _check_open(self) -> None:
        if self._failed is not None:
            raise WriterClosed(f"backup {self._backup_name}: archive {self._failed}")
        if self._manifest is not None:
            raise WriterClosed(f"backup {self._backup_name}: archive already closed")

    def _check_consistent(self, resource_dir: str, api: str, kind: str) -> None:
        known_api = self._api_versions.setdefault(resource_dir, api)
        known_kind = self._kinds.setdefault(resource_dir, kind)
        if (known_api, known_kind) != (api, kind):
            raise ArchiveError(
                f"backup {self._backup_name}: items of {resource_dir!r} must share one "
                f"apiVersion and kind; got {api}/{kind} after {known_api}/{known_kind}"
            )

    def _cut_segment(self) -> None:
        try:
            archive_offset = self._stream.cut()
        except BaseException as exc:
            self._cut_off(f"failed ending a gzip member: {exc!r}")
            raise
        self._segments.append(Segment(archive_offset, self._stream.tar_offset, len(self._items)))

    def _write(self, path: str, parts: Iterable[bytes], *, head: bytes | None = None) -> None:
        """One tar member of the ``parts`` joined; ``head`` is its header, needed when the
        parts are a stream (or built outside the lock); else made from a list's sizes."""
        try:
            if head is None:
                parts = list(parts)
                head = tarwrite.header(path, sum(len(part) for part in parts))
            self._stream.add(head, parts)
        except BaseException as exc:
            self._cut_off(f"failed writing {path!r}: {exc!r}")
            raise

    def _cut_off(self, reason: str) -> None:
        self._guard.open = False
        self._guard.buffer = bytearray()
        self._failed = self._failed or reason
        self._items.close()
        self._paths = set()


def _item_path_in(
    resource_dir: layout.ResourceDir, namespace: str | None, name: str
) -> layout.TarPath:
    if namespace is not None:
        layout.check_namespace(namespace)
    layout.check_object_name(name)
    return layout.item_path(resource_dir, namespace, name)


def _fingerprint(path: str) -> int:
    """128 bits of BLAKE2b: a collision among even a billion paths has odds of about 1e-21,
    far below those of the hardware failing, so equal fingerprints are taken as equal paths."""
    return int.from_bytes(hashlib.blake2b(path.encode(), digest_size=16).digest())
