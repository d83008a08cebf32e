"""ark's manifest of a backup (a SHA-256 per item) and Velero's resource list.

The manifest is stored twice: inside the tar as ``metadata/ark-manifest.json`` (last entry) and
next to the tar, gzip'd (by ``ark.persistence``). A restore reads the separate object first, so
every item can be checked while the tar streams in. Items are kept in the order they were written.

JSON shape (camelCase like the Kubernetes objects around it; items as rows to stay compact)::

    {"formatVersion": 1, "backupName": "b", "clusterVersion": "v1.34.4",
     "apiVersions": {"deployments.apps": "apps/v1"}, "kinds": {"deployments.apps": "Deployment"},
     "counts": {"deployments.apps": 1}, "totalItems": 1, "totalBytes": 812,
     "itemFields": ["path", "size", "sha256"],
     "items": [["resources/deployments.apps/namespaces/web/front.json", 812, "9f86d0..."]]}
"""

from __future__ import annotations

import array
import gzip
import itertools
import json
import os
import re
import tempfile
import weakref
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, overload

import orjson

from ark.archive import layout, tarwrite
from ark.archive.errors import CorruptArchive

MANIFEST_FORMAT = 1
_ITEM_FIELDS = ["path", "size", "sha256"]
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_DIGEST_BYTES = 32
_ROWS_PER_CHUNK = 4096
_SPOOL_CHUNK = 256 * 1024
_SEGMENTS_MAX = 1_000_000
_PARSE_CHARS = 128 * 1024
"""Item rows are parsed together in runs of about this much text."""


class ManifestItem(NamedTuple):
    path: layout.TarPath
    size: int
    sha256: str
    """Lowercase hex digest of the item's bytes."""


class Segment(NamedTuple):
    """Where one gzip member of the archive starts: a place a reader can start from.

    ark's writer ends a gzip member (and starts the next) at an entry boundary every
    ``SEGMENT_BYTES`` of tar, so a verify can check the members in parallel; any gzip reader
    (Velero's, ``tar xz``) reads the members one after another as one stream."""

    archive_offset: int
    """Bytes of the ``.tar.gz`` before the member."""
    tar_offset: int
    """Bytes of the tar stream before it (an entry's header starts there)."""
    first_item: int
    """The index of the first manifest row at or after it."""


class ItemTable(Sequence[ManifestItem]):
    """Manifest items by index: ``path(i)``, ``size(i)``, ``digest(i)`` without building a
    :class:`ManifestItem`, and the JSON rows of them all."""

    __slots__ = ()

    def path(self, index: int) -> layout.TarPath:
        raise NotImplementedError

    def size(self, index: int) -> int:
        raise NotImplementedError

    def digest(self, index: int) -> bytes:
        """The raw 32-byte SHA-256 of item ``index``."""
        raise NotImplementedError

    def total_bytes(self) -> int:
        raise NotImplementedError

    def json_body(self) -> Iterator[bytes]:
        """Chunks that together are the comma-separated JSON rows of every item."""
        raise NotImplementedError

    def paths(self) -> Iterator[layout.TarPath]:
        """Every item's path, in order."""
        return (self.path(i) for i in range(len(self)))

    def rows(self, start: int, stop: int) -> ManifestItems:
        """Items ``start`` to ``stop`` (0 <= start <= stop <= len) as a table of their own."""
        rows = ManifestItems()
        for index in range(start, stop):
            rows.append(self.path(index), self.size(index), self.digest(index))
        return rows

    @overload
    def __getitem__(self, index: int) -> ManifestItem: ...

    @overload
    def __getitem__(self, index: slice) -> ManifestItems: ...

    def __getitem__(self, index: int | slice) -> ManifestItem | ManifestItems:
        if isinstance(index, slice):
            return ManifestItems(self[i] for i in range(*index.indices(len(self))))
        index = range(len(self))[index]  # bounds check, negative indices
        return ManifestItem(self.path(index), self.size(index), self.digest(index).hex())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ItemTable):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {len(self)} items, {self.total_bytes()} bytes>"


