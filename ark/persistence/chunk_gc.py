"""Garbage collection of exported volumes' chunks: the chunks no backup's index names.

Mark and sweep per storage location, safe against exports running meanwhile, from this
cluster or another one sharing the bucket:

- An export holds a lease (``plugins/ark/volumes/leases/export-<uuid>.json``) from before
  it looks for its first chunk until its index is stored, refreshed while it runs; a lease
  not refreshed for ``LEASE_SECONDS`` (a crashed export's) is stale and ignored.
- A sweep holds a lease of its own (``sweep-<uuid>.json``). It writes it, then looks for
  live export leases: with any, it stops, deleting nothing (the next one collects). An
  export writes its lease, then waits while a live sweep lease is there. Each writes before
  it looks, so of two that start together at least one sees the other: an export never
  finds a chunk that a sweep then deletes.
- Mark: every index of every backup in the location, whichever cluster wrote it. One that
  cannot be read (a key this keyring does not hold, a damaged file) stops the sweep, naming
  it: what it names is unknown, and deleting it could destroy another cluster's volumes.
- Sweep: each chunk no index names is deleted.

    collected = chunk_gc.collect(store)          # store: a BackupStore (its keyring reads
    collected.deleted, collected.skipped         # encrypted indexes)
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import orjson

from ark.persistence import keys, reading
from ark.persistence.chunks import ChunkNaming
from ark.persistence.errors import StoredFileError
from ark.persistence.limits import FileLimit
from ark.persistence.store import BackupStore
from ark.storage import ObjectNotFound, ObjectStore, StoreError

_log = logging.getLogger("ark.persistence")

LEASES = f"{keys.VOLUMES}leases/"
LEASE_SECONDS = 1800.0
"""How long a lease holds after its last refresh."""
REFRESH_SECONDS = 300.0
SWEEP_WAIT_SECONDS = 900.0
"""How long an export waits for a sweep to finish before it gives up."""
_LEASE_LIMIT = FileLimit(stored=4096)
_EXPORT, _SWEEP = "export", "sweep"

Clock = Callable[[], dt.datetime]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class SweepRunning(StoreError):
    """A chunk sweep held the location for longer than an export waits."""


class Lease:
    """One export's or sweep's lease on a location's chunks."""

    def __init__(self, objects: ObjectStore, kind: str, *, holder: str, clock: Clock) -> None:
        self._objects = objects
        self.kind = kind
        self.key = f"{LEASES}{kind}-{uuid.uuid4()}.json"
        self._holder = holder
        self._clock = clock
        self._written = 0.0

    def write(self) -> None:
        expires = self._clock() + dt.timedelta(seconds=LEASE_SECONDS)
        body = {"kind": self.kind, "holder": self._holder, "expires": expires.isoformat()}
        self._objects.put(self.key, orjson.dumps(body))
        self._written = time.monotonic()

    def refresh(self) -> None:
        """Write it again when it is due (cheap to call often)."""
        if time.monotonic() - self._written >= REFRESH_SECONDS:
            self.write()

    def release(self) -> None:
        self._objects.delete(self.key)


def live_leases(objects: ObjectStore, kind: str, *, clock: Clock = _now) -> list[str]:
    """What the location's live leases of ``kind`` say (holder and key). A lease that cannot
    be read counts as live: it is someone's, and which one's is unknown."""
    found = []
    now = clock()
    for info in objects.list(f"{LEASES}{kind}-"):
        what = f"{kind} lease {info.key}"
        try:
            body = reading.read_json(objects, info.key, what=what, limit=_LEASE_LIMIT)
            expires = dt.datetime.fromisoformat(str(body["expires"]))
            holder = str(body.get("holder") or "")
        except ObjectNotFound:
            continue  # released as it was listed
        except (StoredFileError, KeyError, TypeError, ValueError) as exc:
            found.append(f"{info.key} (unreadable: {exc})")
            continue
        if expires.tzinfo is not None and expires > now:
            found.append(f"{info.key} of {holder or 'an unnamed holder'}")
    return found


@contextmanager
def export_lease(
    objects: ObjectStore,
    *,
    holder: str,
    clock: Clock = _now,
    wait: float = SWEEP_WAIT_SECONDS,
    poll: float = 2.0,
) -> Iterator[Lease]:
    """Hold an export's lease while the block runs (``lease.refresh()`` as it goes); first
    wait while a sweep holds the location (SweepRunning after ``wait`` seconds)."""
    lease = Lease(objects, _EXPORT, holder=holder, clock=clock)
    lease.write()
    try:
        deadline = time.monotonic() + wait
        while sweeps := live_leases(objects, _SWEEP, clock=clock):
            if time.monotonic() > deadline:
                raise SweepRunning(
                    f"a chunk sweep holds the location ({sweeps[0]}); export again later"
                )
            time.sleep(poll)
        yield lease
    finally:
        try:
            lease.release()
        except StoreError as exc:  # it goes stale by itself
            _log.warning("cannot release export lease %s: %s", lease.key, exc)


@dataclass
class Collected:
    """What a sweep found and did."""

    indexes: int = 0
    """Indexes read (every exported volume of every backup in the location)."""
    referenced: int = 0
    """Distinct chunks they name."""
    chunks: int = 0
    """Chunks stored before the sweep."""
    deleted: int = 0
    deleted_bytes: int = 0
    skipped: str | None = None
    """Why nothing was deleted (an export running, an index that cannot be read)."""


def collect(store: BackupStore, *, holder: str = "", clock: Clock = _now) -> Collected:
    """Delete the chunks of ``store`` that no index names, unless an export is running or
    an index cannot be read (``skipped`` says which)."""
    objects = store.objects
    out = Collected()
    lease = Lease(objects, _SWEEP, holder=holder, clock=clock)
    lease.write()
    try:
        if exports := live_leases(objects, _EXPORT, clock=clock):
            out.skipped = f"an export is running ({exports[0]}): nothing deleted"
            return out
        referenced = _mark(store, out)
        if out.skipped is None:
            _sweep(objects, referenced, out)
        return out
    finally:
        lease.release()


def _mark(store: BackupStore, out: Collected) -> set[str]:
    """The keys of every chunk an index of the location names (``out.skipped`` when one
    cannot be read)."""
    referenced: set[str] = set()
    for name, volumes in sorted(store.every_exported_volume().items()):
        for volume in volumes:
            try:
                index = store.volume_index(name, volume)
            except (StoreError, ValueError) as exc:
                out.skipped = (
                    f"cannot read the index of volume {volume} of backup {name}, so not what "
                    f"it names: nothing deleted ({exc})"
                )
                return referenced
            namespace = ChunkNaming(index.naming, index.naming_key).namespace
            referenced.update(keys.chunk_key(namespace, b.chunk) for b in index.blocks)
            out.indexes += 1
    out.referenced = len(referenced)
    return referenced


def _sweep(objects: ObjectStore, referenced: set[str], out: Collected) -> None:
    for info in list(objects.list(keys.CHUNKS)):
        out.chunks += 1
        if info.key in referenced:
            continue
        objects.delete(info.key)
        out.deleted += 1
        out.deleted_bytes += info.size
