from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def spool_dir(tmp_path: Path) -> Path:
    path = tmp_path / "spool"
    path.mkdir()
    return path
