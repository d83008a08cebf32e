"""A schedule's change log: the changes to its included objects between its backups, in
segments kept with the backups (``plugins/ark/changelogs/<cluster>/<schedule>/`` holds
``<start>-<seq>.jsonl.gz``; its gaps also as ``gaps/<from>_<to>_<seq>_<n>.json``). Each cluster
writes, trims and replays its own: clusters that share a bucket may have schedules of one name,
and one's retention never deletes another's log.

A segment is gzip'd JSON lines, written whole (one PUT) and never changed::

    {"type": "Header", "format": 2, "cluster": UID, "schedule": S, "seq": N, "start": T0}
    {"type": "ADDED"|"MODIFIED"|"DELETED", "t": T, "resource": "deployments.apps",
     "rv": "1234", "object": {...}}
    {"type": "ResyncBegin", "t": T, "resource": R, "rv": LIST_RV}
    {"type": "LISTED", ...as a change...}         the full state of R, page by page
    {"type": "ResyncEnd", "t": T, "resource": R, "rv": LIST_RV}
    {"type": "Gap", "t": T, "resource": R, "from": T1, "to": T2, "reason": "..."}
    {"type": "Trailer", "end": T, "records": n, "counts": {...},
     "checkpoints": {R: {"rv": RV, "t": T}}, "gaps": [...], "newestChange": T,
     "unwatchedSince": T | null}

Records are in the order they were observed (``t`` never goes back within a log), so a replay
reads segments in name order and stops at the first record after its instant. The trailer
holds what a restarted writer needs (the resourceVersion to resume each resource's watch from)
and what a reader checks before replaying (the gaps). Numbers run on from one segment to the
next across writer restarts, so a missing segment is seen. A writer started again resumes
each watch from its checkpoint, so the changes made while none ran are recorded, but stamped
when seen: the time no writer ran becomes a gap of every resource (``*``) once the watches
caught up, and until then trailers carry ``unwatchedSince`` (a restore stops short of it).

With the location's keys the segment is encrypted (``ark.crypto``'s format, its key in the
associated data) under a data key per writer; a location that encrypts refuses a plaintext
segment. Every read is bounded (``Limits.changelog_segment``).
"""

from __future__ import annotations

import datetime as dt
import itertools
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

from ark import archive, crypto
from ark.kube import encode_json
from ark.persistence import encryption, reading
from ark.persistence.errors import StoredFileError
from ark.persistence.keys import ChangeLogKeys, SegmentName
from ark.persistence.limits import FileLimit
from ark.persistence.store import BackupStore
from ark.storage import ObjectNotFound

FORMAT = 2
SEGMENT_BYTES = 8 << 20
"""A segment is closed once its JSON passes this (a few MiB: a restore reads it whole)."""


_GAPS = "gaps/"
_GAP_STAMP = "%Y%m%dT%H%M%S.%fZ"
_GAP_LIMIT = FileLimit(stored=64 << 10)


def _gap_file(found: Gap, seq: int, number: int) -> str:
    start, end = (w.astimezone(dt.UTC).strftime(_GAP_STAMP) for w in (found.start, found.end))
    return f"{start}_{end}_{seq:010d}_{number}.json"


class Record(StrEnum):
    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"
    LISTED = "LISTED"
    """An object as a relist found it (between ResyncBegin and ResyncEnd)."""
    RESYNC_BEGIN = "ResyncBegin"
    RESYNC_END = "ResyncEnd"
    """The relist of a resource is complete: its objects not listed since ResyncBegin are
    gone. The log keeps no copy of the cluster: a replay applies the absence."""
    GAP = "Gap"
    HEADER = "Header"
    TRAILER = "Trailer"


