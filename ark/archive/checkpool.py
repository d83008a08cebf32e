"""A check (verify) of an ark archive in several processes, one segment at a time each.

ark's writer ends a gzip member every few MiB of tar at an entry boundary, and the manifest
lists where (``segments``): each such segment is a gzip stream of whole entries that can be
checked alone against its own manifest rows. This process reads the archive once, in order;
each segment goes to a worker process that is free (:mod:`ark.archive.checkworker`), or is
checked here when none is, so this process stays busy too and the archive is never held whole
(a worker holds two segments' compressed bytes at most). The results are merged in the
archive's order and the first segment's error wins: the same counts, resource list and
checks as a check of the archive in one stream, duplicates found across segments.

An archive with segments is checked segment by segment even in one process, so whether its
offsets are the archive's is checked whatever the number of CPUs. One without (Velero's, ark's
before segments, one smaller than a segment) is checked as one stream, in this process. A
worker that cannot start or that dies is not the archive's fault: its segments are checked
here instead.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import io
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, cast

from ark._streams import read_up_to
from ark.archive import checkworker, reader
from ark.archive.errors import ArchiveError, CorruptArchive, HostileArchive
from ark.archive.manifest import ItemTable, Manifest, Segment
from ark.archive.reader import CheckedArchive, CheckedSegment, check_segment
from ark.archive.tarread import Limits

MAX_PROCESSES = 4
"""Processes checking one archive at most: this one and 3 workers (each 20-27 MiB)."""
DEFAULT_PROCESSES = 2
"""Processes by default (fewer on a machine of one usable CPU): with one worker, verify stays
within 150 MiB at 100,000 items; more are asked for (``processes``) where memory allows."""
WORKER_COMMAND = [sys.executable, "-P", "-c", "from ark.archive.checkworker import main; main()"]
"""How a worker starts: this Python (``-P``: not from the working directory), ark's own
module."""
_SEGMENTS_PER_WORKER = 8
"""A worker is started for every this many segments at most: one takes about as long to start
as this process takes to check 2 or 3, so an archive of a few segments is checked here alone
(without paying a worker's memory for nothing)."""
_IN_FLIGHT = 2
"""Segments given to a worker at once: the one it checks and the next."""
_MAX_SENT_BYTES = 64 * 1024 * 1024
"""A segment's compressed size above which it is checked here, streamed (never held)."""


def usable_cpus() -> int:
    """CPUs this process may run on: its affinity, and its cgroup's CPU quota if lower."""
    cpus = len(os.sched_getaffinity(0))
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            cpus = min(cpus, max(1, int(quota) // int(period)))
    except (OSError, ValueError):
        pass
    return cpus


def check(
    src: BinaryIO,
    *,
    manifest: Manifest | None = None,
    limits: Limits = Limits(),  # noqa: B008 (frozen, so sharing the default is safe)
    processes: int | None = None,
) -> CheckedArchive:
    """:func:`ark.archive.reader.check`, in up to ``processes`` processes (this one and its
    workers; default ``DEFAULT_PROCESSES``; never more than the usable CPUs or
    ``MAX_PROCESSES``) when the manifest lists segments, every segment where the manifest says
    it is. The result says how many workers took part and their peak memory."""
    segments = tuple(manifest.segments) if manifest is not None else ()
    if manifest is None or not segments:
        return reader.check(src, manifest=manifest, limits=limits)
    wanted = DEFAULT_PROCESSES if processes is None else processes
    count = min(wanted, usable_cpus(), MAX_PROCESSES) - 1
    count = min(count, len(segments) // _SEGMENTS_PER_WORKER)
    with _workers(count) as started:
        check = _Parallel(src, manifest, segments, limits, started)
        check.run()
    return check.merged()  # the workers have ended: their memory is free for the merge


@contextlib.contextmanager
def _workers(count: int) -> Iterator[list[_Worker]]:
    """Up to ``count`` workers started (fewer if the system refuses), closed on leaving."""
    started: list[_Worker] = []
    try:
        for _ in range(count):
            try:
                started.append(_Worker())
            except OSError:
                break
        yield list(started)
    finally:
        for worker in started:
            worker.close()


class _Worker:
    """One worker process, and the segments given to it (with their bytes, to check them here
    should the worker end), in the order it answers them. A thread of its own writes the
    segments to it, and another reads its answers as they come, so it always has the next
    segment while it checks one and never waits for this process to take an answer."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            WORKER_COMMAND,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
        )
        self.ready = False
        self.given: collections.deque[tuple[int, bytes]] = collections.deque()
        self.answers: queue.SimpleQueue[object] = queue.SimpleQueue()
        """Its answers, then None when it has ended."""
        self.peak_rss = 0
        self.used = False
        self._tasks: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._send_all, args=(self.process.stdin,), daemon=True),
            threading.Thread(target=self._receive_all, args=(self.process.stdout,), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def give(self, index: int, data: bytes, task: bytes) -> None:
        """Queue a segment (``task``: its frame) for the worker."""
        self.given.append((index, data))
        self.used = True
        self._tasks.put(task)

    def _send_all(self, pipe: BinaryIO) -> None:
        with contextlib.suppress(OSError), pipe:  # the worker ended: its answers end too
            while (task := self._tasks.get()) is not None:
                pipe.write(task)

    def _receive_all(self, pipe: BinaryIO) -> None:
        with contextlib.suppress(EOFError, OSError, pickle.UnpicklingError), pipe:
            while (answer := checkworker.read_frame(pipe)) is not None:
                self.answers.put(answer)
        self.answers.put(None)

    def close(self) -> None:
        self._tasks.put(None)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for thread in self._threads:
            thread.join(timeout=5)


class _Parallel:
    def __init__(
        self,
        src: BinaryIO,
        manifest: Manifest,
        segments: tuple[Segment, ...],
        limits: Limits,
        workers: list[_Worker],
    ) -> None:
        self._src = src
        self._manifest = manifest
        self._rows: ItemTable = manifest.compact_items
        self._segments = segments
        self._limits = limits
        self._workers = workers
        self._results: dict[int, CheckedSegment | ArchiveError] = {}

    def run(self) -> None:
        """Every segment checked, here or by a worker, up to the first that fails."""
        if self._segments[-1].tar_offset > self._limits.max_total_bytes:
            limit = self._limits.max_total_bytes
            raise HostileArchive(None, f"decompresses to more than {limit} bytes")
        for index in range(len(self._segments)):
            if any(isinstance(r, ArchiveError) for r in self._results.values()):
                break  # the segments before it are still collected: the first error wins
            self._collect(wait=False)
            worker = min(
                (w for w in self._workers if w.ready and len(w.given) < _IN_FLIGHT),
                key=lambda w: len(w.given),
                default=None,
            )
            size = self._compressed_size(index)
            if worker is None or size is None or size > _MAX_SENT_BYTES:
                bounded = cast("BinaryIO", _Bounded(self._src, size))
                self._results[index] = self._here(index, bounded)
                continue
            data = read_up_to(self._src, size)
            if len(data) < size:
                self._results[index] = CorruptArchive(
                    None, f"truncated: the archive ends inside its segment {index}"
                )
                break
            task = (data, *self._task(index))
            worker.give(index, data, checkworker.frame(task))
        while any(w.given for w in self._workers):
            self._collect(wait=True)

    def merged(self) -> CheckedArchive:
        """The whole archive's result from its segments' (after :meth:`run`)."""
        parts: list[CheckedSegment] = []
        for index in range(len(self._segments)):
            result = self._results[index]  # every segment before the first error is there
            if isinstance(result, ArchiveError):
                raise result
            parts.append(result)
        checked = reader.merged(parts, manifest=self._manifest, limits=self._limits)
        used = [w for w in self._workers if w.used]  # (a worker that ended is not listed)
        return dataclasses.replace(
            checked, workers=len(used), workers_peak_rss=sum(w.peak_rss for w in used)
        )

    def _compressed_size(self, index: int) -> int | None:
        """The segment's compressed bytes; None for the last (it runs to the archive's end)."""
        if index + 1 == len(self._segments):
            return None
        return self._segments[index + 1].archive_offset - self._segments[index].archive_offset

    def _task(self, index: int) -> tuple[ItemTable, tuple[int, int] | None, Limits]:
        """A segment's manifest rows, its tar offset and size, and its limits."""
        start = self._segments[index]
        last = index + 1 == len(self._segments)
        stop = len(self._rows) if last else self._segments[index + 1].first_item
        rows = self._rows.rows(start.first_item, stop)
        if last:
            budget = self._limits.max_total_bytes - start.tar_offset
            return rows, None, dataclasses.replace(self._limits, max_total_bytes=budget)
        size = self._segments[index + 1].tar_offset - start.tar_offset
        return rows, (start.tar_offset, size), self._limits

    def _here(self, index: int, src: BinaryIO) -> CheckedSegment | ArchiveError:
        rows, segment, limits = self._task(index)
        try:
            return check_segment(src, rows=rows, segment=segment, limits=limits)
        except ArchiveError as exc:
            return exc

    def _collect(self, *, wait: bool) -> None:
        """Take the workers' answers that are there; with ``wait``, wait for one from each
        worker checking a segment."""
        for worker in list(self._workers):
            while worker.given or not worker.ready:
                try:
                    answer = worker.answers.get(block=wait and bool(worker.given))
                except queue.Empty:
                    break
                if answer is None:
                    self._drop(worker)
                    break
                if answer == checkworker.READY:
                    worker.ready = True
                    continue
                result, peak_rss = cast("tuple[CheckedSegment | ArchiveError, int]", answer)
                index, _ = worker.given.popleft()
                self._results[index] = result
                worker.peak_rss = peak_rss
                if wait:
                    break

    def _drop(self, worker: _Worker) -> None:
        """A worker that ended (killed, out of memory) is not the archive's fault: the
        segments it had are checked here."""
        self._workers.remove(worker)
        worker.close()
        while worker.given:
            index, data = worker.given.popleft()
            self._results[index] = self._here(index, io.BytesIO(data))


class _Bounded:
    """At most ``size`` bytes of ``src`` (all of it for None)."""

    def __init__(self, src: BinaryIO, size: int | None) -> None:
        self._src = src
        self._left = size

    def read(self, size: int = -1) -> bytes:
        if self._left is None:
            return self._src.read(size)
        want = self._left if size < 0 else min(size, self._left)
        chunk = self._src.read(want) if want else b""
        self._left -= len(chunk)
        return chunk
