"""The part buffer behind every provider's streaming upload: parts of exactly part_size (the
last one shorter), one request for a small object, and memory that grows only with the data."""

from __future__ import annotations

import pytest

from ark.storage import streaming


class _Recorder:
    def __init__(self) -> None:
        self.whole: bytes | None = None
        self.parts: list[bytes] = []
        self.completed: int | None = None
        self.aborted = False

    def put_whole(self, data: memoryview, /) -> None:
        self.whole = bytes(data)

    def upload_part(self, number: int, part: memoryview, /) -> None:
        assert number == len(self.parts) + 1
        self.parts.append(bytes(part))

    def complete(self, parts: int, /) -> None:
        self.completed = parts

    def abort(self) -> None:
        self.aborted = True


PART = 200_000


@pytest.mark.parametrize(
    "writes",
    [
        [b"a" * 10],
        [b""],
        [bytes([i % 251]) * 1000 for i in range(450)],  # many small writes: 2 parts and a bit
        [b"x" * (3 * PART + 7)],  # one write bigger than several parts
        [b"y" * PART],  # exactly one part: still one request
        [b"z" * PART, b"z"],
    ],
)
def test_parts_hold_the_bytes_written_in_order(writes: list[bytes]) -> None:
    recorder = _Recorder()
    with streaming.part_writer(recorder, part_size=PART) as writer:
        for data in writes:
            writer.write(data)
    expected = b"".join(writes)
    if len(expected) <= PART:
        assert (recorder.whole, recorder.parts) == (expected, [])
    else:
        assert recorder.whole is None
        assert b"".join(recorder.parts) == expected
        assert {len(p) for p in recorder.parts[:-1]} == {PART}
        assert recorder.completed == len(recorder.parts)


def test_a_small_object_does_not_take_a_whole_part_of_memory() -> None:
    writer = streaming._PartWriter(_Recorder(), 16 * 1024 * 1024)
    writer.write(b"{}" * 100)
    assert len(writer._buffer) == 200
    writer.write(b"x" * 1_000_000)
    assert len(writer._buffer) == 1_000_200


def test_an_error_inside_aborts_the_upload() -> None:
    recorder = _Recorder()
    with pytest.raises(RuntimeError), streaming.part_writer(recorder, part_size=PART) as writer:
        writer.write(b"x" * (PART + 1))
        raise RuntimeError("the source failed")
    assert recorder.aborted and recorder.completed is None