class ManifestItems(ItemTable):
    """The items of a manifest, stored flat (the paths' UTF-8 end to end with an array of
    where each ends, an array of sizes, packed digests): about 110 bytes per item instead of
    300 as tuples (or 165 with a str per path), which matters at 100,000 items."""

    __slots__ = ("_digests", "_ends", "_sizes", "_text")

    def __init__(self, items: Iterable[ManifestItem] = ()) -> None:
        self._text = bytearray()
        self._ends = array.array("Q")
        self._sizes = array.array("Q")
        self._digests = bytearray()
        for item in items:
            self.append(item.path, item.size, bytes.fromhex(item.sha256))

    def append(self, path: layout.TarPath, size: int, digest: bytes) -> None:
        _check_digest(path, digest)
        self._text += path.encode()
        self._ends.append(len(self._text))
        self._sizes.append(size)
        self._digests += digest

    def extend_rows(self, rows: Any) -> bool:
        """Append rows parsed from JSON if every one is a checked ``[path, size, sha256]``
        row; else append nothing and return False (the caller names the bad row)."""
        columns = _checked_columns(rows)
        if columns is None:
            return False
        paths, sizes, digests, text = columns
        ascii_only = len(text) == sum(map(len, paths))
        lengths = map(len, paths) if ascii_only else (len(p.encode()) for p in paths)
        ends = itertools.accumulate(lengths, initial=len(self._text))
        next(ends)
        self._ends.extend(ends)
        self._text += text
        self._sizes.extend(sizes)
        self._digests += digests
        return True

    def rows(self, start: int, stop: int) -> ManifestItems:
        if not 0 <= start <= stop <= len(self):
            raise IndexError(f"rows {start}:{stop} of {len(self)}")
        rows = ManifestItems()
        first = self._ends[start - 1] if start else 0
        rows._text += self._text[first : self._ends[stop - 1] if stop else 0]
        rows._ends.extend(end - first for end in self._ends[start:stop])
        rows._sizes = self._sizes[start:stop]
        rows._digests += self._digests[start * _DIGEST_BYTES : stop * _DIGEST_BYTES]
        return rows

    def path(self, index: int) -> layout.TarPath:
        if index < 0:
            index += len(self._ends)
        end = self._ends[index]
        start = self._ends[index - 1] if index else 0
        return layout.TarPath(self._text[start:end].decode())

    def size(self, index: int) -> int:
        return self._sizes[index]

    def digest(self, index: int) -> bytes:
        at = index * _DIGEST_BYTES
        return bytes(self._digests[at : at + _DIGEST_BYTES])

    def total_bytes(self) -> int:
        return sum(self._sizes)

    def __len__(self) -> int:
        return len(self._ends)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ManifestItems):
            return (self._text, self._ends, self._sizes, self._digests) == (
                other._text,
                other._ends,
                other._sizes,
                other._digests,
            )
        return super().__eq__(other)

    __hash__ = None

    def json_body(self) -> Iterator[bytes]:
        for start in range(0, len(self), _ROWS_PER_CHUNK):
            end = min(start + _ROWS_PER_CHUNK, len(self))
            rows = [
                (self.path(i), self._sizes[i], self._digests[i * 32 : i * 32 + 32].hex())
                for i in range(start, end)
            ]
            chunk = orjson.dumps(rows)[1:-1]
            yield b"," + chunk if start else chunk


def _checked_columns(
    rows: Any,
) -> tuple[tuple[str, ...], tuple[int, ...], bytes, bytes] | None:
    """Rows as columns (paths, sizes, the digests packed, the paths' UTF-8 end to end) if
    every row is a ``[path, size, sha256]`` row as the row-by-row reader checks one."""
    if not (
        isinstance(rows, list)
        and rows
        and set(map(type, rows)) == {list}
        and set(map(len, rows)) == {3}
    ):
        return None
    paths, sizes, digests = zip(*rows, strict=True)
    if not (
        set(map(type, paths)) == {str}
        and set(map(type, sizes)) == {int}  # not bool
        and min(sizes) >= 0
        and max(sizes) < 2**63
        and set(map(type, digests)) == {str}
        and set(map(len, digests)) == {64}
    ):
        return None
    hex_digests = "".join(digests)
    try:
        packed, text = bytes.fromhex(hex_digests), "".join(paths).encode()
    except ValueError:  # not hex; or a lone surrogate in a path (UnicodeEncodeError)
        return None
    return (paths, sizes, packed, text) if packed.hex() == hex_digests else None  # lowercase


