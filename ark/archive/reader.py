"""Reading a backup for restore, in two phases, so a bad archive is refused before any write.

1. :func:`spool` streams the ``.tar.gz`` once: every entry is checked (see ``tarread``), every
   object is parsed and checked against its path and, when ark's manifest is given, against its
   SHA-256; the bytes go to one local spool file and a compact :class:`ArchiveIndex` is built.
2. The restore plans from the index and reads objects back with :meth:`ArchiveIndex.read`.

Velero's ``<version>-preferredversion/`` copies are accepted and skipped (the unversioned path
is the one a restore reads). Velero backups carry no checksums: ``ArchiveIndex.verified`` says
whether items were checked against a manifest.
"""

from __future__ import annotations

import array
import bisect
import hashlib
import io
import itertools
import os
import struct
import sys
import tempfile
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, NamedTuple, cast, overload

import orjson

from ark.archive import layout
from ark.archive.errors import ArchiveError, CorruptArchive, HostileArchive, InvalidName
from ark.archive.manifest import ItemTable, Manifest
from ark.archive.tarread import Entry, Limits, TarStream

_LOC = struct.Struct("<QI32s")  # offset in the spool file, size, sha256 digest
_MAX_VERSION_BYTES = 64
_CHECKED_MAX = 1024
"""Label sets and owner lists a check (verify) remembers as checked, at most: objects whose
labels all differ (a StatefulSet's pods) would otherwise keep about 1 KiB each in memory, where
a check keeps nothing else of an item but its resource-list entry. A spool keeps them all (its
index holds each item's labels and owners anyway)."""


class OwnerRef(NamedTuple):
    kind: str
    name: str
    controller: bool


class IndexedItem:
    """One object of the archive: where it is, what it is, and what a restore plans with.

    Made from the index's columns when it is read (the index keeps no object per item).
    ``namespace`` is None for cluster-scoped objects.
    """

    __slots__ = (
        "_labels",
        "_loc",
        "api_version",
        "kind",
        "name",
        "namespace",
        "owners",
        "resource_dir",
    )

    def __init__(self, meta: _Meta, name: str, loc: bytes) -> None:
        self.resource_dir, self.namespace, self.api_version, self.kind, labels, owners = meta
        self.name = name
        self._labels = labels
        self.owners = owners
        self._loc = loc

    @property
    def resource(self) -> str:
        return layout.split_resource_dir(self.resource_dir)[0]

    @property
    def group(self) -> str:
        return layout.split_resource_dir(self.resource_dir)[1]

    @property
    def labels(self) -> dict[str, str]:
        return dict(self._labels)

    @property
    def label_pairs(self) -> tuple[tuple[str, str], ...]:
        """The labels as sorted (key, value) pairs: one tuple shared by every item with the same
        labels, where :attr:`labels` makes a dict (about 180 bytes) each time."""
        return self._labels

    @property
    def path(self) -> layout.TarPath:
        return layout.item_path(self.resource_dir, self.namespace, self.name)

    @property
    def offset(self) -> int:
        return int(_LOC.unpack(self._loc)[0])

    @property
    def size(self) -> int:
        return int(_LOC.unpack(self._loc)[1])

    @property
    def sha256(self) -> str:
        """Hex digest of the object's bytes."""
        return bytes(_LOC.unpack(self._loc)[2]).hex()

    @property
    def key(self) -> tuple[str, str, str]:
        """(resource dir, namespace or "", name): the index's sort order."""
        return (self.resource_dir, self.namespace or "", self.name)

    def __repr__(self) -> str:
        return f"<IndexedItem {self.path} {self.api_version}/{self.kind}>"


_Meta = tuple[
    layout.ResourceDir,
    str | None,
    str,
    str,
    tuple[tuple[str, str], ...],
    tuple["OwnerRef", ...],
]
"""What many items share: resource dir, namespace, apiVersion, kind, labels, owners."""