def stamp(when: dt.datetime) -> str:
    """UTC, microseconds, ``Z``: the log's one time format (sorts as text)."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_stamp(text: object) -> dt.datetime:
    """ValueError for anything but a time with a zone."""
    if not isinstance(text, str):
        raise ValueError(f"not a time: {text!r:.40}")
    when = dt.datetime.fromisoformat(text)
    if when.tzinfo is None:
        raise ValueError(f"a time without a zone: {text!r:.40}")
    return when.astimezone(dt.UTC)


@dataclass(frozen=True)
class Checkpoint:
    """Where a resource's watch resumes: the resourceVersion of the last change (or bookmark)
    stored, and when it was observed."""

    resource_version: str
    at: dt.datetime

    def to_json(self) -> dict[str, str]:
        return {"rv": self.resource_version, "t": stamp(self.at)}

    @classmethod
    def from_json(cls, doc: Any) -> Checkpoint:
        if not isinstance(doc, dict) or not isinstance(doc.get("rv"), str):
            raise ValueError(f"not a checkpoint: {doc!r:.80}")
        return cls(resource_version=doc["rv"], at=parse_stamp(doc.get("t")))


@dataclass(frozen=True)
class Gap:
    """A time during which the log does not know a resource's changes (``resource`` "*": any):
    a restore to an instant inside it is refused."""

    resource: str
    start: dt.datetime
    end: dt.datetime
    reason: str

    def covers(self, when: dt.datetime) -> bool:
        return self.start <= when < self.end

    def describe(self) -> str:
        return f"{self.resource} from {stamp(self.start)} to {stamp(self.end)} ({self.reason})"

    def to_json(self) -> dict[str, str]:
        return {
            "resource": self.resource,
            "from": stamp(self.start),
            "to": stamp(self.end),
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, doc: Any) -> Gap:
        if not isinstance(doc, dict):
            raise ValueError(f"not a gap: {doc!r:.80}")
        return cls(
            resource=str(doc.get("resource")),
            start=parse_stamp(doc.get("from")),
            end=parse_stamp(doc.get("to")),
            reason=str(doc.get("reason") or ""),
        )


@dataclass(frozen=True)
class Trailer:
    end: dt.datetime
    """When the segment was closed: the log knows every change up to here."""
    records: int
    counts: Mapping[str, int]
    checkpoints: Mapping[str, Checkpoint]
    """Per resource: where its watch resumes (every resource watched so far in the log, not
    only those with a change in this segment)."""
    gaps: Sequence[Gap] = ()
    newest_change: dt.datetime | None = None
    """The observed time of the newest change stored so far in the log."""
    unwatched_since: dt.datetime | None = None
    """Set while a restarted writer catches up: no watcher ran from this time, and the
    changes made since are not all recorded yet (an instant from here on is not reached).
    Once caught up, the writer records the time no watcher ran as a gap of every resource."""

    def to_json(self) -> dict[str, Any]:
        return {
            "type": Record.TRAILER.value,
            "end": stamp(self.end),
            "records": self.records,
            "counts": dict(self.counts),
            "checkpoints": {r: c.to_json() for r, c in sorted(self.checkpoints.items())},
            "gaps": [g.to_json() for g in self.gaps],
            "newestChange": None if self.newest_change is None else stamp(self.newest_change),
            "unwatchedSince": (
                None if self.unwatched_since is None else stamp(self.unwatched_since)
            ),
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Trailer:
        checkpoints = doc.get("checkpoints") or {}
        counts = doc.get("counts") or {}
        if not isinstance(checkpoints, dict) or not isinstance(counts, dict):
            raise ValueError("checkpoints and counts must be maps")
        newest, unwatched = doc.get("newestChange"), doc.get("unwatchedSince")
        return cls(
            end=parse_stamp(doc.get("end")),
            records=int(doc.get("records") or 0),
            counts={str(k): int(v) for k, v in counts.items()},
            checkpoints={str(r): Checkpoint.from_json(c) for r, c in checkpoints.items()},
            gaps=tuple(Gap.from_json(g) for g in doc.get("gaps") or ()),
            newest_change=None if newest is None else parse_stamp(newest),
            unwatched_since=None if unwatched is None else parse_stamp(unwatched),
        )


@dataclass(frozen=True)
class Segment:
    name: SegmentName
    key: str
    records: Sequence[dict[str, Any]]
    """The change, resync and gap records, in order (header and trailer apart)."""
    trailer: Trailer


class SegmentBuilder:
    """A segment being written: each record is gzip'd as it is added, so memory holds the
    compressed segment, never a list of objects. Not thread-safe (the writer serializes)."""

    def __init__(self, schedule: str, name: SegmentName, *, cluster: str) -> None:
        self.name = name
        self._gzip = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        self._out: list[bytes] = []
        self.size = 0
        """Bytes of JSON added (before compression)."""
        self.records = 0
        self.counts: dict[str, int] = {}
        self._finished: bytes | None = None
        self._line(
            {
                "type": Record.HEADER.value,
                "format": FORMAT,
                "cluster": cluster,
                "schedule": schedule,
                "seq": name.seq,
                "start": stamp(name.start),
            }
        )

    def _line(self, record: Mapping[str, Any]) -> None:
        data = encode_json(record) + b"\n"  # TooDeep for an object JSON cannot hold here
        self.size += len(data)
        self._out.append(self._gzip.compress(data))

    def add(self, record: Mapping[str, Any]) -> None:
        """A change, resync or gap record: a map with ``type`` and ``t``."""
        self._line(record)
        self.records += 1
        kind = str(record["type"])
        self.counts[kind] = self.counts.get(kind, 0) + 1

    def finish(self, trailer: Trailer) -> bytes:
        """The gzip'd segment, ending with ``trailer``. Again the same bytes when called again
        (a put retried after a store error): the compressor is flushed only once."""
        if self._finished is None:
            self._line(trailer.to_json())
            self._out.append(self._gzip.flush())
            self._finished = b"".join(self._out)
            self._out = []
        return self._finished


@dataclass(frozen=True)
class Resume:
    """What a writer resumes from: the newest segment's trailer."""

    next_seq: int
    trailer: Trailer