class SpooledItems(ItemTable):
    """The items of a manifest being written, kept in an anonymous temp file as the JSON rows
    they become: 8 bytes of memory per item (its row's offset), so a backup's memory does not
    grow with its item count. Not thread-safe (the archive writer locks)."""

    __slots__ = (
        "__weakref__",
        "_closer",
        "_file",
        "_flushed",
        "_offsets",
        "_pending",
        "_segments",
        "_total_bytes",
    )

    def __init__(self, *, spool_dir: str | os.PathLike[str] | None = None) -> None:
        self._file = tempfile.TemporaryFile(prefix="ark-manifest-", dir=spool_dir)  # noqa: SIM115
        # A manifest outlives its writer, so the temp file goes when the items do.
        self._closer = weakref.finalize(self, self._file.close)
        self._offsets = array.array("Q", [0])  # row i is bytes offsets[i]:offsets[i+1]
        self._pending = bytearray()  # rows not yet in the file
        self._flushed = 0
        self._segments: list[int] = []  # where each flush ended: whole rows between them
        self._total_bytes = 0

    def append(self, path: layout.TarPath, size: int, digest: bytes) -> None:
        _check_digest(path, digest)
        row = orjson.dumps((path, size, digest.hex()))
        self._pending += b"," + row if len(self._offsets) > 1 else row
        self._offsets.append(self._flushed + len(self._pending))
        self._total_bytes += size
        if len(self._pending) >= _SPOOL_CHUNK:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self._file.write(self._pending)
            self._file.flush()
            self._flushed += len(self._pending)
            self._segments.append(self._flushed)
            self._pending.clear()

    def close(self) -> None:
        """Drop the temp file (also done when the items are garbage-collected)."""
        self._closer()

    def _row(self, index: int) -> tuple[str, int, str]:
        index = range(len(self))[index]
        start, end = self._offsets[index], self._offsets[index + 1]
        if index:
            start += 1  # the comma before the row
        if start >= self._flushed:
            raw = bytes(self._pending[start - self._flushed : end - self._flushed])
        else:
            raw = os.pread(self._file.fileno(), end - start, start)
        path, size, digest = orjson.loads(raw)
        return path, size, digest

    def path(self, index: int) -> layout.TarPath:
        return layout.TarPath(self._row(index)[0])

    def size(self, index: int) -> int:
        return self._row(index)[1]

    def digest(self, index: int) -> bytes:
        return bytes.fromhex(self._row(index)[2])

    def total_bytes(self) -> int:
        return self._total_bytes

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def paths(self) -> Iterator[layout.TarPath]:
        """One pass over the spool, a flush's worth of rows parsed at a time."""
        self.flush()
        start = 0
        for end in list(self._segments):
            rows = os.pread(self._file.fileno(), end - start, start).removeprefix(b",")
            for row in orjson.loads(b"[" + rows + b"]"):
                yield layout.TarPath(row[0])
            start = end

    def json_body(self) -> Iterator[bytes]:
        self.flush()
        at = 0
        while at < self._flushed:
            chunk = os.pread(self._file.fileno(), min(_SPOOL_CHUNK, self._flushed - at), at)
            if not chunk:
                raise OSError(f"manifest spool ended at {at} of {self._flushed} bytes")
            at += len(chunk)
            yield chunk


def _check_digest(path: str, digest: bytes) -> None:
    if len(digest) != _DIGEST_BYTES:
        raise ValueError(f"{path}: a SHA-256 digest has 32 bytes, not {len(digest)}")