class _Table(Sequence["IndexedItem"]):
    """The items as columns: each item's name, the number of its shared :data:`_Meta`, and its
    place in the spool with its digest packed (``_LOC``). About 120 bytes an item where an
    object per item cost 250 (100,000 items: 12 MB against 25); an item is made as it is
    read."""

    __slots__ = ("_locs", "_meta_ids", "_metas", "_names", "_numbering")

    def __init__(self) -> None:
        self._names: list[str] = []
        self._meta_ids = array.array("I")
        self._metas: list[_Meta] = []
        self._locs = bytearray()
        self._numbering: dict[Hashable, int] | None = {}  # while items are added

    def append(self, meta: _Meta, name: str, loc: bytes, key: Hashable) -> None:
        """Add an item; ``key`` identifies ``meta`` (and is cheaper to hash than its nested
        tuples)."""
        assert self._numbering is not None, "a sorted table is not added to"
        number = self._numbering.get(key)
        if number is None:
            number = self._numbering[key] = len(self._metas)
            self._metas.append(meta)
        self._names.append(name)
        self._meta_ids.append(number)
        self._locs += loc

    def __len__(self) -> int:
        return len(self._names)

    @overload
    def __getitem__(self, at: int) -> IndexedItem: ...
    @overload
    def __getitem__(self, at: slice) -> list[IndexedItem]: ...
    def __getitem__(self, at: int | slice) -> IndexedItem | list[IndexedItem]:
        if isinstance(at, slice):
            return [self[i] for i in range(*at.indices(len(self)))]
        at = range(len(self._names))[at]  # bounds, negative indices
        start = at * _LOC.size
        loc = bytes(self._locs[start : start + _LOC.size])
        return IndexedItem(self._metas[self._meta_ids[at]], self._names[at], loc)

    def __iter__(self) -> Iterator[IndexedItem]:
        return map(self.__getitem__, range(len(self._names)))

    def key(self, at: int) -> tuple[str, str, str]:
        """Item ``at``'s (resource dir, namespace or "", name): the index's order."""
        meta = self._metas[self._meta_ids[at]]
        return (meta[0], meta[1] or "", self._names[at])

    def resource_dir(self, at: int) -> str:
        return self._metas[self._meta_ids[at]][0]

    def metas(self) -> Sequence[_Meta]:
        """What the items share, each once, in the order first seen."""
        return self._metas

    def having(self, wanted: Callable[[_Meta], bool]) -> Iterator[IndexedItem]:
        """The items whose shared part ``wanted`` takes, in order (the others are not made)."""
        chosen = {n for n, meta in enumerate(self._metas) if wanted(meta)}
        if not chosen:
            return iter(())
        return (self[at] for at, n in enumerate(self._meta_ids) if n in chosen)

    def sizes(self) -> Iterator[int]:
        return (int(v[1]) for v in _LOC.iter_unpack(self._locs))

    def find(self, key: tuple[str, str, str]) -> int | None:
        """Where the item with ``key`` is in a sorted table, or None."""
        keys = _Keys(self)
        at = bisect.bisect_left(keys, key)
        return at if at < len(self) and keys[at] == key else None

    def in_order(self, positions: Sequence[int] | None = None) -> bool:
        order = range(len(self)) if positions is None else positions
        return all(self.key(a) <= self.key(b) for a, b in itertools.pairwise(order))

    def sort(self) -> None:
        """Put the items in the index's order. An archive holds each kind's objects in that
        order already, one kind after another (as the API server lists them): then the kinds
        are put in order as whole runs, and no sort key is made per item (100,000 key tuples
        would cost more memory than the index)."""
        self._numbering = None
        if self.in_order():
            return
        runs: dict[str, list[range]] = {}
        start = 0
        for at in range(1, len(self) + 1):
            if at == len(self) or self.resource_dir(at) != self.resource_dir(start):
                runs.setdefault(self.resource_dir(start), []).append(range(start, at))
                start = at
        order: list[Iterable[int]] = []
        for resource_dir in sorted(runs):
            pieces = runs.pop(resource_dir)
            if len(pieces) == 1 and self.in_order(pieces[0]):
                order.append(pieces[0])
            else:  # a kind out of order, or in pieces: sorted by its keys
                order.append(sorted(itertools.chain.from_iterable(pieces), key=self.key))
        self._permute(itertools.chain.from_iterable(order))

    def _permute(self, order: Iterable[int]) -> None:
        size = _LOC.size
        names: list[str] = []
        meta_ids = array.array("I")
        locs = bytearray(len(self._locs))
        old = memoryview(self._locs)
        to = 0
        for at in order:
            names.append(self._names[at])
            meta_ids.append(self._meta_ids[at])
            locs[to : to + size] = old[at * size : at * size + size]
            to += size
        old.release()
        self._names, self._meta_ids, self._locs = names, meta_ids, locs


