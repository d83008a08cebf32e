"""Reading a stream whose reads may return fewer bytes than asked (a socket, a pipe, a
decrypting or HTTP body) until there are as many as needed."""

from __future__ import annotations

from typing import Protocol


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def read_up_to(src: Readable, size: int) -> bytes:
    """``size`` bytes of ``src``; fewer only where it ends."""
    pieces: list[bytes] = []
    have = 0
    while have < size and (piece := src.read(size - have)):
        pieces.append(piece)
        have += len(piece)
    return b"".join(pieces)