@dataclass(frozen=True)
class Manifest:
    backup_name: str
    items: Sequence[ManifestItem]
    """In the order they were written (the archive's order): :class:`ManifestItems`, or
    :class:`SpooledItems` for a manifest the writer just made."""
    api_versions: Mapping[str, str] = field(default_factory=dict)
    """Resource dir -> apiVersion it was read with: ``{"deployments.apps": "apps/v1"}``."""
    kinds: Mapping[str, str] = field(default_factory=dict)
    """Resource dir -> kind: ``{"deployments.apps": "Deployment"}``."""
    counts: Mapping[str, int] = field(default_factory=dict)
    """Resource dir -> number of items."""
    cluster_version: str | None = None
    format_version: int = MANIFEST_FORMAT
    segments: Sequence[Segment] = ()
    """Where the archive's gzip members start (none for an archive of one member)."""

    def __post_init__(self) -> None:
        if not isinstance(self.items, ItemTable):
            object.__setattr__(self, "items", ManifestItems(self.items))

    @property
    def compact_items(self) -> ItemTable:
        assert isinstance(self.items, ItemTable)
        return self.items

    @property
    def total_items(self) -> int:
        return len(self.items)

    @property
    def total_bytes(self) -> int:
        return self.compact_items.total_bytes()

    def to_json(self) -> bytes:
        return b"".join(self.json_chunks())

    def json_chunks(self) -> Iterator[bytes]:
        """:meth:`to_json` in pieces of a few hundred KB, for writing without a second copy."""
        head = orjson.dumps(
            {
                "formatVersion": self.format_version,
                "backupName": self.backup_name,
                "clusterVersion": self.cluster_version,
                "apiVersions": dict(self.api_versions),
                "kinds": dict(self.kinds),
                "counts": dict(self.counts),
                "totalItems": self.total_items,
                "totalBytes": self.total_bytes,
                "itemFields": _ITEM_FIELDS,
                **({"segments": [list(s) for s in self.segments]} if self.segments else {}),
                "items": None,
            }
        )
        yield head.removesuffix(b"null}") + b"["
        yield from self.compact_items.json_body()
        yield b"]}"

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        """Parse and check a manifest (it is untrusted input like the archive it describes)."""
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _bad(f"not JSON ({exc})") from None
        return cls.from_text(text)

    @classmethod
    def from_text(cls, text: str) -> Manifest:
        """:meth:`from_json` of the document's text.

        Its item rows go into the compact table one by one as they are parsed, so the parse
        never holds every row as Python lists at once (a whole-document parser would, and
        that would set verify's and a restore's peak memory)."""
        try:
            doc, items = _parse(text)
        except (ValueError, RecursionError) as exc:
            raise _bad(f"not JSON ({exc})") from None
        if doc.get("formatVersion") != MANIFEST_FORMAT:
            raise _bad(f"unsupported formatVersion {doc.get('formatVersion')!r}")
        if doc.get("itemFields") != _ITEM_FIELDS:
            raise _bad(f"itemFields must be {_ITEM_FIELDS}")
        backup = doc.get("backupName")
        cluster_version = doc.get("clusterVersion")
        if not isinstance(backup, str) or not isinstance(cluster_version, str | None):
            raise _bad("backupName and clusterVersion must be strings")
        if items is None:
            raise _bad("items must be a list")
        manifest = cls(
            backup_name=backup,
            items=items,
            api_versions=_str_map(doc, "apiVersions", str),
            kinds=_str_map(doc, "kinds", str),
            counts=_str_map(doc, "counts", int),
            cluster_version=cluster_version,
            segments=_segments(doc.get("segments", []), len(items)),
        )
        if doc.get("totalItems") != manifest.total_items:
            raise _bad(f"totalItems {doc.get('totalItems')!r} but {len(items)} items listed")
        if doc.get("totalBytes") != manifest.total_bytes:
            raise _bad(
                f"totalBytes {doc.get('totalBytes')!r} but items add up to {manifest.total_bytes}"
            )
        return manifest


def _bad(cause: str) -> CorruptArchive:
    return CorruptArchive(None, f"ark manifest: {cause}")


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_no_constant)
_SPACE = re.compile(r"[ \t\n\r]*")