class _Keys(Sequence[tuple[str, str, str]]):
    """A sorted table's keys, each made when asked for (for bisect)."""

    __slots__ = ("_table",)

    def __init__(self, table: _Table) -> None:
        self._table = table

    def __len__(self) -> int:
        return len(self._table)

    @overload
    def __getitem__(self, at: int) -> tuple[str, str, str]: ...
    @overload
    def __getitem__(self, at: slice) -> list[tuple[str, str, str]]: ...
    def __getitem__(self, at: int | slice) -> tuple[str, str, str] | list[tuple[str, str, str]]:
        if isinstance(at, slice):
            return [self._table.key(i) for i in range(*at.indices(len(self)))]
        return self._table.key(at)


class ArchiveIndex:
    """The spooled archive: items sorted by (resource dir, namespace, name), readable by any
    number of threads. Close it (or use ``with``) to free the spool file."""

    def __init__(
        self,
        *,
        spool: io.RawIOBase,
        items: _Table,
        verified: bool,
        format_version: str,
    ) -> None:
        self._spool = spool
        self._fd = spool.fileno()
        self._items = items
        self.verified = verified
        """True when every item matched ark's manifest; False for archives without one."""
        self.format_version = format_version
        """The archive's ``metadata/version`` (``1.1.0``)."""

    @property
    def items(self) -> Sequence[IndexedItem]:
        return self._items

    @property
    def total_bytes(self) -> int:
        return sum(self._items.sizes())

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[IndexedItem]:
        return iter(self._items)

    def resource_dirs(self) -> list[layout.ResourceDir]:
        """The distinct resource dirs present, sorted."""
        return sorted({meta[0] for meta in self._items.metas()})

    def kinds(self) -> list[tuple[layout.ResourceDir, str]]:
        """Each (resource dir, kind) the items are of, once."""
        return list(dict.fromkeys((meta[0], meta[3]) for meta in self._items.metas()))

    def of_resource(self, resource_dir: str) -> Iterator[IndexedItem]:
        """The items of one resource dir."""
        return self._items.having(lambda meta: meta[0] == resource_dir)

    def with_owners(self) -> Iterator[IndexedItem]:
        """The items with owner references."""
        return self._items.having(lambda meta: bool(meta[5]))

    def get(self, resource_dir: str, namespace: str | None, name: str) -> IndexedItem | None:
        at = self._items.find((resource_dir, namespace or "", name))
        return None if at is None else self._items[at]

    def read(self, item: IndexedItem) -> bytes:
        """The object's bytes, checked again against the digest taken (and, when ``verified``,
        compared with the manifest) while spooling."""
        offset, size, digest = _LOC.unpack(item._loc)
        if self._spool.closed:
            raise ArchiveError("archive index is closed")
        data = os.pread(self._fd, size, offset)
        if len(data) != size or hashlib.sha256(data).digest() != digest:
            raise CorruptArchive(item.path, "spool copy changed after it was checked")
        return data

    def load(self, item: IndexedItem) -> dict[str, Any]:
        """The object, parsed."""
        obj: dict[str, Any] = orjson.loads(self.read(item))
        return obj

    def close(self) -> None:
        self._spool.close()

    def __enter__(self) -> ArchiveIndex:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def spool(
    src: BinaryIO,
    *,
    spool_dir: str | os.PathLike[str],
    manifest: Manifest | None = None,
    limits: Limits = Limits(),  # noqa: B008 (frozen, so sharing the default is safe)
) -> ArchiveIndex:
    """Check the whole ``.tar.gz`` from ``src`` and copy its objects to a spool file in
    ``spool_dir`` (unlinked at once, so nothing is left behind). Raises HostileArchive or
    CorruptArchive, naming the entry and the cause, for anything a restore must not use."""
    fd, name = tempfile.mkstemp(prefix="ark-spool-", suffix=".items", dir=spool_dir)
    Path(name).unlink()
    out = os.fdopen(fd, "w+b", buffering=1024 * 1024)
    try:
        items, format_version = _Spooler(out, manifest, limits).run(src)
    except BaseException:
        out.close()
        raise
    return ArchiveIndex(
        spool=_unbuffered(out),
        items=items,
        verified=manifest is not None,
        format_version=format_version,
    )


