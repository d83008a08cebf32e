"""What a restore produces: its progress while it runs, and its result with an outcome per
item (what the Restore's status and results file say)."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from ark.api.restore import RestorePhase
from ark.report import Issues
from ark.restore.plan import RestorePlan


@dataclass
class RestoreProgress:
    total_items: int = 0
    items_restored: int = 0
    current_wave: int | None = None


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    resource: str
    namespace: str | None
    name: str
    target_namespace: str | None
    outcome: str
    message: str | None = None
    diff: tuple[str, ...] = ()
    modified_by: tuple[int, ...] = ()
    """The resource modifier rules (their indexes) that changed the object."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "resource": self.resource,
            "name": self.name,
            "outcome": self.outcome,
        }
        if self.namespace:
            out["namespace"] = self.namespace
        if self.target_namespace and self.target_namespace != self.namespace:
            out["targetNamespace"] = self.target_namespace
        elif self.namespace and self.target_namespace is None:
            out["targetNamespace"] = None  # written nowhere (skipped): not its own namespace
        if self.message:
            out["message"] = self.message
        if self.diff:
            out["diff"] = list(self.diff)
        if self.modified_by:
            out["modifiedBy"] = list(self.modified_by)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ItemOutcome:
        """The inverse of ``to_json``: a missing targetNamespace is the item's namespace, a
        missing namespace or message None, a missing diff or modifiedBy empty."""
        namespace = data.get("namespace")
        return cls(
            data["resource"],
            namespace,
            data["name"],
            data.get("targetNamespace", namespace),
            data["outcome"],
            data.get("message"),
            tuple(data.get("diff", ())),
            tuple(data.get("modifiedBy", ())),
        )


class Outcomes:
    """The outcomes of one restore, one JSON line each (``ItemOutcome.to_json``) in an unlinked
    temporary file, with their count per outcome: 100,000 ItemOutcome objects held in memory
    cost about 10 MB.

    Appends are not thread-safe (the engine makes them under its lock). Each iteration reads
    the file from its start, so it can be iterated again; read after the appends, not during.
    """

    _CHUNK = 1 << 16

    def __init__(
        self, outcomes: Iterable[ItemOutcome] = (), *, spool_dir: Path | None = None
    ) -> None:
        """``spool_dir``: where the file is made (None: the default temporary directory)."""
        self._spool_dir = spool_dir
        self._file: IO[bytes] | None = None  # made on the first append: most results are small
        self._closer: weakref.finalize[[], Outcomes] | None = None
        self._closed = False
        self._counts: Counter[str] = Counter()
        self._len = 0
        for outcome in outcomes:
            self.append(outcome)

    def append(self, outcome: ItemOutcome) -> None:
        if self._closed:
            raise ValueError("append to closed outcomes")
        if self._file is None:
            self._file = tempfile.TemporaryFile(dir=self._spool_dir)  # noqa: SIM115 - closed by close()
            # Closed when this object goes, if nobody closed it: no descriptor left open, and
            # no "unclosed file" warning.
            self._closer = weakref.finalize(self, self._file.close)
        self._file.write(orjson.dumps(outcome.to_json(), option=orjson.OPT_APPEND_NEWLINE))
        self._counts[outcome.outcome] += 1
        self._len += 1

    @property
    def counts(self) -> dict[str, int]:
        """How many items had each outcome (in the order first seen)."""
        return dict(self._counts)

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[ItemOutcome]:
        for data in self.json():
            yield ItemOutcome.from_json(data)

    def json(self) -> Iterator[dict[str, Any]]:
        """Each outcome's ``to_json``, as stored (no ItemOutcome made): for the results file."""
        for line in self._lines():
            yield orjson.loads(line)

    def _lines(self) -> Iterator[bytes]:
        if self._closed:
            raise ValueError("read of closed outcomes")
        file = self._file
        if file is None:
            return
        file.flush()
        end = file.tell()
        offset, rest = 0, b""
        while offset < end:
            if file.closed:
                raise ValueError("read of closed outcomes")
            # pread, not seek and read: iterations at once keep their own place, and the
            # appending end stays where it is.
            chunk = os.pread(file.fileno(), min(self._CHUNK, end - offset), offset)
            if not chunk:
                raise OSError(f"outcomes file ends at {offset} bytes, not {end}")
            offset += len(chunk)
            *lines, rest = (rest + chunk).split(b"\n")
            yield from lines

    def close(self) -> None:
        """Remove the file (the counts stay); reading or appending after it fails."""
        self._closed = True
        if self._closer is not None:
            self._closer()

    def __repr__(self) -> str:
        return f"Outcomes({self._len} items: {self.counts})"


@dataclass(frozen=True)
class VolumeOutcome:
    """Where a restored PersistentVolume's volume came from and went (``RestoredVolume``)."""

    persistent_volume: str
    source: str
    target: str
    volume_id: str
    zone: str | None
    snapshot_id: str
    how: str
    location: str | None = None
    """The VolumeSnapshotLocation the new volume is in (the restore's target location, else the
    one the snapshot is in): where a restore test's cleanup deletes it."""

    def status(self) -> dict[str, Any]:
        out = {
            "persistentVolume": self.persistent_volume,
            "source": self.source,
            "target": self.target,
            "volumeId": self.volume_id,
            "zone": self.zone,
            "snapshotId": self.snapshot_id,
            "how": self.how,
            "location": self.location,
        }
        return {k: v for k, v in out.items() if v is not None}

    def __str__(self) -> str:
        where = f" in {self.zone}" if self.zone else ""
        return (
            f"{self.persistent_volume}: {self.source} -> {self.target} volume "
            f"{self.volume_id}{where} ({self.how}, from {self.snapshot_id})"
        )


@dataclass
class RestoreResult:
    name: str
    backup_name: str
    phase: RestorePhase
    started: dt.datetime
    completed: dt.datetime
    progress: RestoreProgress
    issues: Issues
    failure_reason: str | None = None
    outcomes: Outcomes = field(default_factory=Outcomes)
    plan: RestorePlan | None = None
    volumes: list[VolumeOutcome] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return self.outcomes.counts

    @property
    def warnings(self) -> int:
        return len(self.issues.warnings)

    @property
    def errors(self) -> int:
        return len(self.issues.errors)


ProgressCallback = Callable[[RestoreProgress], None]