def _parse(text: str) -> tuple[dict[str, Any], ManifestItems | None]:
    """A JSON object's members, but its ``items`` array's rows parsed one at a time into a
    ManifestItems (checked as they come); None when ``items`` is missing or not an array."""
    doc: dict[str, Any] = {}
    items: ManifestItems | None = None
    at = _skip(text, _expect(text, _skip(text, 0), "{"))
    if text.startswith("}", at):
        if _skip(text, at + 1) != len(text):
            raise ValueError(f"extra data at {at + 1}")
        return doc, items
    while True:
        key, at = _DECODER.raw_decode(text, at)
        if not isinstance(key, str):
            raise ValueError(f"an object key at {at} is not a string")
        at = _skip(text, _expect(text, _skip(text, at), ":"))
        if key == "items" and text.startswith("[", at):
            items, at = _rows(text, at + 1)
            doc.pop(key, None)
        else:
            doc[key], at = _DECODER.raw_decode(text, at)
            if key == "items":
                items = None
        at = _skip(text, at)
        if text.startswith("}", at):
            break
        at = _skip(text, _expect(text, at, ","))
    if _skip(text, at + 1) != len(text):
        raise ValueError(f"extra data at {at + 1}")
    return doc, items


def _rows(text: str, at: int) -> tuple[ManifestItems, int]:
    """The ``items`` array's rows from ``at`` (after its ``[``) and where the array ends.

    Runs of rows as ark writes them (compact, about ``_PARSE_CHARS`` of text) are parsed and
    checked together; a run that does not parse so, or holds a row that is not right, is
    read again row by row, which names the row at fault. The text is read at most twice."""
    items = ManifestItems()
    at = _skip(text, at)
    if text.startswith("]", at):
        return items, at + 1
    one_by_one_until = 0
    while True:
        at = _skip(text, at)
        cut = _run_end(text, at) if at >= one_by_one_until else None
        if cut is not None and _parse_run(text, at, cut, items):
            at = cut
        else:
            if cut is not None:
                one_by_one_until = cut
            row, at = _DECODER.raw_decode(text, at)
            items.append(*_item(row))
        at = _skip(text, at)
        if text.startswith("]", at):
            return items, at + 1
        at = _expect(text, at, ",")


def _run_end(text: str, at: int) -> int | None:
    """Where a run of rows from ``at`` may end: after a row's ``"]`` followed by ``,[`` some
    ``_PARSE_CHARS`` on, or by the array's ``]`` before that (a guess: inside a string these
    are escaped, and the run then does not parse)."""
    far = text.find('"],[', at + _PARSE_CHARS)
    last = text.find('"]]', at, far + 4 if far >= 0 else len(text))
    if last >= 0:
        return last + 2
    return far + 2 if far >= 0 else None


def _parse_run(text: str, at: int, cut: int, items: ManifestItems) -> bool:
    try:
        rows = orjson.loads(f"[{text[at:cut]}]")
    except orjson.JSONDecodeError:
        return False
    return items.extend_rows(rows)


def _skip(text: str, at: int) -> int:
    found = _SPACE.match(text, at)
    return found.end() if found else at


def _expect(text: str, at: int, char: str) -> int:
    if not text.startswith(char, at):
        raise ValueError(f"expected {char!r} at {at}")
    return at + 1


def _item(row: object) -> tuple[layout.TarPath, int, bytes]:
    if not (isinstance(row, list) and len(row) == 3):
        raise _bad(f"item {str(row)[:200]} is not a [path, size, sha256] row")
    path, size, digest = row
    if (
        not isinstance(path, str)
        or not isinstance(size, int)
        or isinstance(size, bool)
        or not 0 <= size < 2**63
    ):
        raise _bad(f"item {str(row)[:200]} is not a [path, size, sha256] row")
    if not isinstance(digest, str) or not _SHA256_HEX.fullmatch(digest):
        raise _bad(f"item {path!r}: sha256 {digest!r} is not a lowercase hex SHA-256")
    return layout.TarPath(path), size, bytes.fromhex(digest)