def rebuild(
    objects: Iterable[tuple[str, str | None, str, bytes]],
    *,
    spool_dir: str | os.PathLike[str],
    format_version: str = layout.FORMAT_VERSION,
    limits: Limits = Limits(),  # noqa: B008 (frozen, so sharing the default is safe)
) -> ArchiveIndex:
    """An index of objects given one by one as (resource dir, namespace or None, name, JSON
    bytes): a backup's items with a change log replayed over them. Each is checked as
    :func:`spool` checks an archive's (its path, its kind and place, its size); the index is
    not ``verified`` (no manifest covers the objects that came from elsewhere)."""
    fd, name = tempfile.mkstemp(prefix="ark-spool-", suffix=".items", dir=spool_dir)
    Path(name).unlink()
    out = os.fdopen(fd, "w+b", buffering=1024 * 1024)
    try:
        spooler = _Spooler(out, None, limits)
        for resource_dir, namespace, item_name, data in objects:
            spooler.add(resource_dir, namespace, item_name, data)
        items = spooler.sorted_items()
    except BaseException:
        out.close()
        raise
    return ArchiveIndex(
        spool=_unbuffered(out), items=items, verified=False, format_version=format_version
    )


def _unbuffered(out: BinaryIO) -> io.RawIOBase:
    """The spool file written in full, without its write buffer (1 MiB for as long as the
    restore runs; the index reads with ``os.pread``)."""
    out.flush()
    raw = cast(io.BufferedRandom, out).detach()
    assert isinstance(raw, io.RawIOBase)
    return raw


def read_metadata_version(src: BinaryIO, *, limits: Limits = Limits()) -> str:  # noqa: B008
    """The archive's ``metadata/version`` (stops reading as soon as it is found)."""
    for entry in TarStream(src, limits=limits):
        if entry.path == layout.METADATA_VERSION_PATH:
            return _version_text(entry)
    raise CorruptArchive(layout.METADATA_VERSION_PATH, "missing: not a Velero or ark backup")


def _version_text(entry: Entry) -> str:
    """The text of ``metadata/version``, its size checked before it is read."""
    if entry.size > _MAX_VERSION_BYTES:
        raise HostileArchive(entry.path, f"{entry.size} bytes, expected a short version string")
    try:
        return entry.read().decode("ascii").strip()
    except UnicodeDecodeError:
        raise CorruptArchive(entry.path, "not ASCII text") from None


@dataclass(frozen=True)
class CheckedArchive:
    """What :func:`check` found in an archive that passed every check."""

    items: int
    """Objects read (Velero's preferred-version copies aside)."""
    total_bytes: int
    resource_list: dict[str, list[str]]
    """The objects as Velero's resource list names them (see :func:`build_resource_list`)."""
    verified: bool
    """True when every item matched ark's manifest."""
    format_version: str
    workers: int = 0
    """Worker processes that checked segments of the archive (see ``checkpool``)."""
    workers_peak_rss: int = 0
    """The sum of their peak resident set sizes, in bytes."""


def check(
    src: BinaryIO,
    *,
    manifest: Manifest | None = None,
    limits: Limits = Limits(),  # noqa: B008 (frozen, so sharing the default is safe)
) -> CheckedArchive:
    """:func:`spool`'s checks (every entry, every object parsed and, with ``manifest``, its
    SHA-256 and the manifest's order and completeness), without keeping the objects' bytes:
    memory holds one object at a time and an entry of the resource list per item."""
    return _Checker(manifest, limits).run(src)


