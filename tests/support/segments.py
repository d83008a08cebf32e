"""Segmented archives in tests: small segments, so a small backup has many, and a check whose
own process is slower, so its worker processes (about 0.1 s to start) take part."""

from __future__ import annotations

import time
from typing import Any

import pytest

from ark.archive import checkpool, reader, writer

SMALL = 16 * 1024


def small_segments(monkeypatch: pytest.MonkeyPatch, size: int = SMALL) -> None:
    monkeypatch.setattr(writer, "SEGMENT_BYTES", size)


def slower_here(monkeypatch: pytest.MonkeyPatch, seconds: float = 0.02) -> None:
    """The check's own process takes ``seconds`` longer over each segment it checks."""
    check_segment = reader.check_segment

    def slower(*args: Any, **kwargs: Any) -> reader.CheckedSegment:
        time.sleep(seconds)
        return check_segment(*args, **kwargs)

    monkeypatch.setattr(checkpool, "check_segment", slower)