def _segments(value: Any, items: int) -> tuple[Segment, ...]:
    """The ``segments`` rows, checked: the first at the start, each after the one before, tar
    offsets on block boundaries, item indices within the manifest's."""
    if not isinstance(value, list) or len(value) > _SEGMENTS_MAX:
        raise _bad(f"segments must be a list of at most {_SEGMENTS_MAX} rows")
    segments: list[Segment] = []
    for row in value:
        if not (
            isinstance(row, list)
            and len(row) == 3
            and all(type(n) is int and 0 <= n < 2**63 for n in row)
        ):
            raise _bad(f"segment {str(row)[:100]} is not an [archiveOffset, tarOffset, item] row")
        segment = Segment(*row)
        if not segments:
            if segment != (0, 0, 0):
                raise _bad(f"the first segment is {row}, not [0, 0, 0]")
        elif not (
            segment.archive_offset > segments[-1].archive_offset
            and segment.tar_offset > segments[-1].tar_offset
            and segment.first_item >= segments[-1].first_item
            and segment.tar_offset % tarwrite.BLOCK == 0
            and segment.first_item <= items
        ):
            raise _bad(f"segment {row} does not follow {list(segments[-1])}")
        segments.append(segment)
    return tuple(segments)


def _str_map(doc: dict[str, Any], key: str, value_type: type) -> dict[str, Any]:
    value = doc.get(key, {})
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, value_type) for k, v in value.items()
    ):
        raise _bad(f"{key} must map strings to {value_type.__name__}")
    return value


class _KindEntries:
    """One kind's resource-list entries, NUL-separated in one buffer (NUL is in no name), and
    whether they came in sorted order (one cluster-wide LIST gives them so)."""

    __slots__ = ("buffer", "last", "ordered")

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.last = b""
        self.ordered = True

    def add(self, entry: bytes) -> None:
        if self.buffer or self.last:
            self.buffer += b"\0"
            if entry < self.last:
                self.ordered = False
        self.buffer += entry
        self.last = entry

    def names(self) -> list[str]:
        """Sorted, as Velero writes them (UTF-8 byte order is code point order)."""
        names = self.buffer.decode().split("\0")
        if not self.ordered:
            names.sort()
        return names


def _grouped_entries(manifest: Manifest) -> dict[str, _KindEntries]:
    """The entries per ``apiVersion/Kind`` key, in key order: about the entries' own bytes
    in memory, not an object per item."""
    kinds = {
        resource_dir: f"{api}/{manifest.kinds[resource_dir]}"
        for resource_dir, api in manifest.api_versions.items()
        if resource_dir in manifest.kinds
    }
    out: dict[str, _KindEntries] = {}
    for path in manifest.compact_items.paths():
        resource_dir, entry = _entry(path)
        key = kinds.get(resource_dir)
        if key is None:
            raise _bad(f"item {path!r}: no apiVersion/kind for {resource_dir!r}")
        if "\0" in entry:
            raise _bad(f"item {path!r}: NUL in a name")
        group = out.get(key)
        if group is None:
            group = out[key] = _KindEntries()
        group.add(entry.encode())
    return dict(sorted(out.items()))


def resource_list(manifest: Manifest) -> dict[str, list[str]]:
    """Velero's resource list (kept next to the archive) for an ark backup:
    ``{"apps/v1/Deployment": ["ns/name", ...], "v1/Namespace": ["name"]}``, names sorted as
    Velero writes them. (:func:`encode_manifest_resource_list` writes it without this
    string per item.)"""
    return {key: group.names() for key, group in _grouped_entries(manifest).items()}


_NEEDS_ESCAPE = re.compile(rb'["\\\x01-\x1f]')
_QUOTED_PIECE = 256 * 1024