class _Spooler:
    _remember = sys.maxsize
    """Label sets and owner lists kept as checked, at most."""

    def __init__(self, out: BinaryIO | None, manifest: Manifest | None, limits: Limits) -> None:
        self._out = out
        self._limits = limits
        self._expected: ItemTable | None = manifest.compact_items if manifest else None
        self._next_expected = 0
        self._items = _Table()
        self._added = 0
        self._offset = 0
        self._label_sets: dict[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]] = {}
        """Label pairs as an object lists them -> the checked, sorted pairs (one tuple each)."""
        self._owner_sets: dict[tuple[tuple[str, str, bool], ...], tuple[OwnerRef, ...]] = {}
        """(kind, name, controller) of an object's owner references -> the checked refs."""
        self._kinds: dict[tuple[str, str, str], tuple[str, str]] = {}
        """(resource dir, apiVersion, kind) whose group was found to match -> the interned
        apiVersion and kind."""

    def run(self, src: BinaryIO) -> tuple[_Table, str]:
        version = self._read(src)
        return self.sorted_items(), version

    def _read(self, src: BinaryIO) -> str:
        """Every entry checked, every item added; the archive's format version."""
        return _found_version(self._walk(src))

    def _walk(self, src: BinaryIO, segment: tuple[int, int] | None = None) -> str | None:
        """Every entry of ``src`` (the archive, or a segment of it: see ``TarStream``)
        checked, every item added, every manifest row expected found; the format version if
        ``metadata/version`` was there (checked)."""
        version: str | None = None
        for entry in TarStream(src, limits=self._limits, segment=segment):
            if entry.path.startswith(layout.METADATA_ROOT + "/"):
                version = self._metadata(entry) or version
                continue
            try:
                loc = layout.parse_item_path(entry.path)
            except InvalidName as exc:
                raise HostileArchive(entry.path, f"not a valid item path ({exc.reason})") from None
            if entry.size > self._limits.max_item_bytes:
                raise HostileArchive(
                    entry.path, f"{entry.size} bytes (limit {self._limits.max_item_bytes})"
                )
            if loc.preferred_version is not None:
                continue
            if self._added >= self._limits.max_items:
                raise HostileArchive(entry.path, f"more than {self._limits.max_items} items")
            self._add(entry.path, loc, entry.read())
        if version is not None and version.split(".")[0] != layout.FORMAT_VERSION.split(".")[0]:
            raise CorruptArchive(
                layout.METADATA_VERSION_PATH, f"unsupported format version {version!r}"
            )
        if self._expected is not None and self._next_expected < len(self._expected):
            missing = self._expected.path(self._next_expected)
            raise CorruptArchive(missing, "listed in the ark manifest but missing from the archive")
        return version

    def sorted_items(self) -> _Table:
        items = self._items
        items.sort()
        before = items.key(0) if items else None
        for at in range(1, len(items)):
            key = items.key(at)
            if key == before:
                raise HostileArchive(items[at].path, "stored twice (which copy would be restored?)")
            before = key
        return items

    def add(self, resource_dir: str, namespace: str | None, name: str, data: bytes) -> None:
        """One object given by its place, checked as an archive's entry is."""
        path = layout.item_path(layout.ResourceDir(resource_dir), namespace, name)
        try:
            loc = layout.parse_item_path(path)
        except InvalidName as exc:
            raise HostileArchive(path, f"not a valid item path ({exc.reason})") from None
        if len(data) > self._limits.max_item_bytes:
            raise HostileArchive(path, f"{len(data)} bytes (limit {self._limits.max_item_bytes})")
        if self._added >= self._limits.max_items:
            raise HostileArchive(path, f"more than {self._limits.max_items} items")
        self._add(path, loc, data)

    @staticmethod
    def _metadata(entry: Entry) -> str | None:
        """The format version from ``metadata/version``; other metadata (ark's copy of the
        manifest) is not needed here."""
        if entry.path.count("/") != 1:
            raise HostileArchive(entry.path, "metadata/ holds files only, no folders")
        if entry.path == layout.METADATA_VERSION_PATH:
            return _version_text(entry)
        return None

    def _add(self, path: str, loc: layout.ItemLocation, data: bytes) -> None:
        size = len(data)
        digest = hashlib.sha256(data).digest()
        expected = self._expected
        if expected is not None:
            at = self._next_expected
            if (
                at < len(expected)
                and expected.path(at) == path
                and expected.size(at) == size
                and expected.digest(at) == digest
            ):
                self._next_expected = at + 1
            else:
                self._unexpected(path, size, digest)
        api, kind, labels, owners = self._describe(path, loc, data)
        self._added += 1
        self._keep(loc, data, digest, (loc.resource_dir, loc.namespace, api, kind, labels, owners))

    def _keep(self, loc: layout.ItemLocation, data: bytes, digest: bytes, meta: _Meta) -> None:
        """A checked item into the spool and the index."""
        if self._out is not None:
            self._out.write(data)
        key = (*meta[:4], id(meta[4]), id(meta[5]))  # the label and owner tuples are shared
        self._items.append(meta, loc.name, _LOC.pack(self._offset, len(data), digest), key)
        self._offset += len(data)

    def _unexpected(self, path: str, size: int, digest: bytes) -> None:
        """Raise what is wrong with an item that is not the manifest's next one. Items arrive
        in the order the manifest lists them (both are written under one lock)."""
        expected = self._expected
        assert expected is not None
        at = self._next_expected
        if at >= len(expected) or expected.path(at) != path:
            if path in {expected.path(i) for i in range(at, len(expected))}:
                raise CorruptArchive(
                    expected.path(at), "listed in the ark manifest but missing from the archive"
                )
            raise HostileArchive(path, "not in the ark manifest (or stored twice)")
        raise CorruptArchive(
            path,
            f"checksum mismatch: the manifest says {expected.size(at)} bytes with sha256 "
            f"{expected.digest(at).hex()}, the archive has {size} bytes with sha256 "
            f"{digest.hex()}",
        )

    def _describe(
        self, path: str, loc: layout.ItemLocation, data: bytes
    ) -> tuple[str, str, tuple[tuple[str, str], ...], tuple[OwnerRef, ...]]:
        """Parse the object and keep only what a restore plans with."""
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise CorruptArchive(path, f"invalid JSON ({exc})") from None
        if not isinstance(obj, dict):
            raise CorruptArchive(path, "not a JSON object")
        api, kind, meta = obj.get("apiVersion"), obj.get("kind"), obj.get("metadata")
        if not (isinstance(api, str) and api and isinstance(kind, str) and kind):
            raise CorruptArchive(path, "not a Kubernetes object: no apiVersion or kind")
        if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
            raise CorruptArchive(path, "not a Kubernetes object: no metadata.name")
        if meta["name"] != loc.name:
            raise HostileArchive(path, f"holds an object named {meta['name']!r}, not {loc.name!r}")
        namespace = meta.get("namespace") or None
        if namespace != loc.namespace:
            where = f"namespace {loc.namespace!r}" if loc.namespace else "cluster scope"
            raise HostileArchive(path, f"holds an object of namespace {namespace!r}, not {where}")
        interned = self._kinds.get((loc.resource_dir, api, kind))
        if interned is None:
            group = layout.split_resource_dir(loc.resource_dir)[1]
            if layout.api_group(api) != group:
                raise HostileArchive(
                    path, f"holds a {api} {kind}, not an object of group {group!r}"
                )
            interned = self._kinds[(loc.resource_dir, api, kind)] = (
                sys.intern(api),
                sys.intern(kind),
            )
        labels, refs = meta.get("labels"), meta.get("ownerReferences")
        return (
            interned[0],
            interned[1],
            self._labels(path, labels) if labels else (),
            self._owners(path, refs) if refs else (),
        )

    def _labels(self, path: str, labels: Any) -> tuple[tuple[str, str], ...]:
        if not isinstance(labels, dict):
            raise CorruptArchive(path, "metadata.labels is not a map of strings")
        listed = tuple(labels.items())  # the objects of a kind list their labels in one order
        try:
            shared = self._label_sets.get(listed)
        except TypeError:  # an unhashable value: not a string
            shared = None
        if shared is not None:  # equal to checked strings, so strings
            return shared
        pairs = tuple(sorted(listed))  # the same (key, value) tuples as ``listed``
        if not all(isinstance(value, str) for _, value in pairs):
            raise CorruptArchive(path, "metadata.labels is not a map of strings")
        if len(self._label_sets) >= self._remember:
            return self._label_sets.get(pairs, pairs)
        shared = self._label_sets.setdefault(pairs, pairs)
        if listed != pairs:  # an API server lists them sorted
            self._label_sets[listed] = shared
        return shared

    def _owners(self, path: str, refs: Any) -> tuple[OwnerRef, ...]:
        try:
            key = tuple([(r["kind"], r["name"], r.get("controller") is True) for r in refs])
            shared = self._owner_sets.get(key)
        except (AttributeError, KeyError, TypeError):  # not a list of maps, or unhashable
            shared = None
        if shared is not None:  # equal to checked strings, so strings
            return shared
        if not isinstance(refs, list):
            raise CorruptArchive(path, "metadata.ownerReferences is not a list")
        owners = []
        for ref in refs:
            if not (
                isinstance(ref, dict)
                and isinstance(ref.get("kind"), str)
                and isinstance(ref.get("name"), str)
            ):
                raise CorruptArchive(path, f"ownerReference {ref!r} has no kind and name")
            owners.append(OwnerRef(ref["kind"], ref["name"], ref.get("controller") is True))
        shared = tuple(owners)
        if len(self._owner_sets) < self._remember:
            self._owner_sets[shared] = shared  # an OwnerRef equals its (kind, name, controller)
        return shared