class ChangeLog:
    """One cluster's change log of one schedule in a storage location (through its
    ``BackupStore``: the same objects, the same keys); ``cluster`` is the writing cluster's
    uid (``KubeClient.cluster_uid``; a restore reads the log of the cluster that wrote its
    base backup). Reads raise StoredFileError (EncryptionError when its key is missing or the
    file is not what the location's encryption says) or another StoreError."""

    def __init__(self, store: BackupStore, schedule: str, *, cluster: str) -> None:
        self.store = store
        self.schedule = schedule
        self.cluster = cluster
        self._keys = ChangeLogKeys(cluster, archive.backup_name(schedule))
        where = store.keyring.where if store.keyring is not None else "this storage location"
        self._opener = encryption.Opener(store.keyring, where=where)
        self._data_key: crypto.DataKey | None = None
        """This writer's data key (made at its first segment): one KMS call per writer."""

    @property
    def prefix(self) -> str:
        return self._keys.prefix

    @property
    def title(self) -> str:
        """What the log is, for messages: ``schedule S of cluster U``."""
        return f"schedule {self.schedule} of cluster {self.cluster}"

    @property
    def encrypts(self) -> bool:
        return self.store.keyring is not None and self.store.keyring.current is not None

    def segments(self) -> list[SegmentName]:
        """Every segment stored, oldest first (other files under the folder are ignored)."""
        found = []
        for info in self.store.objects.list(self._keys.prefix):
            name = SegmentName.parse(info.key.rsplit("/", 1)[-1])
            if name is not None:
                found.append(name)
        return sorted(found, key=lambda n: (n.start, n.seq))

    def put(self, builder: SegmentBuilder, trailer: Trailer) -> str:
        """Store a finished segment (its gaps first, each a small object of its own under
        ``gaps/``, so a reader finds every gap with one listing); returns its key.
        EncryptionError (KeyUnavailable) when the location encrypts and its current key
        cannot wrap: nothing is stored."""
        key = self._keys.segment(builder.name)
        for number, found in enumerate(trailer.gaps):
            self.store.objects.put(
                f"{self._keys.prefix}{_GAPS}{_gap_file(found, builder.name.seq, number)}",
                orjson.dumps({"resource": found.resource, "reason": found.reason}),
            )
        data = builder.finish(trailer)
        if self.encrypts:
            if self._data_key is None:
                assert self.store.keyring is not None
                try:
                    self._data_key = self.store.keyring.new_data_key()
                except crypto.KeyProblem as exc:
                    raise encryption.EncryptionError(
                        key, self._what(builder.name), encryption.KEY_UNAVAILABLE, str(exc)
                    ) from None
            self.store.objects.put(key, encryption.seal(data, self._data_key, key=key))
        else:
            self.store.objects.put(key, data)
        return key

    def builder(self, name: SegmentName) -> SegmentBuilder:
        """A new segment of this log."""
        return SegmentBuilder(self.schedule, name, cluster=self.cluster)

    def _what(self, name: SegmentName) -> str:
        return f"change log segment {name.seq} of {self.title}"

    def read(self, name: SegmentName) -> Segment:
        """The segment, checked: its header names this schedule and the segment's own number
        and start, every line is a JSON object with a type, and it ends with its trailer."""
        key = self._keys.segment(name)
        what = self._what(name)
        first = bytearray()

        def opening(chunk: bytes) -> None:
            if len(first) < len(crypto.MAGIC):
                first.extend(chunk[: len(crypto.MAGIC) - len(first)])

        data = reading.read(
            self.store.objects,
            key,
            what=what,
            limit=self.store.limits.changelog_segment,
            opening=b"{",
            on_stored=opening,
            decode=lambda src: self._opener.open(src, key=key, what=what, sealed=None),
        )
        if self.encrypts and not crypto.is_encrypted(bytes(first)):
            raise encryption.EncryptionError(
                key, what, encryption.UNDECRYPTABLE, "not encrypted, but the location encrypts"
            )
        return _parse(name, key, what, data, schedule=self.schedule, cluster=self.cluster)

    def gaps(self) -> list[Gap]:
        """Every gap the log recorded, oldest first (one listing; each gap's small file read
        with a limit)."""
        found = []
        for info in self.store.objects.list(f"{self._keys.prefix}{_GAPS}"):
            file = info.key.rsplit("/", 1)[-1]
            parts = file.removesuffix(".json").split("_")
            if len(parts) != 4 or not file.endswith(".json"):
                continue
            doc = reading.read_json(
                self.store.objects, info.key, what="change log gap", limit=_GAP_LIMIT
            )
            try:
                start, end = (
                    dt.datetime.strptime(p, _GAP_STAMP).replace(tzinfo=dt.UTC) for p in parts[:2]
                )
            except ValueError:
                continue
            if isinstance(doc, dict):
                found.append(Gap(str(doc.get("resource")), start, end, str(doc.get("reason"))))
        return sorted(found, key=lambda g: (g.start, g.end))

    def resume(self) -> Resume | None:
        """The newest segment's trailer and the next number; None for an empty log."""
        names = self.segments()
        if not names:
            return None
        newest = self.read(names[-1])
        return Resume(next_seq=max(n.seq for n in names) + 1, trailer=newest.trailer)

    def delete_before(self, when: dt.datetime) -> int:
        """Delete the segments that hold nothing at or after ``when`` (those that a later
        segment follows and that started before it), and the gaps that ended before it;
        returns how many segments. The retention of a schedule passes its oldest kept
        backup's start."""
        for found in self.store.objects.list(f"{self._keys.prefix}{_GAPS}"):
            end = found.key.rsplit("/", 1)[-1].split("_")
            if len(end) == 4 and end[1] < when.astimezone(dt.UTC).strftime(_GAP_STAMP):
                self.store.objects.delete(found.key)
        names = self.segments()
        gone = 0
        for name, following in itertools.pairwise(names):
            if following.start <= when:
                try:
                    self.store.objects.delete(self._keys.segment(name))
                except ObjectNotFound:
                    continue
                gone += 1
        return gone