def encode_manifest_resource_list(manifest: Manifest) -> Iterator[bytes]:
    """``encode_resource_list(resource_list(manifest))`` as a stream (the same bytes), which
    holds about the entries' bytes: a kind whose names came sorted and need no JSON escape is
    written straight from its buffer; any other is sorted and encoded on its own."""
    deflate = zlib.compressobj(6, zlib.DEFLATED, tarwrite.GZIP_WBITS)
    groups = _grouped_entries(manifest)
    for n, (key, group) in enumerate(groups.items()):
        parts: Iterable[bytes]
        if group.ordered and not _NEEDS_ESCAPE.search(group.buffer):
            parts = _quoted(group.buffer)
        else:
            parts = (orjson.dumps(group.names())[1:-1],)
        head = (b"{" if n == 0 else b",") + orjson.dumps(key) + b":["
        for part in (head, *parts, b"]"):
            if out := deflate.compress(part):
                yield out
        group.buffer = bytearray()  # written: free it
    yield deflate.compress(b"}" if groups else b"{}")
    yield deflate.flush()


def _quoted(buffer: bytearray) -> Iterator[bytes]:
    """``"a","b",...`` from NUL-separated names, a piece of about _QUOTED_PIECE at a time."""
    start = 0
    while start < len(buffer):
        end = buffer.find(b"\0", start + _QUOTED_PIECE)
        end = len(buffer) if end < 0 else end
        piece = bytes(buffer[start:end]).replace(b"\0", b'","')
        yield (b'"' if start == 0 else b',"') + piece + b'"'
        start = end + 1


def _entry(path: str) -> tuple[str, str]:
    """A primary item's resource dir and resource-list entry (``ns/name`` or ``name``): the
    usual two shapes by slicing (this runs for every item), anything else parsed in full."""
    root = layout.RESOURCES_ROOT + "/"
    slash = path.find("/", len(root))
    if path.startswith(root) and path.endswith(".json") and slash > 0:
        rest = path[slash + 1 : -len(".json")]
        if rest.startswith("namespaces/") and rest.count("/") == 2:
            return path[len(root) : slash], rest[len("namespaces/") :]
        if rest.startswith("cluster/") and rest.count("/") == 1:
            return path[len(root) : slash], rest[len("cluster/") :]
    loc = layout.parse_item_path(path)
    entry = loc.name if loc.namespace is None else f"{loc.namespace}/{loc.name}"
    return loc.resource_dir, entry


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


def encode_manifest(manifest: Manifest) -> bytes:
    """The manifest as kept next to the archive (gzip'd JSON), whole (small manifests, tests)."""
    return b"".join(encode_manifest_chunks(manifest))


def encode_manifest_chunks(manifest: Manifest, *, compress_level: int = 6) -> Iterator[bytes]:
    """:func:`encode_manifest` as a stream of chunks (same bytes), for an upload that never
    holds the whole manifest: it has a row per item."""
    deflate = zlib.compressobj(compress_level, zlib.DEFLATED, tarwrite.GZIP_WBITS)
    for chunk in manifest.json_chunks():
        if out := deflate.compress(chunk):
            yield out
    yield deflate.flush()


def decode_manifest(data: bytes) -> Manifest:
    try:
        raw = gzip.decompress(data)
    except (OSError, EOFError) as exc:
        raise _bad(f"not gzip ({exc})") from None
    return Manifest.from_json(raw)


def encode_resource_list(listing: Mapping[str, list[str]]) -> bytes:
    """Velero's resource list as kept next to the archive (gzip'd JSON), whole."""
    return b"".join(encode_resource_list_chunks(listing))


def encode_resource_list_chunks(listing: Mapping[str, list[str]]) -> Iterator[bytes]:
    """:func:`encode_resource_list` as a stream (same bytes), one kind's JSON at a time."""
    deflate = zlib.compressobj(6, zlib.DEFLATED, tarwrite.GZIP_WBITS)
    for n, (key, names) in enumerate(listing.items()):
        part = orjson.dumps({key: names})  # '{"key":[...]}': the braces go around them all
        part = (b"{" if n == 0 else b",") + part[1:-1]
        if out := deflate.compress(part):
            yield out
    yield deflate.compress(b"}" if listing else b"{}")
    yield deflate.flush()


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