class _Checker(_Spooler):
    """:func:`check`: the spooler's checks, keeping of an item only its resource-list entry."""

    _remember = _CHECKED_MAX

    def __init__(self, manifest: Manifest | None, limits: Limits) -> None:
        super().__init__(None, manifest, limits)
        self._listed: dict[tuple[str, str, str], list[str]] = {}
        """(resource dir, apiVersion, kind) -> "namespace/name" (or "name") of its items."""
        self._bytes = 0

    def run(self, src: BinaryIO) -> CheckedArchive:  # type: ignore[override]
        return self.result(self._read(src))

    def run_segment(self, src: BinaryIO, segment: tuple[int, int] | None) -> CheckedSegment:
        """Check one segment of an archive (``segment`` is its tar offset and size; None for
        the last, which runs to the archive's end), this checker's manifest being that
        segment's rows."""
        version = self._walk(src, segment)
        return CheckedSegment(self._added, self._bytes, self._listed, version)

    def merge(self, part: CheckedSegment) -> None:
        """Add what a segment's check found (segments merged in the archive's order)."""
        self._added += part.items
        self._bytes += part.total_bytes
        for key, names in part.listed.items():
            self._listed.setdefault(key, []).extend(names)
        if self._added > self._limits.max_items:
            raise HostileArchive(None, f"more than {self._limits.max_items} items")

    def result(self, version: str) -> CheckedArchive:
        """The whole archive's result, once every item is in."""
        by_key: dict[str, list[list[str]]] = {}
        by_dir: dict[str, list[list[str]]] = {}
        for (resource_dir, api, kind), names in self._listed.items():
            names.sort()
            by_key.setdefault(f"{api}/{kind}", []).append(names)
            by_dir.setdefault(resource_dir, []).append(names)
        for resource_dir, lists in sorted(by_dir.items()):
            names = _sorted_together(lists)
            for at in range(1, len(names)):
                if names[at] == names[at - 1]:
                    namespace, _, name = names[at].rpartition("/")
                    path = layout.item_path(
                        layout.ResourceDir(resource_dir), namespace or None, name
                    )
                    raise HostileArchive(path, "stored twice (which copy would be restored?)")
        return CheckedArchive(
            items=self._added,
            total_bytes=self._bytes,
            resource_list={key: _sorted_together(by_key[key]) for key in sorted(by_key)},
            verified=self._expected is not None,
            format_version=version,
        )

    def _keep(self, loc: layout.ItemLocation, data: bytes, digest: bytes, meta: _Meta) -> None:
        key = (loc.resource_dir, meta[2], meta[3])
        names = self._listed.get(key)
        if names is None:
            names = self._listed[key] = []
        names.append(loc.name if loc.namespace is None else f"{loc.namespace}/{loc.name}")
        self._bytes += len(data)


