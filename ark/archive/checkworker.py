"""A worker process of a parallel check (:func:`main`, started by ``checkpool``): checks the
segments :mod:`ark.archive.checkpool` sends it, one at a time, until its stdin closes.

Frames both ways are an 8-byte little-endian length and a pickle (parent and worker are the
same program; nothing else writes to these pipes). The worker says it is ready once its imports
are done; then, for each task (the segment's compressed bytes, its manifest rows, its tar offset
and size, the limits), it answers with the :class:`CheckedSegment`, or the ArchiveError that
refused the segment, and its peak RSS so far.
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import signal
import struct
import sys
from pathlib import Path
from typing import IO, Any

from ark._streams import read_up_to
from ark.archive.errors import ArchiveError
from ark.archive.reader import check_segment

FRAME = struct.Struct("<Q")
READY = "ready"


def read_frame(pipe: IO[bytes]) -> Any:
    """The next frame's object; None when the pipe closed before a frame."""
    head = read_up_to(pipe, FRAME.size)
    if not head:
        return None
    if len(head) < FRAME.size:
        raise EOFError(f"a frame's length ended after {len(head)} bytes")
    (size,) = FRAME.unpack(head)
    body = read_up_to(pipe, size)
    if len(body) < size:
        raise EOFError(f"a frame of {size} bytes ended after {len(body)}")
    return pickle.loads(body)  # noqa: S301 - from the same program, over a private pipe


def frame(value: object) -> bytes:
    body = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return FRAME.pack(len(body)) + body


def write_frame(pipe: IO[bytes], value: object) -> None:
    pipe.write(frame(value))
    pipe.flush()


def peak_rss() -> int:
    """This process's peak resident set size in bytes (0 where /proc has none)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def serve(tasks: IO[bytes], answers: IO[bytes]) -> None:
    write_frame(answers, READY)
    while (task := read_frame(tasks)) is not None:
        data, rows, segment, limits = task
        try:
            answer: object = check_segment(
                io.BytesIO(data), rows=rows, segment=segment, limits=limits
            )
        except ArchiveError as exc:
            answer = exc
        del data, task
        write_frame(answers, (answer, peak_rss()))


def main() -> None:
    # Ctrl-C reaches the whole process group: the check's own process ends the check (and so
    # this worker's input), where a traceback here would only add noise.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a stray print must not break a frame
    with contextlib.suppress(BrokenPipeError):  # the check ended without this answer
        serve(sys.stdin.buffer, answers)