def _parse(
    name: SegmentName, key: str, what: str, data: bytes, *, schedule: str, cluster: str
) -> Segment:
    def bad(cause: str) -> StoredFileError:
        return StoredFileError(key, what, cause)

    records: list[dict[str, Any]] = []
    header: dict[str, Any] | None = None
    trailer: Trailer | None = None
    for number, line in enumerate(_lines(data), start=1):
        if trailer is not None:
            raise bad(f"line {number}: a record after the trailer")
        record = _record(line, number, bad)
        kind = record["type"]
        if header is None:
            _check_header(record, name, (cluster, schedule), bad)
            header = record
        elif kind == Record.TRAILER:
            try:
                trailer = Trailer.from_json(record)
            except (ValueError, TypeError) as exc:
                raise bad(f"line {number}: not a trailer ({exc})") from None
        else:
            if kind not in _BODY or not isinstance(record.get("t"), str):
                raise bad(f"line {number}: an unknown record {kind!r:.40} or one without a time")
            records.append(record)
    if trailer is None:
        raise bad("no trailer (truncated)")
    if trailer.records != len(records):
        raise bad(f"{len(records)} records, its trailer says {trailer.records}")
    return Segment(name=name, key=key, records=records, trailer=trailer)


def _record(line: bytes, number: int, bad: Callable[[str], StoredFileError]) -> dict[str, Any]:
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise bad(f"line {number}: not JSON ({exc})") from None
    if not isinstance(record, dict) or not isinstance(record.get("type"), str):
        raise bad(f"line {number}: not a record (a JSON object with a type)")
    return record


def _check_header(
    record: dict[str, Any],
    name: SegmentName,
    log: tuple[str, str],
    bad: Callable[[str], StoredFileError],
) -> None:
    if record["type"] != Record.HEADER or record.get("format") != FORMAT:
        raise bad(f"not a change log segment of format {FORMAT} (no header)")
    expected = (*log, name.seq, stamp(name.start))
    found = (
        record.get("cluster"),
        record.get("schedule"),
        record.get("seq"),
        record.get("start"),
    )
    if found != expected:
        raise bad(f"its header names {found}, not {expected} (a segment moved here?)")


_BODY = frozenset(r.value for r in Record if r not in (Record.HEADER, Record.TRAILER))


def _lines(data: bytes) -> Iterator[bytes]:
    start = 0
    while start < len(data):
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        if end > start:
            yield data[start:end]
        start = end + 1