class CheckedSegment(NamedTuple):
    """What checking one segment found (sent back from a worker process)."""

    items: int
    total_bytes: int
    listed: dict[tuple[str, str, str], list[str]]
    """(resource dir, apiVersion, kind) -> "namespace/name" (or "name") of its items."""
    version: str | None
    """``metadata/version``, when the segment holds it."""


def merged(
    parts: Iterable[CheckedSegment], *, manifest: Manifest, limits: Limits
) -> CheckedArchive:
    """The whole archive's check from its segments' (:func:`check_segment`, in the
    archive's order): counts and resource list added up, duplicates found across segments."""
    merger = _Checker(manifest, limits)
    version: str | None = None
    for part in parts:
        merger.merge(part)
        version = part.version or version
    return merger.result(_found_version(version))


def _found_version(version: str | None) -> str:
    if version is None:
        raise CorruptArchive(layout.METADATA_VERSION_PATH, "missing: not a Velero or ark backup")
    return version


def check_segment(
    src: BinaryIO,
    *,
    rows: ItemTable,
    segment: tuple[int, int] | None,
    limits: Limits,
) -> CheckedSegment:
    """Check one segment of an ark archive as :func:`check` checks a whole one: ``rows`` are
    the manifest's rows for the segment's items, ``segment`` its tar offset and size as the
    manifest lists them (None for the last, which ends with the archive)."""
    return _Checker(Manifest(backup_name="", items=rows), limits).run_segment(src, segment)


def _sorted_together(lists: list[list[str]]) -> list[str]:
    """Sorted lists as one sorted list (most often there is one: it is that list)."""
    return lists[0] if len(lists) == 1 else sorted(itertools.chain.from_iterable(lists))
